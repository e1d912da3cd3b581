"""Versions, dedup, permissions, rm and gc of the snapshot store."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from conftest import cli, run_json, run_python


def test_saving_a_name_again_makes_the_next_version_and_dedups(home: Path) -> None:
    got = run_json(
        home,
        """
        import json, numpy as np, sessions
        big = np.random.rand(500_000)          # 4 MB
        other = np.random.rand(500_000)
        r1 = sessions.save("work")
        r2 = sessions.save("work")             # nothing changed
        other[0] = -1.0
        r3 = sessions.save("work")             # one array changed
        print(json.dumps([[r.version, r.written] for r in (r1, r2, r3)]))
        """,
    )
    (v1, w1), (v2, w2), (v3, w3) = got
    assert (v1, v2, v3) == (1, 2, 3)
    assert w1 > 8_000_000
    assert w2 < 100_000, "an unchanged session writes only its manifest"
    assert 4_000_000 < w3 < 4_200_000, "only the changed array is written again"


def test_store_files_are_private(home: Path) -> None:
    run_python(home, "import sessions\nx = [1, 2]\nsessions.save('p')\n")
    for path in home.rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        if path.is_dir():
            assert mode == 0o700, (path, oct(mode))
        elif path.suffix != ".lock":
            assert mode == 0o600, (path, oct(mode))


def test_rm_then_gc_frees_only_unreferenced_blobs(home: Path) -> None:
    run_python(
        home,
        """
        import numpy as np, sessions
        shared = np.ones(100_000)
        sessions.save("a")
        only_b = np.zeros(100_000) + 7
        sessions.save("b")
        """,
    )
    blobs_before = {p.name for p in (home / "blobs").rglob("*") if p.is_file()}
    assert cli(home, "rm", "b").returncode == 0
    assert "b@1" not in cli(home, "ls").stdout
    done = cli(home, "gc")
    assert done.returncode == 0 and "removed" in done.stdout
    blobs_after = {p.name for p in (home / "blobs").rglob("*") if p.is_file()}
    assert blobs_after < blobs_before
    got = run_json(
        home,
        "import json, sessions\nr = sessions.load('a')\nprint(json.dumps([r.failed, float(shared.sum())]))\n",
    )
    assert got == [{}, 100_000.0]
    assert cli(home, "verify").returncode == 0


def test_gc_refuses_while_a_manifest_is_unreadable(home: Path) -> None:
    run_python(home, "import sessions\nx = 1\nsessions.save('a')\nsessions.save('b')\n")
    target = next((home / "snapshots").rglob("*.msgpack"))
    target.write_bytes(b"garbage")
    done = cli(home, "gc")
    assert done.returncode == 1 and "gc removed nothing" in done.stderr


def test_ls_json_is_the_documented_shape(home: Path) -> None:
    run_python(home, "import sessions\nx = 1\nsessions.save('doc', note='hello', tags=['t1'])\n")
    data = json.loads(cli(home, "ls", "--json").stdout)
    assert data["version"] == 1
    (entry,) = data["snapshots"]
    assert set(entry) == {
        "kind",
        "what",
        "id",
        "ref",
        "name",
        "version",
        "created",
        "variables",
        "skipped",
        "stored",
        "memory",
        "note",
        "tags",
        "origin",
        "path",
        "damaged",
        "runs_code",
    }
    assert entry["ref"] == "doc@1" and entry["note"] == "hello" and entry["tags"] == ["t1"]
    assert entry["what"] == "snapshot"
    assert entry["origin"]["kind"] == "script" and entry["variables"] == 1
    shown = json.loads(cli(home, "show", "doc", "--json").stdout)
    assert shown["manifest"]["variables"][0]["name"] == "x"
    assert shown["manifest"]["schema"] == [2, 0]


def test_restore_print_gives_code_that_loads(home: Path) -> None:
    run_python(home, "import sessions\na = 1\nb = 2\nc = 3\nsessions.save('code')\n")
    code = cli(home, "restore", "code", "--vars", "a,c", "--print").stdout
    done = run_python(home, code + "print(sorted(k for k in ('a', 'b', 'c') if k in globals()))\n")
    assert done.stdout.strip().splitlines()[-1] == "['a', 'c']"
    bad = cli(home, "restore", "code", "--vars", "zzz", "--print")
    assert bad.returncode == 2 and "no variable zzz" in bad.stderr


def test_version_numbers_are_never_reused_after_rm(home: Path) -> None:
    save = "import json, sessions\nx = 1\nprint(json.dumps(sessions.save('x').version))\n"
    assert [run_json(home, save) for _ in range(3)] == [1, 2, 3]
    assert cli(home, "rm", "x@3").returncode == 0  # the newest
    assert run_json(home, save) == 4  # x@3 meant another snapshot: never again
    for ref in ("x@4", "x@2", "x@1"):
        assert cli(home, "rm", ref).returncode == 0
    assert "x@" not in cli(home, "ls").stdout
    assert run_json(home, save) == 5  # every version gone, and still no number comes back
    assert cli(home, "show", "x").stdout.startswith("x@5")
    assert cli(home, "verify").returncode == 0


def test_dirs_made_on_the_way_are_private_even_under_umask_000(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from conftest import child_env

    base = tmp_path / "fresh"
    env = child_env(base / "data" / "deep" / "home")
    env.update(
        SESSIONS_CONFIG_DIR=str(base / "config" / "deep" / "sessions"),
        SESSIONS_CACHE_DIR=str(base / "cache" / "deep"),
        SESSIONS_LOG_DIR=str(base / "logs" / "deep"),
    )
    code = (
        "import os\nos.umask(0)\nimport sessions\n"
        "from sessions.core.sharing import identity\nfrom sessions.core.store.catalog import"
        " Catalog, catalog_path\nfrom sessions.core.store.session_dir import Store\n"
        "x = [1, 2]\nsessions.save('p')\nidentity.identity()\n"
        "Catalog(catalog_path(Store().root)).close()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert (base / "config" / "deep" / "sessions" / "identity.key").exists()
    made = [p for p in base.rglob("*") if p.is_dir()]
    assert len(made) > 8
    loose = {str(p): oct(stat.S_IMODE(p.stat().st_mode)) for p in made}
    assert all(mode == "0o700" for mode in loose.values()), loose
    key = base / "config" / "deep" / "sessions" / "identity.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert os.stat(base).st_mode  # the test's own dir, left as it was


def test_versions_lists_one_names_manifests_oldest_first_without_reading_them(
    home: Path,
) -> None:
    from sessions.core.engine.save import save
    from sessions.core.store.session_dir import Store

    store = Store(home)
    first = save({"x": 1}, store=store, name="a")
    save({"y": 2}, store=store, name="b")
    second = save({"x": 2}, store=store, name="a")
    store.resolve("a@2").path.write_bytes(b"garbage")  # listed all the same: nothing is read
    found = store.versions("a")
    assert [(v, i) for v, i, _ in found] == [(1, first.id), (2, second.id)]
    assert found[1][2] == store.resolve("a@2").path
    assert store.versions("never saved") == []


WRITER = """
import os, signal, sys
from pathlib import Path
from sessions.core.store.atomic import temp_path
path = temp_path(Path(sys.argv[1]))
with open(path, "wb") as handle:
    handle.write(b"x" * 1_000_000)
