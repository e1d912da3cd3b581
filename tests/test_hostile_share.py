"""Shared snapshots are hostile input: what a teammate's remote or bundle holds runs nothing,
writes nowhere but its place, crashes nothing, and loses no data when it races gc."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, run_python

RACE = """
import json, os, random, shutil, threading
from pathlib import Path
import numpy as np
import sessions
from sessions.core.sharing.bundle import import_bundle
from sessions.core.store.gc import gc
from sessions.core.store.session_dir import Store

home = Path(os.environ["SESSIONS_HOME"])
values = np.random.default_rng(7).standard_normal(50_000)
sessions.save("data", namespace={"values": values})
bundle = home.parent / "data.sessions"
sessions.export("data", bundle)
store = Store(home)
store.remove(store.resolve("data"))  # its blobs are now unreferenced: gc's to take
kept = {p.relative_to(home): p.read_bytes() for p in (home / "blobs").rglob("*") if p.is_file()}

broken = 0
for trial in range(TRIALS):
    shutil.rmtree(home / "snapshots")  # back to: no snapshot, the blobs unreferenced
    for path, data in kept.items():
        (home / path).parent.mkdir(exist_ok=True)
        (home / path).write_bytes(data)
    junk = store.blobs.root / "00"
    junk.mkdir(exist_ok=True)
    for i in range(400):  # gc is busy removing these while holding its lock
        (junk / f"{i:062x}").write_bytes(b"x")
    start = threading.Barrier(2)
    errors = []

    def run_gc():
        start.wait()
        gc(store)

    def run_import():
        start.wait()
        threading.Event().wait(random.uniform(0, 0.03))  # vary where the import meets gc
        try:
            import_bundle(store, bundle)
        except sessions.SessionsError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=run_gc), threading.Thread(target=run_import)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for entry in Store(home).entries(foreign=False):
        if any(not store.blobs.has(d) for d in entry.manifest.blob_hashes()):
            broken += 1
print(json.dumps({"broken": broken, "errors": errors}))
"""


def test_import_racing_gc_never_commits_a_snapshot_with_a_missing_blob(home: Path) -> None:
    done = run_python(home, RACE.replace("TRIALS", "20"), timeout=300)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["broken"] == 0, result


# --- a hostile teammate on a shared folder remote -------------------------------------------
EVIL_SESSION = """
import json, os, numpy as np, pandas as pd, sessions

class Payload:  # unpickling this runs a program of the sender's
    def __reduce__(self):
        return (os.system, ("touch CANARY",))

grid = np.arange(12, dtype=np.int32).reshape(3, 4)
weights = np.linspace(0.0, 1.0, 1000)
frame = pd.DataFrame({"city": ["Oslo", "Lima"] * 5, "n": range(10)})
payload = Payload()
print(json.dumps(str(sessions.save("work"))))
"""

FORGE = """
import json, os, sys
from dataclasses import replace
from pathlib import Path
from sessions.core.sharing import signing
from sessions.core.store import ids
from sessions.core.store.manifest import Manifest

drive, escape_abs, evil = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
first = drive / "manifests/mallory/work/000001.msgpack"
base = Manifest.decode(first.read_bytes())

def publish(manifest, owner, name, version):
    manifest = replace(manifest, id=ids.new_id(), owner=owner, name=name, version=version,
                       signature=None)
    path = drive / "manifests" / owner / name / f"{version:06d}.msgpack"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(signing.sign(manifest).encode())  # the attacker's own, valid signature

