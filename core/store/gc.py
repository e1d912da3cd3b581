"""``gc``: remove blobs no manifest references, and temp files left by killed writes.

Runs under the exclusive ``gc.lock`` that every save holds shared, so a blob a save is
about to reference is never removed. If any manifest cannot be read, gc removes nothing:
it cannot know what that snapshot needs (invariant 5, nothing lost silently).
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

from sessions.core.errors import StoreError
from sessions.core.store.atomic import TEMP_PREFIX
from sessions.core.store.session_dir import Store

STALE_TEMP_SECONDS = 3600


@dataclass
class GcReport:
    removed_blobs: int = 0
    freed: int = 0
    removed_temps: int = 0
    kept_blobs: int = 0


def _stale_temps(root: Path, now: float) -> list[Path]:
    found = []
    for directory, _dirs, files in os.walk(root):
        for name in files:
            if name.startswith(TEMP_PREFIX):
                path = Path(directory) / name
                with contextlib.suppress(OSError):
                    if now - path.stat().st_mtime > STALE_TEMP_SECONDS:
                        found.append(path)
    return found


def gc(store: Store, *, timeout: float = 30.0) -> GcReport:
    """Remove unreferenced blobs; raise StoreError when a manifest is unreadable."""
    report = GcReport()
    if not store.root.is_dir():
        return report
    with store.lock("gc.lock", timeout=timeout):
        referenced: set[str] = set()
        for entry in store.entries(foreign=False):
            if entry.manifest is None:
                raise StoreError(
                    f"gc removed nothing: snapshot {entry.ref} ({entry.id}) is damaged "
                    f"({entry.error}); remove it with 'sessions-tui rm {entry.id}' first"
                )
            referenced |= entry.manifest.blob_hashes()
        for digest in sorted(store.blobs.all_digests() - referenced):
            path = store.blobs.path(digest)
            with contextlib.suppress(OSError):
                size = path.stat().st_size
                path.unlink()
                report.removed_blobs += 1
                report.freed += size
        report.kept_blobs = len(referenced)
        for path in _stale_temps(store.root, time.time()):
            with contextlib.suppress(OSError):
                path.unlink()
                report.removed_temps += 1
    return report
