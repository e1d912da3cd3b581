"""Complete or invisible: a save killed at any moment leaves no partial snapshot behind,
and damage to stored bytes is caught by verify and by load, per variable."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import child_env, cli, flip_byte_of, run_json, run_python

SAVER = """
import os, sys, numpy as np, sessions
print("ready", flush=True)
i = 0
while True:
    i += 1
    big = np.random.rand(600_000)           # 4.8 MB of fresh data each round
    text = ["row %d %d" % (i, j) for j in range(20_000)]
    sessions.save("loop", note=str(i))
    print("saved", i, flush=True)
"""


def test_sigkill_at_random_moments_never_leaves_a_partial_snapshot(home: Path) -> None:
    run_python(home, "import sessions\nkeep = list(range(1000))\nsessions.save('baseline')\n")
    rng = random.Random(1234)
    script = home.parent / "saver.py"
    script.write_text(SAVER)
    trials = 24
    for trial in range(trials):
        child = subprocess.Popen(
            [sys.executable, str(script)], env=child_env(home), stdout=subprocess.PIPE, text=True
        )
        assert child.stdout is not None
        # a random moment of its saving loop, however long starting Python took; the first
        # child finishes one save before its moment comes, so some saves surely completed
        awaited = "saved 1" if trial == 0 else "ready"
        while not child.stdout.readline().startswith(awaited):
            assert child.poll() is None, "the saver died on its own"
        time.sleep(rng.uniform(0.0, 0.85))
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
    listed = cli(home, "ls", "--json")
    assert listed.returncode == 0
    import json

    snapshots = json.loads(listed.stdout)["snapshots"]
    assert all(s["damaged"] is None for s in snapshots), snapshots
    loops = [s for s in snapshots if s["name"] == "loop"]
    assert loops  # the first child's save at least
    versions = sorted(s["version"] for s in loops)
    assert versions == list(range(1, len(versions) + 1))
    verified = cli(home, "verify")
    assert verified.returncode == 0, verified.stdout
    got = run_json(
        home,
        "import json, sessions\nr = sessions.load('baseline')\nprint(json.dumps([r.failed, keep[-1]]))\n",
    )
    assert got == [{}, 999]
    newest = run_json(
        home,
        "import json, sessions\nr = sessions.load('loop')\nprint(json.dumps([r.failed, len(text)]))\n",
    )
    assert newest == [{}, 20_000]
    gc = cli(home, "gc")
    assert gc.returncode == 0 and cli(home, "verify").returncode == 0


@pytest.mark.parametrize("items", [100_000, 300_000], ids=["in-a-pack", "own-blob-file"])
def test_flipped_byte_is_named_by_verify_and_fails_only_that_variable(
    home: Path, items: int
) -> None:
    run_python(
        home,
        f"""
        import numpy as np, sessions
        weights = np.arange({items}, dtype="float64")
        labels = ["a", "b", "c"]
        sessions.save("model")
        """,
    )
    import sessions

    manifest = sessions.inspect("model").manifest
    var = manifest.variable("weights")
    group = manifest.groups[var.group]
    blob = max(group.blobs, key=lambda b: b.size)
    flip_byte_of(home, blob.hash)

    verified = cli(home, "verify")
    assert verified.returncode == 1
    assert "model@1" in verified.stdout and "weights" in verified.stdout
    assert "labels" not in verified.stdout

    got = run_json(
        home,
        """
        import json, sessions
        r = sessions.load("model")
        print(json.dumps({"loaded": r.loaded, "failed": r.failed}))
        """,
    )
    assert got["loaded"] == ["labels"]
    assert "corrupt" in got["failed"]["weights"] and "\n" not in got["failed"]["weights"]


def test_a_flipped_byte_in_one_batch_fails_only_that_batchs_variables(home: Path) -> None:
    # many small values: batches of independent values, compressed, packed, read one after
    # another on the loading thread (one decompression context reused after the failure)
    run_python(
        home,
        """
        import sessions
        for i in range(3000):
            globals()[f"v{i}"] = f"value {i} " * 8
        sessions.save("many")
        """,
    )
    import sessions

    manifest = sessions.inspect("many", home=home).manifest
    batches = [g for g in manifest.groups if g.independent and len(g.names) > 1]
    assert len(batches) > 2 and all(g.stream.codec == "zstd" for g in batches)
    damaged = batches[0]
    flip_byte_of(home, damaged.stream.hash)
    got = run_json(
        home,
        """
        import json, sessions
        r = sessions.load("many")
        print(json.dumps({"loaded": r.loaded, "failed": r.failed, "last": v2999}))
        """,
    )
    assert set(got["failed"]) == set(damaged.names)
    assert all("corrupt" in why and "\n" not in why for why in got["failed"].values())
    assert len(got["loaded"]) == 3001 - len(damaged.names)  # with the loop variable i
    assert got["last"] == "value 2999 " * 8 or "v2999" in damaged.names
