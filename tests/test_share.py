"""Sharing between two users (two session dirs, two keys): remotes on a folder and on a real
S3-compatible server (moto's server mode on 127.0.0.1, through s3fs), bundles, signatures
and trust, secrets left out, pickle-free arrays."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT


class User:
    """One person: their own session dir and config dir (so their own key and trust list)."""

    def __init__(self, base: Path, name: str) -> None:
        self.name = name
        self.home = base / name / "sessions"
        self.config = base / name / "config"
        self.config.mkdir(parents=True)
        (self.config / "config.toml").write_text(f'[share]\nowner = "{name}"\n')

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            SESSIONS_HOME=str(self.home),
            SESSIONS_CONFIG_DIR=str(self.config),
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")])),
        )
        env.update(extra or {})
        return env

    def python(self, code: str) -> dict:
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=180,
            cwd=self.home.parent,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sessions.tui.cli", *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=180,
            cwd=ROOT,
        )

    def key(self) -> str:
        return self.cli("key").stdout.splitlines()[0]

    def snapshot_files(self) -> list[Path]:
        return sorted((self.home / "snapshots").rglob("*.msgpack"))

    def blob_files(self) -> list[Path]:
        return sorted(p for p in (self.home / "blobs").rglob("*") if p.is_file())


SESSION = """
import json, numpy as np, pandas as pd, sessions

class Model:
    def __init__(self, w):
        self.w = w
    def predict(self, x):
        return x @ self.w

def scale(values, by=2.0):
    return values * by

weights = np.random.default_rng(1).standard_normal(600_000)   # 4.8 MB, float noise
grid = np.arange(12, dtype=np.int32).reshape(3, 4)
frame = pd.DataFrame({"city": ["Oslo", "Lima", "Pune"] * 100, "n": range(300)})
model = Model(np.ones(3))
api_token = "s3cr3t-value"
db = {"host": "db.internal", "password": "hunter2"}
"""

VALUES = """
out = {}
have = globals()
if "weights" in have:
    out["weights"] = float(weights.sum())
if "grid" in have:
    out["grid"] = grid.tolist()
if "frame" in have:
    out["frame"] = [len(frame), frame["city"].iloc[4], int(frame["n"].sum())]
if "model" in have:
    out["model"] = model.predict(np.array([1.0, 2.0, 3.0])).item()
    out["model_class"] = type(model).__name__ + ":" + str(isinstance(model, Model))
if "scale" in have:
    out["scale"] = scale(np.array([2.0]))[0].item()
