"""Bad input gets one clear line and no traceback; nothing partial is left behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import child_env, cli, run_python

TWO_SNAPSHOTS = """
import sessions
alpha = 1
sessions.save("analysis")
alpha = 2
sessions.save("analysis")
sessions.save("other")
"""


def _one_clean_line(text: str) -> None:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text


def test_unknown_ref_suggests_close_matches(home: Path) -> None:
    run_python(home, TWO_SNAPSHOTS)
    done = cli(home, "show", "analysys")
    assert done.returncode == 2
    _one_clean_line(done.stderr)
    assert "no snapshot matches 'analysys'" in done.stderr and "analysis" in done.stderr
    done = cli(home, "show", "analysis@9")
    assert done.returncode == 2 and "analysis@2" in done.stderr


def test_ambiguous_prefix_lists_candidates(home: Path) -> None:
    run_python(home, TWO_SNAPSHOTS)
    ids = [line.split()[1] for line in cli(home, "ls").stdout.splitlines()[1:]]
    common = os.path.commonprefix(ids)  # noqa: RUF071 - ids, not paths
    assert len(common) >= 4
    done = cli(home, "show", common[:6].lower())
    assert done.returncode == 2
    _one_clean_line(done.stderr)
    assert "matches 3 snapshots" in done.stderr


def test_refs_resolve_by_name_version_id_and_prefix(home: Path) -> None:
    run_python(home, TWO_SNAPSHOTS)
    import sessions

    latest = sessions.inspect("analysis")
    assert latest.ref == "analysis@2"
    first = sessions.inspect("analysis@1")
    assert first.version == 1 and first.manifest.parent is None
    assert latest.manifest.parent == first.id
    assert sessions.inspect(first.id).ref == "analysis@1"
    assert sessions.inspect(first.id[:20].lower()).ref == "analysis@1"


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],
        lambda data: b"",
        lambda data: os.urandom(len(data)),
        lambda data: b"\xdf\xff\xff\xff\xff" + data,  # msgpack map header claiming 4 billion keys
    ],
    ids=["truncated", "empty", "random", "huge-header"],
)
def test_damaged_manifest_is_listed_not_fatal(home: Path, damage) -> None:
    run_python(home, TWO_SNAPSHOTS)
    manifests = sorted((home / "snapshots").rglob("*.msgpack"))
    target = next(p for p in manifests if "other" in p.parent.name)
    target.write_bytes(damage(target.read_bytes()))
    listed = cli(home, "ls")
    assert listed.returncode == 0, listed.stderr
    assert "DAMAGED" in listed.stdout and "analysis@2" in listed.stdout
    shown = cli(home, "show", "other")
    assert shown.returncode == 1 and "DAMAGED" in shown.stdout
    assert "Traceback" not in shown.stdout + shown.stderr
    restored = cli(home, "restore", "other", "--print")
    assert restored.returncode == 1
    _one_clean_line(restored.stderr)
    verified = cli(home, "verify")
    assert verified.returncode == 1 and "damaged manifest" in verified.stdout


def test_newer_manifest_schema_is_refused_plainly(home: Path) -> None:
    import msgpack

    run_python(home, TWO_SNAPSHOTS)
    target = next(p for p in (home / "snapshots").rglob("*.msgpack") if "other" in p.parent.name)
    raw = msgpack.unpackb(target.read_bytes())
    raw["schema"] = [7, 0]
    target.write_bytes(msgpack.packb(raw))
    shown = cli(home, "show", "other")
    assert "newer than this sessions-tui understands" in shown.stdout


def test_unwritable_session_dir_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    env = child_env(blocker / "sessions")
    code = "import sessions\nx = 1\ntry:\n    sessions.save('x')\nexcept sessions.SessionsError as e:\n    print(e)\n"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    _one_clean_line(done.stdout)
    assert "cannot create" in done.stdout


def test_read_only_session_dir_is_one_line(tmp_path: Path) -> None:
    home = tmp_path / "ro-home"
    home.mkdir()
    mounted = False
    if os.geteuid() == 0:  # root ignores modes: use a read-only filesystem instead
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(home)],
            capture_output=True,
            check=False,
        )
        mounted = done.returncode == 0
        if not mounted:
            pytest.skip("cannot mount a read-only tmpfs here")
    else:
        os.chmod(home, 0o555)
    try:
        code = "import sessions\nx = 1\ntry:\n    sessions.save('x')\nexcept sessions.SessionsError as e:\n    print(e)\n"
        done = subprocess.run(
            [sys.executable, "-c", code],
            env=child_env(home),
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        _one_clean_line(done.stdout)
        assert "cannot" in done.stdout and str(home) in done.stdout
    finally:
        if mounted:
            subprocess.run(["umount", str(home)], check=False)


def _small_fs(tmp_path: Path) -> Path | None:
    target = tmp_path / "small"
    target.mkdir()
    if os.geteuid() != 0:
        return None
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(target)],
        capture_output=True,
        check=False,
    )
    return target if done.returncode == 0 else None


def test_disk_full_during_save_leaves_nothing_partial(tmp_path: Path) -> None:
    small = _small_fs(tmp_path)
    if small is None:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        home = small / "home"
        code = (
            "import os, sessions\n"
            "from pathlib import Path\n"
            "def files():\n"
            "    return {str(p) for p in Path(os.environ['SESSIONS_HOME']).rglob('*') if p.is_file()}\n"
            "small = b'x' * 1000\n"
            "sessions.save('before')\n"
            "kept = files()\n"
            "big = os.urandom(6_000_000)\n"
            "try:\n    sessions.save('after')\nexcept sessions.SessionsError as e:\n    print(type(e).__name__, e)\n"
            "import sys; print(sorted(files() - kept), file=sys.stderr)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code],
            env=child_env(home),
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        _one_clean_line(done.stdout)
        assert done.stdout.startswith("DiskFullError") and "disk full" in done.stdout
        assert done.stderr.strip() == "[]", "no blob, pack or any other file of it is left"
        leftovers = [p for p in home.rglob(".tmp-*")]
        assert leftovers == []
        listed = cli(home, "ls")
        assert "before@1" in listed.stdout and "after" not in listed.stdout
        assert cli(home, "verify").returncode == 0
    finally:
        subprocess.run(["umount", str(small)], check=False)
