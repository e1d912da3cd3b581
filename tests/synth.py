"""Many valid snapshots, fast: real manifests and one real blob, written through core."""

from __future__ import annotations

import pickle
import time
from pathlib import Path

from sessions.core.store import ids
from sessions.core.store.manifest import Group, Manifest, Variable
from sessions.core.store.session_dir import Store


def make_snapshots(root: Path, count: int, *, names: int = 50) -> list[str]:
    """Commit ``count`` small snapshots spread over ``names`` names; returns their ids."""
    store = Store(root)
    store.ensure()
    ref, _ = store.blobs.put(pickle.dumps({"x": 1}, protocol=5))
    made = []
    base = time.time() - count
    for i in range(count):
        name = f"synthetic-{i % names}"
        snapshot_id = ids.new_id(base + i)

        def build(
            version: int,
            parent: str | None,
            i: int = i,
            snapshot_id: str = snapshot_id,
            name: str = name,
        ) -> Manifest:
            return Manifest(
                id=snapshot_id,
                name=name,
                version=version,
                created=base + i,
                parent=parent,
                note=f"run {i}",
                tags=("synthetic",),
                origin={
                    "kind": ("script", "notebook", "kernel")[i % 3],
                    "path": f"/work/job{i % 7}.py",
                },
                groups=(Group("pickle", ("x",), ref),),
                variables=(
                    Variable("x", "int", 28, ref.stored, 0, {"kind": "object", "repr": "1"}),
                ),
            )

        made.append(store.commit(name, build).id)
    return made