# 2: names an "interpreter" of the sender's (a script on the shared drive)
publish(replace(base, python={**base.python, "executable": evil}), "mallory", "work", 2)
# 3: variable names that are paths out of the output dir
rename = {"grid": "../../escape", "weights": escape_abs}
variables = tuple(replace(v, name=rename.get(v.name, v.name)) for v in base.variables)
groups = tuple(replace(g, names=tuple(rename.get(n, n) for n in g.names)) for g in base.groups)
publish(replace(base, variables=variables, groups=groups), "mallory", "work", 3)
# alice/report: published under a name Bob trusts, signed by Mallory's key
publish(base, "alice", "report", 1)
print(json.dumps("forged"))
"""


def _tree(root: Path, skip: list[Path]) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` (but those under ``skip``): a file's size and mtime."""
    found = {}
    for path in root.rglob("*"):
        if any(path == s or path.is_relative_to(s) for s in skip):
            continue
        info = path.lstat()
        is_dir = path.is_dir() and not path.is_symlink()
        found[str(path.relative_to(root))] = (0, 0) if is_dir else (info.st_size, info.st_mtime_ns)
    return found


def test_a_hostile_remote_runs_nothing_writes_nothing_outside_and_crashes_nothing(
    tmp_path: Path,
) -> None:
    from test_share import User

    alice, mallory, bob, carol = (User(tmp_path, n) for n in ("alice", "mallory", "bob", "carol"))
    drive = tmp_path / "shared-drive"
    for user in (alice, mallory, bob, carol):
        assert user.cli("remote", "add", "team", str(drive)).returncode == 0
    canary = tmp_path / "CANARY"
    mallory.python(EVIL_SESSION.replace("CANARY", str(canary)))
    assert mallory.cli("push", "work", "team", "--include-secrets").returncode == 0
    evil = drive / "bin" / "python3"  # the attacker's "interpreter", on the shared drive
    evil.parent.mkdir()
    evil.write_text(f'#!/bin/sh\ntouch {canary}\nexec {sys.executable} "$@"\n')
    evil.chmod(0o755)
    escape_abs = str(tmp_path / "abs-escape")
    forged = mallory.python(FORGE.replace("sys.argv[1]", repr(str(drive)))
                            .replace("sys.argv[2]", repr(escape_abs))
                            .replace("sys.argv[3]", repr(str(evil))))  # fmt: skip
    assert forged == "forged"
    # Bob trusts Alice and Carol; Carol, trusted, publishes under Alice's name
    assert bob.cli("trust", "add", "alice", alice.key()).returncode == 0
    assert bob.cli("trust", "add", "carol", carol.key()).returncode == 0
    carol.python("import json, sessions\nx = 1\nprint(json.dumps(str(sessions.save('notes'))))")
    assert carol.cli("push", "notes", "team", "--owner", "alice").returncode == 0

    bob.key()  # made on first use: before the snapshot of the tree
    out = tmp_path / "bob-out"
    before = _tree(tmp_path, [bob.home, out])
    runs: dict[str, subprocess.CompletedProcess[str]] = {}

    def run(label: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "sessions.tui.cli", *args],
            env=bob.env({"TERM": "dumb"}),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=180,
            cwd=ROOT,
        )
        runs[label] = done
        return done

    assert run("ls-remote", "ls", "--remote", "team").returncode == 0
    pulled = run("pull", "pull", "mallory/work@2", "team", "--trust-once")
    assert pulled.returncode == 0 and "signed by an unknown key" in pulled.stdout, pulled.stderr
    run("ls", "ls")
    run("show", "show", "mallory/work@2")
    restored = run("restore", "restore", "mallory/work@2", stdin="exit()\n")
    assert "refusing to load mallory/work@2" in restored.stdout, restored.stdout
    assert "not saved by you" in restored.stderr, restored.stderr

    data = run("data", "pull", "mallory/work@3", "team", "--data-only", "-o", str(out))
    assert data.returncode == 1  # two names refused, the rest delivered
    assert "'../../escape': not a safe file name" in data.stderr, data.stderr
    assert "signed by an unknown key" in data.stdout
    assert sorted(p.name for p in out.iterdir()) == ["frame.arrow"]

    for label, args in {
        "impersonation": ("pull", "alice/report@1", "team"),
        "impersonation-once": ("pull", "alice/report@1", "team", "--trust-once"),
        "teammate-as-alice": ("pull", "alice/notes", "team"),
    }.items():
        done = run(label, *args)
        assert done.returncode == 1, (label, done.stdout)
        assert "refusing to pull" in done.stderr and "published as alice but" in done.stderr
    assert "signed by carol's key" in runs["teammate-as-alice"].stderr
    labelled = run("impersonation-data", "pull", "alice/report@1", "team", "--data-only",
                   "-o", str(out / "report"))  # fmt: skip
    assert "NOT signed by its owner: published as alice" in labelled.stdout, labelled.stdout

    assert not canary.exists(), "a program of the sender's ran"
    assert _tree(tmp_path, [bob.home, out]) == before, "files appeared outside store and -o"
    for label, done in runs.items():
        assert "Traceback" not in done.stderr + done.stdout, (label, done.stderr)
        errors = [line for line in done.stderr.splitlines() if line.strip()]
        assert all(line.startswith("sessions-tui: ") for line in errors), (label, errors)
    assert [p.name for p in bob.snapshot_files()] and not list(bob.home.glob(".incoming-*"))


