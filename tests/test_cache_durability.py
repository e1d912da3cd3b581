"""Cache entries are written without fsync (a cache is expendable), and that never costs a
wrong result or a durable snapshot: an entry torn by a power loss is a miss and is removed,
gc is not blocked by one, and no snapshot depends on an object only a cache entry wrote.

A power loss is played by doing to the files what one may do to files never fsynced:
empty them, tear their bytes, or lose them. Which calls really ran is read from
``calls.txt``, never from timings."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from conftest import cli, run_python

PRELUDE = """
import json, os, sys
import numpy as np
import sessions
def ran(name):
    with open("calls.txt", "a") as handle:
        handle.write(name + "\\n")

@sessions.cache
def produce(seed):
    ran("produce")
    rng = np.random.default_rng(seed)
    return {"big": rng.random(300_000), "small": [seed, "label"]}   # 2.4 MB and a few bytes
"""

CALL = """
out = produce(7)
expected = np.random.default_rng(7).random(300_000)
print(json.dumps({"same": bool((out["big"] == expected).all()) and out["small"] == [7, "label"],
                  "hits": produce.hits}))
"""


def script(home: Path, body: str) -> dict:
    done = run_python(home, PRELUDE + textwrap.dedent(body))
    return json.loads(done.stdout.splitlines()[-1])


def calls(home: Path) -> list[str]:
    path = home.parent / "calls.txt"
    return path.read_text().splitlines() if path.exists() else []


def cache_manifests(home: Path) -> list[Path]:
    return sorted((home / "snapshots").glob("cache~*/*.msgpack"))


def volatile_packs(home: Path, suffix: str = ".pack") -> list[Path]:
    return sorted((home / "blobs" / "pack").glob(f"vpack-*{suffix}"))


def test_a_miss_is_written_without_fsync_and_a_snapshot_still_is(home: Path) -> None:
    got = script(
        home,
        """
        synced = []
        real = os.fsync
        os.fsync = lambda fd: (synced.append(fd), real(fd))[1]
        sessions.save("durable", namespace={"keep": np.arange(10)})  # also makes the store
        save = len(synced)
        produce(1)                              # a miss: stored
        miss = len(synced) - save
        produce(1)                              # a hit
        hit = len(synced) - save - miss
        print(json.dumps({"miss": miss, "hit": hit, "save": save}))
        """,
    )
    assert got["miss"] == 0 and got["hit"] == 0, "a cache entry costs no fsync"
    assert got["save"] >= 3, "a snapshot is as durable as before (pack, index, manifest)"
    assert len(cache_manifests(home)) == 1 and volatile_packs(home)


def _tear_manifest(home: Path) -> None:
    (manifest,) = cache_manifests(home)
    manifest.write_bytes(b"")


def _tear_objects(home: Path) -> None:
    for pack in volatile_packs(home):
        data = bytearray(pack.read_bytes())
        middle = len(data) // 2
        data[middle : middle + 4096] = bytes(4096)  # a page that never reached the disk
        pack.write_bytes(bytes(data))


def _lose_objects(home: Path) -> None:
    for path in volatile_packs(home) + volatile_packs(home, ".idx"):
        path.unlink()


@pytest.mark.parametrize(
    "damage",
    [_tear_manifest, _tear_objects, _lose_objects],
    ids=["empty manifest", "torn object", "lost pack"],
)
def test_an_entry_torn_by_a_power_loss_is_computed_again_never_returned(home: Path, damage) -> None:
    assert script(home, CALL) == {"same": True, "hits": 0}
    damage(home)
    assert script(home, CALL) == {"same": True, "hits": 0}, "computed again, right"
    assert calls(home) == ["produce", "produce"]
    assert script(home, CALL) == {"same": True, "hits": 1}, "the new entry is used"
    assert calls(home) == ["produce", "produce"]
    assert cli(home, "gc").returncode == 0
    assert cli(home, "verify").returncode == 0, "the damaged entry was removed"


def test_gc_removes_torn_cache_entries_instead_of_refusing(home: Path) -> None:
    script(home, CALL)
    script(home, CALL.replace("produce(7)", "produce(8)").replace("(7)", "(8)"))
    run_python(home, "import sessions\nx = 1\nsessions.save('work')\n")
    first, second = cache_manifests(home)
    first.write_bytes(first.read_bytes()[:100])  # torn
    for index in volatile_packs(home, ".idx"):
        index.write_bytes(b"")  # the other entry's objects: index torn
    done = cli(home, "gc")
    assert done.returncode == 0, done.stderr
    assert "removed 1 damaged cache entries" in done.stdout
    assert cache_manifests(home) == [second]
    assert not volatile_packs(home, ".idx") and not volatile_packs(home), "damaged: removed"
    assert cli(home, "verify", "work").returncode == 0
    assert script(home, CALL) == {"same": True, "hits": 0}
    assert calls(home) == ["produce", "produce", "produce"]


def test_a_snapshot_never_depends_on_an_object_only_a_cache_entry_wrote(home: Path) -> None:
    script(
        home,
        """
        result = produce(3)                       # its objects: a volatile pack
        same = {"big": result["big"].copy(), "small": [3, "label"]}
        saved = sessions.save("keep", namespace={"result": same})
        print(json.dumps({}))
        """,
    )
    _lose_objects(home)  # a power loss took everything never fsynced
    got = script(
        home,
        """
        report = sessions.load("keep", namespace=(ns := {}))
        expected = np.random.default_rng(3).random(300_000)
        print(json.dumps({"failed": report.failed, "same": bool((ns["result"]["big"] == expected).all())}))
        """,
    )
    assert got == {"failed": {}, "same": True}
    assert cli(home, "verify", "keep").returncode == 0


def test_user_snapshots_cannot_take_a_cache_entrys_name(home: Path) -> None:
    done = run_python(home, "import sessions\nx = 1\nsessions.save('cache:mine')\n", check=False)
    assert done.returncode != 0
    assert "names starting with 'cache:' are kept for cache entries" in done.stderr