"""


def check(ref: str, names: list[str] | None = None) -> str:
    """Code that loads ``ref`` in a fresh process and prints what came back."""
    return (
        "import json, numpy as np, sessions\n"
        f"report = sessions.load({ref!r}, names={names!r})\n"
        + VALUES
        + "out.update(loaded=sorted(report.loaded), failed=report.failed)\n"
        "print(json.dumps(out))\n"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    """moto in server mode: a real S3-compatible HTTP server on 127.0.0.1."""
    port = _free_port()
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("moto server did not start")
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def users(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[User, User]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    return User(tmp_path, "alice"), User(tmp_path, "bob")


def _add_remote(users: tuple[User, User], kind: str, tmp_path: Path, s3_url: str | None) -> str:
    if kind == "folder":
        args = ["remote", "add", "team", str(tmp_path / "shared-drive")]
    else:
        import s3fs

        bucket = f"team-{os.getpid()}-{time.monotonic_ns()}"
        s3fs.S3FileSystem(endpoint_url=s3_url, key="testing", secret="testing").mkdir(bucket)
        args = ["remote", "add", "team", f"s3://{bucket}/sessions", "--option"]
        args.append(f"endpoint_url={s3_url}")
    for user in users:
        done = user.cli(*args)
        assert done.returncode == 0, done.stderr
    return "team"


@pytest.mark.parametrize("kind", ["folder", "s3"])
def test_push_pull_versions_trust_and_secrets(
    kind: str, users: tuple[User, User], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    alice, bob = users
    s3_url = request.getfixturevalue("s3_server") if kind == "s3" else None
    _add_remote(users, kind, tmp_path, s3_url)

    alice.python(SESSION + "print(json.dumps(str(sessions.save('churn'))))")
    assert (alice.config / "identity.key").stat().st_mode & 0o777 == 0o600  # made on first use
    pushed = alice.cli("push", "churn", "team")
    assert pushed.returncode == 0, pushed.stderr
    assert "pushed alice/churn@1 to team" in pushed.stdout
    assert "api_token" in pushed.stdout and "db" in pushed.stdout  # left out, and said so
    assert "sessions-tui pull alice/churn@1 team" in pushed.stdout
    again = alice.cli("push", "churn", "team")
    assert "already on team as alice/churn@1" in again.stdout

    # Bob does not know Alice's key yet: refused, nothing added
    refused = bob.cli("pull", "alice/churn", "team")
    assert refused.returncode == 1
    assert (
        "refusing to pull alice/churn@1" in refused.stderr and "trust add alice" in refused.stderr
    )
    assert "Traceback" not in refused.stderr and bob.snapshot_files() == []

    assert bob.cli("trust", "add", "alice", alice.key()).returncode == 0
    pulled = bob.cli("pull", "churn", "team")
    assert pulled.returncode == 0, pulled.stderr
    assert "pulled alice/churn@1" in pulled.stdout and "signed by alice (trusted)" in pulled.stdout

    got = bob.python(check("alice/churn@1"))
    want = alice.python(SESSION + VALUES + "print(json.dumps(out))")
    for key in ("weights", "grid", "frame", "model", "model_class", "scale"):
        assert got[key] == want[key], key
    assert "api_token" not in got["loaded"] and "db" not in got["loaded"]
    shown = json.loads(bob.cli("show", "alice/churn@1", "--json").stdout)
    assert "looks like a credential" in shown["manifest"]["skipped"]["api_token"]

    # a second version with one array changed uploads about that array only
    alice.python(SESSION + "weights = weights * 3\nprint(json.dumps(str(sessions.save('churn'))))")
    second = alice.python(
        "import json, sessions\nr = sessions.push('churn', 'team')\n"
        "print(json.dumps([r.ref, r.uploaded, r.blobs_sent, r.blobs_present]))"
    )
    assert second[0] == "alice/churn@2"
    assert second[1] < 4_800_000 * 1.2 and second[2] <= 2 and second[3] >= 3
    old = bob.python(
        "import json, sessions\n"
        "r = sessions.pull('churn', 'team', owner='alice', version=1)\n"
        "new = sessions.pull('alice/churn', 'team')\n"
        "print(json.dumps([str(r), new.ref]))"
    )
    assert "already here" in old[0] and old[1] == "alice/churn@2"
    assert bob.python(check("alice/churn@2", ["weights"]))["weights"] == (
        pytest.approx(want["weights"] * 3)
    )
    listed = json.loads(bob.cli("ls", "--remote", "team", "--json").stdout)
    assert [s["ref"] for s in listed["snapshots"]] == ["alice/churn@1", "alice/churn@2"]

    # numeric arrays come without unpickling, from any sender (Carol trusts nobody)
    carol = User(tmp_path, "carol")
    carol.cli("remote", "add", "team", *alice_remote_args(alice))
    arrays = carol.python(
        "import json, sessions\n"
        "d = sessions.pull('alice/churn@1', 'team', data_only=True)\n"
        "print(json.dumps({k: ['frame', list(v.shape), float(v['n'].sum())] if hasattr(v, 'columns')"
        " else [str(v.dtype), list(v.shape), float(v.sum())] for k, v in d.items()}))"
    )
    assert arrays["grid"] == ["int32", [3, 4], 66.0]
    assert arrays["frame"] == ["frame", [300, 2], 44850.0]  # a DataFrame, through Arrow
    assert arrays["weights"][0] == "float64" and arrays["weights"][2] == pytest.approx(
        want["weights"]
    )
    assert "model" not in arrays and carol.snapshot_files() == []


def alice_remote_args(alice: User) -> list[str]:
    """The remote Alice configured, as `remote add team` arguments."""
    text = (alice.config / "remotes.toml").read_text()
    url = text.split('url = "', 1)[1].split('"', 1)[0]
    args = [url]
    if "endpoint_url" in text:
        args += ["--option", "endpoint_url=" + text.split('endpoint_url = "', 1)[1].split('"')[0]]
    return args


def _pushed(users: tuple[User, User], tmp_path: Path, name: str = "churn") -> Path:
    """Alice saved SESSION as ``name`` and pushed it to a folder remote; that folder."""
    alice, _ = users
    _add_remote(users, "folder", tmp_path, None)
    alice.python(SESSION + f"print(json.dumps(str(sessions.save({name!r}))))")
    assert alice.cli("push", name).returncode == 0
    return tmp_path / "shared-drive"


def test_a_flipped_byte_on_the_remote_is_refused_and_nothing_is_added(
    users: tuple[User, User], tmp_path: Path
) -> None:
    alice, bob = users
    drive = _pushed(users, tmp_path)
    bob.cli("trust", "add", "alice", alice.key())
    manifest = next((drive / "manifests").rglob("*.msgpack"))
    blobs = sorted(
        (p for p in (drive / "blobs").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size
    )

    def flip(path: Path, offset: int) -> bytes:
        data = path.read_bytes()
        changed = bytearray(data)
        changed[offset] ^= 0x01
        path.write_bytes(bytes(changed))
        return data

    # a byte inside the note of the manifest (still valid msgpack): the signature catches it
    original = manifest.read_bytes()
    at = original.index(b"alice")
    flip(manifest, at)
    done = bob.cli("pull", "alice/churn")
    assert done.returncode == 1 and "does not match" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    manifest.write_bytes(original)

    largest = blobs[-1]
    kept = flip(largest, len(largest.read_bytes()) // 2)
    done = bob.cli("pull", "alice/churn")
    assert done.returncode == 1 and "corrupt" in done.stderr, done.stderr
    assert bob.snapshot_files() == [] and bob.blob_files() == []
    assert not list(bob.home.glob(".incoming-*")), "the staging dir is cleaned up"
    largest.write_bytes(kept)

    assert bob.cli("pull", "alice/churn").returncode == 0  # intact again: accepted


def test_an_interrupted_push_is_invisible_and_resumes(
    users: tuple[User, User], tmp_path: Path
) -> None:
    alice, _ = users
    drive = _pushed(users, tmp_path)
    # what a push cut off after its first uploads leaves: some blobs, a temp file, no manifest
    next((drive / "manifests").rglob("*.msgpack")).unlink()
    blobs = [p for p in (drive / "blobs").rglob("*") if p.is_file()]
    blobs[0].unlink()
    (blobs[1].parent / f".{blobs[1].name}.99.tmp").write_bytes(b"half a blob")
    assert "nothing on team yet" in alice.cli("ls", "--remote", "team").stdout

    resumed = alice.python(
        "import json, sessions\nr = sessions.push('churn')\n"
        "print(json.dumps([r.ref, r.blobs_sent, r.blobs_present]))"
    )
    assert resumed == ["alice/churn@1", 1, len(blobs) - 1]


def test_bundles_round_trip_and_hostile_bundles_add_nothing(
    users: tuple[User, User], tmp_path: Path
) -> None:
    import io
    import tarfile

    import msgpack
    import zstandard

    alice, bob = users
    alice.python(SESSION + "print(json.dumps(str(sessions.save('churn'))))")
    bundle = tmp_path / "churn.sessions"
    done = alice.cli("export", "churn", "-o", str(bundle))
    assert done.returncode == 0 and "left out 2" in done.stdout, done.stdout + done.stderr

    refused = bob.cli("import", str(bundle))
    assert refused.returncode == 1 and "refusing to import alice/churn@1" in refused.stderr
    once = bob.cli("import", str(bundle), "--trust-once")
    assert once.returncode == 0 and "imported alice/churn@1" in once.stdout, once.stderr
    not_yet = bob.python(
        "import json, sessions\ntry:\n    sessions.load('alice/churn')\n"
        "except sessions.SessionsError as e:\n    print(json.dumps(str(e)))"
    )
    assert "refusing to load alice/churn@1" in not_yet and "unknown" not in not_yet
    bob.cli("trust", "add", "alice", alice.key())
    got = bob.python(check("alice/churn", ["model", "frame"]))
    assert got["failed"] == {} and got["model"] == 6.0

    # hostile bundles: each refused with one line, nothing added to Carol's store
    carol = User(tmp_path, "carol")
    carol.cli("trust", "add", "alice", alice.key())
    with tarfile.open(bundle) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]  # type: ignore[union-attr]
    header = members[0][1]
    blob_members = members[1:]

    def write(path: Path, entries: list[tuple[str, bytes]]) -> Path:
        with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
            for name, data in entries:
                info = tarfile.TarInfo(name)
                if data.startswith(b"->"):  # a link member pointing out of the store
                    info.type = tarfile.SYMTYPE if data[2:3] == b"s" else tarfile.LNKTYPE
                    info.linkname = "/etc/passwd"
                else:
                    info.size = len(data)
                tar.addfile(info, io.BytesIO(data) if not data.startswith(b"->") else None)
        return path

    name0, data0 = blob_members[0][0].name, blob_members[0][1]
    bomb_payload = zstandard.ZstdCompressor().compress(b"\0" * (200 * 1024 * 1024))
    bomb = data0[:4] + bytes([1, 0, 0, 0]) + data0[8:16] + bomb_payload  # claims its real size
    flipped = bytearray(data0)
    flipped[-1] ^= 1
    others = [(m.name, d) for m, d in blob_members[1:]]
    cases = {
        "escape": [("sessions-bundle.msgpack", header), ("../../evil.py", b"x"), *others],
        "absolute": [("sessions-bundle.msgpack", header), ("/tmp/evil.py", b"x")],
        "bomb": [("sessions-bundle.msgpack", header), (name0, bomb), *others],
        "hash": [("sessions-bundle.msgpack", header), (name0, bytes(flipped)), *others],
        "missing": [("sessions-bundle.msgpack", header), *others],
        "not-ours": [(name0, data0)],
        "symlink": [("sessions-bundle.msgpack", header), (name0, b"->s"), *others],
        "hardlink": [("sessions-bundle.msgpack", header), (name0, b"->h"), *others],
        "manifest": [
            (
                "sessions-bundle.msgpack",
                msgpack.packb({**msgpack.unpackb(header), "manifest": b"\x81\xa1x\x01"}),
            )
        ],
    }
    expect = {
        "escape": "unexpected member '../../evil.py'",
        "absolute": "unexpected member '/tmp/evil.py'",
        "bomb": "wrong decompressed size",
        "hash": "does not match its hash",
        "missing": "missing",
        "not-ours": "not a sessions bundle",
        "symlink": f"unexpected member '{name0}'",
        "hardlink": f"unexpected member '{name0}'",
        "manifest": "not a sessions manifest",
    }
    before = {p for p in tmp_path.rglob("*") if not p.is_relative_to(carol.home.parent)}
    for case, entries in cases.items():
        path = write(tmp_path / f"{case}.sessions", entries)
        done = carol.cli("import", str(path))
        assert done.returncode == 1, (case, done.stdout)
        assert expect[case] in done.stderr, (case, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
        assert carol.snapshot_files() == [] and carol.blob_files() == [], case
        assert not list(carol.home.glob(".incoming-*")), case
    assert not (tmp_path / "evil.py").exists() and not Path("/tmp/evil.py").exists()
    after = {p for p in tmp_path.rglob("*") if not p.is_relative_to(carol.home.parent)}
    assert {p.name for p in after - before} == {f"{case}.sessions" for case in cases}
    (tmp_path / "junk.sessions").write_bytes(os.urandom(4096))
    junk = carol.cli("import", str(tmp_path / "junk.sessions"))
    assert junk.returncode == 1 and "not a sessions bundle" in junk.stderr, junk.stderr


SECRETS = {
    "aws_key_id": "AKIAIOSFODNN7EXAMPLE",
    "deploy_key": (
        "-----BEGIN OPENSSH PRIVATE KEY-----\n"
        "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
        "-----END OPENSSH PRIVATE KEY-----\n"
    ),
    "password": "correct-horse-battery-staple-42",
}


def test_secrets_are_in_no_byte_of_a_bundle_or_a_remote(
    users: tuple[User, User], tmp_path: Path
) -> None:
    from sessions.core.store.blobs import decode_framed

    alice, _ = users
    _add_remote(users, "folder", tmp_path, None)
    assignments = "".join(f"{name} = {value!r}\n" for name, value in SECRETS.items())
    alice.python(
        "import json, numpy as np, sessions\n" + assignments
        + "settings = {'region': 'eu-north-1', 'timeout': 30}\nnumbers = np.arange(10)\n"
        "print(json.dumps(str(sessions.save('deploy'))))"
    )  # fmt: skip
    exported = alice.cli("export", "deploy", "-o", str(tmp_path / "deploy.sessions"))
    pushed = alice.cli("push", "deploy")
    for done in (exported, pushed):
        assert done.returncode == 0, done.stderr
        assert all(name in done.stdout for name in SECRETS), done.stdout  # listed as left out

    needles = [v.encode() for v in SECRETS.values()]
    needles += [b"AKIAIOSFODNN7", b"BEGIN OPENSSH PRIVATE KEY", b"b3BlbnNzaC1rZXktdjEAAAA"]
    needles += [b"correct-horse-battery"]
    files = [tmp_path / "deploy.sessions", *(tmp_path / "shared-drive").rglob("*")]
    contents = []
    for path in files:
        if path.is_file():
            contents.append(path.read_bytes())
    import tarfile

    with tarfile.open(tmp_path / "deploy.sessions") as tar:
        for member in tar.getmembers():
            data = tar.extractfile(member).read()  # type: ignore[union-attr]
            if member.name.startswith("blobs/"):
                contents.append(decode_framed(member.name[6:], data, max_size=1 << 30))
    for path in (tmp_path / "shared-drive" / "blobs").rglob("*"):
        if path.is_file():
            digest = path.parent.name + path.name
            contents.append(decode_framed(digest, path.read_bytes(), max_size=1 << 30))
    assert len(contents) > 6
    for blob in contents:
        for needle in needles:
            assert needle not in blob, needle
    assert b"eu-north-1" in b"".join(contents)  # the ordinary variables did travel


def test_data_only_pull_with_unpickling_disabled(users: tuple[User, User], tmp_path: Path) -> None:
    _, bob = users
    _pushed(users, tmp_path)
    got = bob.python(  # Bob trusts nobody, and this process cannot unpickle at all
        """
        import json, pickle, sys, _pickle
        import sessions

        def refuse(*args, **kwargs):
            raise RuntimeError("unpickling is disabled in this test")

        class NoUnpickler(pickle.Unpickler):
            load = refuse

        pickle.load = pickle.loads = _pickle.load = _pickle.loads = refuse
        pickle.Unpickler = _pickle.Unpickler = NoUnpickler

        def audit(event, args):  # any unpickler that looks up a class, C or Python, stops here
            if event == "pickle.find_class":
                refuse()

        sys.addaudithook(audit)

        data = sessions.pull("alice/churn", data_only=True)
        out = {name: [type(value).__name__, list(value.shape)] for name, value in data.items()}
        out["frame_city"] = data["frame"]["city"].tolist()[:4]
        out["weights_sum"] = float(data["weights"].sum())
        print(json.dumps(out))
        """
    )
    assert got["grid"] == ["ndarray", [3, 4]] and got["weights"] == ["ndarray", [600000]]
    assert got["frame"] == ["DataFrame", [300, 2]]
    assert got["frame_city"] == ["Oslo", "Lima", "Pune", "Oslo"]
    assert "model" not in got and bob.snapshot_files() == []


def test_small_arrays_stored_joined_come_back_through_data_only_pulls(
    users: tuple[User, User], tmp_path: Path
) -> None:
    """Small arrays saved in batches, and a dict of small arrays, are stored as slices of
    joined blobs; a data-only pull still reads each small array alone, as .npy data."""
    alice, bob = users
    _add_remote(users, "folder", tmp_path, None)
    alice.python(
        "import json, numpy as np, sessions\n"
        "for i in range(300):\n"
        "    globals()[f't{i}'] = np.full(4, i, dtype=np.float32)\n"
        "table = {f'k{i}': np.arange(i + 1, dtype=np.int64) for i in range(50)}\n"
        "grid = np.arange(12, dtype=np.int32).reshape(3, 4)\n"
        "print(json.dumps(str(sessions.save('tiny'))))"
    )
    assert alice.cli("push", "tiny").returncode == 0
    files = [p for p in (alice.home / "blobs").rglob("*") if p.is_file()]
    assert len(files) <= 4, files  # one pack and its index: not a file per array
    got = bob.python(
        """
        import json, sessions
        data = sessions.pull("alice/tiny", "team", data_only=True)
        print(json.dumps({k: [str(v.dtype), v.tolist()] for k, v in data.items()
                          if k in ("t0", "t7", "t299", "grid")} | {"n": len(data)}))
        """
    )
    assert got["t7"] == ["float32", [7.0] * 4] and got["t299"] == ["float32", [299.0] * 4]
    assert got["grid"] == ["int32", [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]]
    assert got["n"] == 301  # every small array, but not the dict (only unpickling restores it)