# --- Arrow and .npy from any sender ----------------------------------------------------------
FUZZ = """
import io, json, random, struct, sys
import numpy as np, pandas as pd, pyarrow as pa
from numpy.lib import format as npy
from sessions.core.sharing.dataonly import DataError, arrow_frame, npy_array

rng = random.Random(20261121)
frame = pd.DataFrame({"city": ["Oslo", "Lima", None] * 4, "n": range(12),
                      "x": np.linspace(0, 1, 12), "d": pd.Categorical(["a", "b", "a"] * 4)})
table = pa.Table.from_pandas(frame, preserve_index=True)
sink = pa.BufferOutputStream()
with pa.ipc.new_stream(sink, table.schema) as writer:
    writer.write_table(table, max_chunksize=5)
stream = sink.getvalue().to_pybytes()

def mutate(data):
    data = bytearray(data)
    kind = rng.randrange(5)
    if kind == 0:  # bit flips
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
    elif kind == 1:  # truncation
        data = data[: rng.randrange(len(data))]
    elif kind == 2:  # a length or offset field made huge, negative or off by a little
        i = rng.randrange(0, len(data) - 8) & ~3
        value = rng.choice([0x7FFFFFFF, -1, -(2**31), 2**31 - 8, 1 << 24, rng.randrange(1, 4096)])
        struct.pack_into("<i", data, i, value)
    elif kind == 3:  # a 64-bit length field
        i = rng.randrange(0, len(data) - 8) & ~7
        struct.pack_into("<q", data, i, rng.choice([2**62, -1, 2**40, 2**31]))
    else:  # a run of bytes replaced
        i = rng.randrange(len(data))
        data[i : i + rng.randint(1, 16)] = bytes([rng.choice([0, 0xFF])]) * rng.randint(1, 16)
    return bytes(data)

def header(d):
    text = repr(d).encode("latin1") if not isinstance(d, bytes) else d
    text += b" " * (-(len(text) + 11) % 64) + b"\\n"
    return b"\\x93NUMPY\\x01\\x00" + struct.pack("<H", len(text)) + text

base = np.arange(24, dtype="<f8").reshape(4, 6)
good = io.BytesIO()
npy.write_array(good, base)
good_header, buffer = good.getvalue()[: -base.nbytes], base.tobytes()
hostile = [
    {"descr": "|O", "fortran_order": False, "shape": (3,)},
    {"descr": "<f8", "fortran_order": False, "shape": (10**12,)},
    {"descr": "<f8", "fortran_order": False, "shape": (2**62, 2**62)},
    {"descr": "<f8", "fortran_order": True, "shape": (6, 4)},
    {"descr": "<f8", "fortran_order": True, "shape": (2**62, 0)},
    {"descr": "<f8", "fortran_order": False, "shape": (-4, -6)},
    {"descr": "<f8", "fortran_order": False, "shape": (24.0,)},
    {"descr": "<f8", "fortran_order": False, "shape": "24"},
    {"descr": "|V0", "fortran_order": False, "shape": (2**62,)},
    {"descr": "<U0", "fortran_order": False, "shape": (10**12,)},
    {"descr": [("a", "|O")], "fortran_order": False, "shape": (24,)},
    {"descr": [("a", "<f8", (2**31,))], "fortran_order": False, "shape": (1,)},
    {"descr": "|V4294967296", "fortran_order": False, "shape": (1,)},
    {"descr": "<f8", "fortran_order": False, "shape": (1,) * 70},
    {"descr": "<f8", "fortran_order": False},
    {"descr": "<f8", "fortran_order": False, "shape": (24,), "extra": 1},
    b"{'descr': '<f8', 'fortran_order': False, 'shape': (24,), " + b"(" * 5000,
    b"__import__('os').system('echo pwned')",
    b"{'descr': '<f8'",
]
cases = [("npy", header(h), buffer) for h in hostile]
cases += [("npy", mutate(good_header), buffer) for _ in range(120)]
cases += [("npy", good_header, buffer[: rng.randrange(len(buffer))]) for _ in range(10)]
cases += [("arrow", mutate(stream), None) for _ in range(300)]
counts = {"ok": 0, "refused": 0}
uncaught = []
for kind, data, buf in cases:
    try:
        if kind == "npy":
            npy_array("x", data, buf)
        else:
            arrow_frame("x", data)
        counts["ok"] += 1
    except DataError as exc:
        assert "\\n" not in str(exc)
        counts["refused"] += 1
    except BaseException as exc:
        uncaught.append(f"{kind}: {type(exc).__name__}: {exc}"[:300])
print(json.dumps({"cases": len(cases), **counts, "uncaught": uncaught}))
"""


