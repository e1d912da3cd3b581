"""1,000 hostile files dropped into a watched session dir: the daemon stays up, each bad
file is an index error, every good snapshot is indexed, and no pickle ever runs."""

from __future__ import annotations

import os
import pickle
import random
from pathlib import Path

from daemons import RunningDaemon, wait_for
from synth import make_snapshots

from sessions.core.store import ids


class Canary:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def _hostile_files(home: Path, canary: Path, rng: random.Random) -> list[Path]:
    made: list[Path] = []
    evil = home / "snapshots" / "evil-0badf00d"
    evil.mkdir(parents=True, exist_ok=True)

    def manifest_path() -> Path:
        return evil / f"{rng.randint(1, 999999):06d}-{ids.new_id()}.msgpack"

    def put(path: Path, data: bytes) -> None:
        path.write_bytes(data)
        made.append(path)

    for _ in range(250):  # random bytes
        put(manifest_path(), os.urandom(rng.randint(0, 4096)))
    for _ in range(100):  # msgpack headers claiming gigabytes
        put(
            manifest_path(),
            rng.choice(
                [
                    b"\xdb\xff\xff\xff\xff",
                    b"\xdd\xff\xff\xff\xff",
                    b"\xdf\xff\xff\xff\xff",
                    b"\xc6\xff\xff\xff\xf0",
                ]
            )
            + os.urandom(16),
        )
    for _ in range(100):  # deep nesting
        put(manifest_path(), b"\x91" * rng.randint(2_000, 200_000) + b"\xc0")
    for _ in range(50):  # valid msgpack, not a manifest
        put(manifest_path(), b"\x82\xa6format\xb1sessions.manifest\xa6schema\x92\x01\x00")
    for i in range(200):  # pickles that would create the canary if run
        data = pickle.dumps(
            {"__name__": "__main__", "trap": Canary(str(canary))}, protocol=rng.choice([0, 2, 4, 5])
        )
        put(home / f"trap-{i}.pkl", data)
    for i in range(100):  # truncated pickles
        data = pickle.dumps({"big": list(range(1000))}, protocol=5)
        put(home / f"cut-{i}.dill", data[: rng.randint(1, len(data) - 1)])
    for i in range(100):  # symlinks out of the dir, as foreign files and as manifests
        link = home / f"escape-{i}.pkl" if i % 2 else manifest_path()
        link.symlink_to("/etc/passwd")
        made.append(link)
    for i in range(100):  # empty files and claimed giant bytes
        put(
            home / "nested" / f"empty-{i}.pkl" if i % 2 else home / f"giant-{i}.pkl",
            b"" if i % 2 else b"\x80\x05\x8e" + (2**60).to_bytes(8, "little") + b"x",
        )
    return made


def test_hostile_files_become_index_errors_and_never_run(
    home: Path, tmp_path: Path, daemon_env
) -> None:
    good = set(make_snapshots(home, 40))
    (home / "nested").mkdir(parents=True, exist_ok=True)
    daemon = RunningDaemon(home, daemon_env)
    canary = tmp_path / "canary-was-run"
    try:
        bad = _hostile_files(home, canary, random.Random(7))
        assert len(bad) == 1000
        later_good = set(make_snapshots(home, 10))  # good files keep arriving among the bad

        from sessions.core.store.catalog import Catalog, catalog_path

        def settled() -> bool:
            catalog = Catalog(catalog_path(home), readonly=True)
            try:
                return (
                    catalog.error_count() >= 1000
                    and len(
                        {r.id for r in catalog.rows() if not r.damaged and r.kind == "snapshot"}
                    )
                    >= 50
                )
            finally:
                catalog.close()

        wait_for(settled, timeout=120, interval=0.5)
        assert daemon.process.poll() is None, "the daemon must stay up"
        info = daemon.wait_ready()
        catalog = Catalog(catalog_path(home), readonly=True)
        try:
            errors = dict(catalog.errors(limit=5000))
            rows = list(catalog.rows())
        finally:
            catalog.close()
        assert {str(p) for p in bad} <= set(errors), "every bad file is an index error"
        indexed = {r.id for r in rows if r.kind == "snapshot" and not r.damaged}
        assert indexed == good | later_good
        assert any("symlink" in e for e in errors.values())
        assert any("nests too deeply" in e for e in errors.values())
        assert any("truncated" in e or "not valid msgpack" in e for e in errors.values())
        assert info["index_errors"] >= 1000
    finally:
        daemon.stop()
    assert not canary.exists(), "a hostile pickle was executed"


def _indexed(home: Path) -> set[str]:
    """Ids the catalog holds as good snapshots (empty while it is being made again)."""
    from daemons import catalog_ids

    try:
        return catalog_ids(home)
    except Exception:  # not there yet, or its tables not made yet
        return set()


def test_a_session_dir_deleted_and_made_again_is_watched_again(home: Path, daemon_env) -> None:
    import shutil

    first = set(make_snapshots(home, 3))
    daemon = RunningDaemon(home, daemon_env)
    try:
        wait_for(lambda: _indexed(home) == first, timeout=60)
        shutil.rmtree(home)
        home.mkdir()
        again = set(make_snapshots(home, 2))  # into the new dir, with no restart
        wait_for(lambda: _indexed(home) == again, timeout=60, interval=0.2)
        later = set(make_snapshots(home, 1))  # and it keeps watching the new dir
        wait_for(lambda: _indexed(home) == again | later, timeout=60, interval=0.2)
        assert daemon.process.poll() is None
    finally:
        daemon.stop()


def test_a_deleted_catalog_is_made_again_without_a_restart(home: Path, daemon_env) -> None:
    from sessions.core.store.catalog import catalog_path

    made = set(make_snapshots(home, 5))
    daemon = RunningDaemon(home, daemon_env)
    try:
        wait_for(lambda: _indexed(home) == made, timeout=60)
        for suffix in ("", "-wal", "-shm"):
            Path(str(catalog_path(home)) + suffix).unlink(missing_ok=True)
        wait_for(lambda: _indexed(home) == made, timeout=60, interval=0.2)
        more = set(make_snapshots(home, 2))
        wait_for(lambda: _indexed(home) == made | more, timeout=60, interval=0.2)
        assert daemon.process.poll() is None
    finally:
        daemon.stop()


def test_huge_or_absurd_requests_are_refused_and_the_daemon_keeps_answering(
    home: Path, daemon_env
) -> None:
    import pytest

    from sessions.daemon.client import DaemonClient, DaemonError

    made = set(make_snapshots(home, 3))
    daemon = RunningDaemon(home, daemon_env)
    try:
        wait_for(lambda: _indexed(home) == made, timeout=60)
        with DaemonClient(home, timeout=60) as client:
            for args, said in (
                ({"text": "x" * 10_000_000}, "refused"),  # 10 MB: not even decoded
                ({"text": "x" * 5_000}, "at most 1000 characters"),
                ({"text": ["a"]}, "should be text"),
                ({"limit": 10**12}, "limit should be"),
                ({"limit": "all"}, "limit should be"),
                ({"group": {"a": 1}}, "should be text"),
            ):
                with pytest.raises(DaemonError, match=said):
                    client.request("query", **args)
                assert len(client.request("query", text="", limit=10)) == 3  # same connection
        assert daemon.process.poll() is None
        assert not [e for e in daemon.wait_ready()["last_errors"] if "internal" in e]
    finally:
        daemon.stop()
