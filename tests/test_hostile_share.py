"""Shared snapshots are hostile input: what a teammate's remote or bundle holds runs nothing,
writes nowhere but its place, crashes nothing, and loses no data when it races gc."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_python

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