def test_arrow_and_npy_from_any_sender_never_crash_or_escape_one_line(tmp_path: Path) -> None:
    done = run_python(tmp_path / "home", FUZZ, check=False, timeout=300)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])  # < 0: killed by a signal
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["cases"] >= 300 + 100
    assert result["uncaught"] == [], result["uncaught"]
    assert result["refused"] > 200 and result["ok"] > 0  # hostile ones refused, intact ones read


# --- bombs and full disks --------------------------------------------------------------------
BOMB = """
import json, sys, zstandard
from dataclasses import replace
from pathlib import Path
import numpy as np
from numpy.lib import format as npy
from sessions.core.sharing import signing
from sessions.core.store import ids
from sessions.core.store.blobs import HEADER, MAGIC, ZSTD
from sessions.core.store.manifest import Manifest

drive = Path(DRIVE)
base = Manifest.decode((drive / "manifests/mallory/work/000001.msgpack").read_bytes())
claim = 256 * 1024 * 1024
var = base.variable("grid")
group = base.groups[var.group]
blob = group.buffers[0]
path = drive / "blobs" / blob.hash[:2] / blob.hash[2:]
path.write_bytes(HEADER.pack(MAGIC, ZSTD, claim) + zstandard.compress(bytes(claim)))
header = npy.header_data_from_array_1_0(np.zeros(0))
header["shape"] = (claim // 8,)
import io
stream = io.BytesIO()
npy.write_array_header_1_0(stream, header)
groups = list(base.groups)
groups[var.group] = replace(group, buffers=(replace(blob, size=claim),))
variables = tuple(replace(v, data={"format": "npy", "header": stream.getvalue()})
                  if v.name == "grid" else v for v in base.variables)
forged = replace(base, id=ids.new_id(), version=2, groups=tuple(groups), variables=variables)
(drive / "manifests/mallory/work/000002.msgpack").write_bytes(signing.sign(forged).encode())
print(json.dumps(path.stat().st_size))
"""

MEASURE = """
import json, resource, sessions, numpy
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    got = sessions.pull("mallory/work@2", "team", data_only=True)
    failed = got.failed
except Exception as exc:
    failed = {"(all)": f"{type(exc).__name__}: {exc}"}
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"grew_mb": (after - before) / 1024, "failed": failed}))
"""