print(path, flush=True)
if sys.argv[2] == "killed":
    os.kill(os.getpid(), signal.SIGKILL)
sys.stdin.read()  # a write still going on, until told to stop
"""


def test_gc_reclaims_temp_files_of_killed_writers_at_once_and_keeps_live_ones(
    home: Path, tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys
    import time

    from conftest import child_env

    run_python(home, "import sessions\nx = list(range(10))\nsessions.save('x')\n")
    blobs = home / "blobs"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)

    def writer(mode: str) -> tuple[subprocess.Popen[str], Path]:
        process = subprocess.Popen(
            [sys.executable, str(script), str(blobs), mode],
            env=child_env(home),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        return process, Path(process.stdout.readline().strip())

    killed, killed_temp = writer("killed")
    assert killed.wait(timeout=60) == -9 and killed_temp.exists()
    live, live_temp = writer("live")
    other_host = blobs / ".tmp-0123456789abcdef.4242.another-machine"
    older = blobs / ".tmp-fedcba9876543210"  # named before writers were named
    for path in (other_host, older):
        path.write_bytes(b"y" * 1000)
    stale_older = blobs / ".tmp-00000000000000ff"
    stale_older.write_bytes(b"z")
    two_hours_ago = time.time() - 7200
    os.utime(stale_older, (two_hours_ago, two_hours_ago))
    try:
        done = cli(home, "gc")
        assert done.returncode == 0, done.stderr
        assert not killed_temp.exists(), "a killed writer's temp file is reclaimed at once"
        assert not stale_older.exists()
        assert live_temp.exists(), "a write still going on is never touched"
        assert other_host.exists() and older.exists(), "another machine's may be live: an hour"
    finally:
        live.communicate("", timeout=60)
    assert cli(home, "gc").returncode == 0
    assert not live_temp.exists()  # its writer is gone now
    assert cli(home, "verify").returncode == 0