def test_a_small_blob_claiming_a_huge_size_costs_no_memory_and_is_refused(tmp_path: Path) -> None:
    from test_share import User

    mallory, bob = User(tmp_path, "mallory"), User(tmp_path, "bob")
    drive = tmp_path / "shared-drive"
    for user in (mallory, bob):
        assert user.cli("remote", "add", "team", str(drive)).returncode == 0
    mallory.python(
        "import json, numpy as np, sessions\ngrid = np.arange(4096.0)\n"
        "print(json.dumps(str(sessions.save('work'))))"
    )
    assert mallory.cli("push", "work", "team").returncode == 0
    assert mallory.python(BOMB.replace("DRIVE", repr(str(drive)))) < 64 * 1024  # a small file
    got = bob.python(MEASURE)
    assert "corrupt" in got["failed"].get("grid", ""), got
    assert got["grew_mb"] < 64, got  # not the 256 MiB the sender claimed


def _full_disk() -> None:
    """In the child: files can grow to 1 MiB only, and writing past it fails with EFBIG (a
    full disk as the writer sees it) instead of killing the process."""
    import resource
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))


def test_a_full_disk_during_pull_or_import_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    from test_share import User

    alice, bob = User(tmp_path, "alice"), User(tmp_path, "bob")
    drive = tmp_path / "shared-drive"
    for user in (alice, bob):
        assert user.cli("remote", "add", "team", str(drive)).returncode == 0
    alice.python(
        "import json, numpy as np, sessions\n"
        "weights = np.random.default_rng(3).standard_normal(400_000)\n"
        "print(json.dumps(str(sessions.save('model'))))"
    )
    assert alice.cli("push", "model", "team").returncode == 0
    bundle = tmp_path / "model.sessions"
    assert alice.cli("export", "model", "-o", str(bundle)).returncode == 0
    assert bob.cli("trust", "add", "alice", alice.key()).returncode == 0
    for args in (["pull", "alice/model", "team"], ["import", str(bundle)]):
        done = subprocess.run(
            [sys.executable, "-m", "sessions.tui.cli", *args],
            env=bob.env(),
            capture_output=True,
            text=True,
            timeout=180,
            cwd=ROOT,
            preexec_fn=_full_disk,
        )
        assert done.returncode == 1, (args, done.stdout)
        assert "Traceback" not in done.stderr, done.stderr
        assert done.stderr.startswith("sessions-tui: disk full while writing"), done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
        assert bob.snapshot_files() == [] and bob.blob_files() == []
        assert not list(bob.home.glob(".incoming-*"))


# --- what killed pushes leave on a remote ----------------------------------------------------
HOLD_TEMP = """
import os, sys, time
from sessions.core.sharing.remote import _flock
path = sys.argv[1]
with open(path, "wb") as handle:
    _flock(handle.fileno(), blocking=True)
    handle.write(b"half a blob")
    handle.flush()
    os.utime(path, (time.time() - 7200, time.time() - 7200))  # old, but its writer is alive
    print("holding", flush=True)
    sys.stdin.read()
"""


def test_remote_clean_reclaims_what_killed_pushes_left_and_nothing_in_use(
    tmp_path: Path,
) -> None:
    import os
    import signal
    import time

    from test_share import User

    from sessions.core.store.atomic import HOST

    alice, bob = User(tmp_path, "alice"), User(tmp_path, "bob")
    drive = tmp_path / "shared-drive"
    for user in (alice, bob):
        assert user.cli("remote", "add", "team", str(drive)).returncode == 0
    alice.python(
        "import json, numpy as np, sessions\nkept = np.arange(50_000.0)\n"
        "print(json.dumps(str(sessions.save('base'))))"
    )
    assert alice.cli("push", "base", "team").returncode == 0
    in_use = {p for p in (drive / "blobs").rglob("*") if p.is_file()}
    alice.python(
        "import json, numpy as np, sessions\nrng = np.random.default_rng(5)\n"
        "arrays = {f'a{i}': rng.standard_normal(150_000) for i in range(40)}\n"
        "print(json.dumps(str(sessions.save('big', namespace=arrays))))"
    )
    push = subprocess.Popen(
        [sys.executable, "-m", "sessions.tui.cli", "push", "big", "team"], env=alice.env(),
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while len([p for p in (drive / "blobs").rglob("*") if p.is_file()]) < len(in_use) + 5:
        assert push.poll() is None and time.monotonic() < deadline, "push ended before the kill"
        time.sleep(0.01)
    push.send_signal(signal.SIGKILL)  # a push killed halfway: blobs and no manifest
    push.wait()
    left = {p for p in (drive / "blobs").rglob("*") if p.is_file()} - in_use
    leftovers = {p for p in left if not p.name.startswith(".")}  # and maybe a temp file
    assert leftovers and not (drive / "manifests" / "alice" / "big").exists()

    blob_dir = drive / "blobs" / "ff"
    blob_dir.mkdir(exist_ok=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    dead_temp = blob_dir / f".{'f' * 62}.{HOST}.{int(dead.stdout)}.tmp"
    dead_temp.write_bytes(b"x" * 1000)  # its writer was killed
    live_temp = blob_dir / f".{'e' * 62}.{HOST}.{os.getpid()}.tmp"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_TEMP, str(live_temp)], env=alice.env(), cwd=ROOT,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        kept_young = bob.cli("remote", "clean", "team")  # default grace: a day
        assert kept_young.returncode == 0, kept_young.stderr
        assert "0 unreferenced blobs" in kept_young.stdout and not dead_temp.exists()
        cleaned = bob.cli("remote", "clean", "team", "--older-than", "0")
        assert cleaned.returncode == 0, cleaned.stderr
        assert f"{len(leftovers)} unreferenced blobs removed" in cleaned.stdout, cleaned.stdout
        assert live_temp.exists(), "a temp file whose writer is alive was removed"
    finally:
        holder.communicate("")
    remaining = {p for p in (drive / "blobs").rglob("*") if p.is_file()} - {live_temp}
    assert remaining == in_use and not list((drive / "trash").glob("*"))
    assert bob.cli("trust", "add", "alice", alice.key()).returncode == 0
    assert bob.cli("pull", "alice/base", "team").returncode == 0
    assert bob.cli("verify").returncode == 0
    again = alice.cli("push", "big", "team")
    assert again.returncode == 0 and "pushed alice/big@1" in again.stdout, again.stderr


PUSH_RACE = """
import json, os, random, shutil, threading
from pathlib import Path
import numpy as np
import sessions
from sessions.core.sharing.remote import open_remote
from sessions.core.store.session_dir import Store

drive = Path(os.environ["DRIVE"])
rng = np.random.default_rng(9)
sessions.save("big", namespace={f"a{i}": rng.standard_normal(2_000) for i in range(30)})
store, remote = Store(), open_remote("team")
broken = 0
for trial in range(TRIALS):
    shutil.rmtree(drive / "manifests", ignore_errors=True)  # as a killed push leaves it
    remote.push(store, "big")
    shutil.rmtree(drive / "manifests")
    start = threading.Barrier(2)

    def push():
        start.wait()
        remote.push(store, "big")

    def clean():
        start.wait()
        threading.Event().wait(random.uniform(0, 0.02))
        remote.clean(older_than=0)

    threads = [threading.Thread(target=push), threading.Thread(target=clean)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for snap in remote.snapshots():
        names = remote.manifest(snap).blob_hashes()
        broken += sum(not (drive / "blobs" / d[:2] / d[2:]).exists() for d in names)
print(json.dumps(broken))
"""


def test_remote_clean_racing_a_push_never_leaves_a_snapshot_without_its_blobs(
    tmp_path: Path,
) -> None:
    from test_share import User

    alice = User(tmp_path, "alice")
    drive = tmp_path / "shared-drive"
    assert alice.cli("remote", "add", "team", str(drive)).returncode == 0
    done = subprocess.run(
        [sys.executable, "-c", PUSH_RACE.replace("TRIALS", "15")],
        env=alice.env({"DRIVE": str(drive)}), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == 0
