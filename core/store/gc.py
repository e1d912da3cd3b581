"""``gc``: remove objects no manifest references, and temp files left by killed writes
(told apart from writes in progress by their writer's pid, see ``_stale_temps``).

Runs under the exclusive ``gc.lock`` that every save (and every other writer of objects)
holds shared, so an object a save is about to reference is never removed. If any manifest
cannot be read, gc removes nothing: it cannot know what that snapshot needs (invariant 5,
nothing lost silently) — unless it is a cache entry's (sessions.core.store.session_dir:
expendable, written without fsync, so a power loss may tear it): that one is removed.

Blob files go one by one. A pack goes when none of its objects is referenced; a pack whose
unreferenced objects take more than half its bytes is repacked: its live objects are copied,
as stored, into a new pack (made durable first), then the old pack and index are removed. A
pack without an index (a save killed before it finished) is removed; a pack whose index is
damaged is kept as it is, since gc cannot be sure what it holds — unless it is a volatile pack
(cache entries' objects, never fsynced): that one is removed.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

from sessions.core.errors import Cancelled, StoreError
from sessions.core.progress import ProgressCallback, Reporter
from sessions.core.store.atomic import HOST, TEMP_PREFIX, fsync_dir, process_alive, temp_writer
from sessions.core.store.packs import ENTRY, Location, PackWriter, volatile
from sessions.core.store.session_dir import Store, expendable_file

STALE_TEMP_SECONDS = 3600
REUSED_PID_SECONDS = 24 * 3600
REPACK_WHEN_GARBAGE = 0.5


@dataclass
class GcReport:
    removed_blobs: int = 0
    freed: int = 0
    removed_temps: int = 0
    kept_blobs: int = 0
    removed_packs: int = 0
    repacked: int = 0
    removed_damaged: int = 0  # torn cache entries' manifests


def _stale_temps(root: Path, now: float) -> list[Path]:
    """Temp files no write will finish: their writer (named in the temp name) is no longer
    running on this machine. A temp of another machine's writer (a shared session dir) or of
    an older version goes after an hour untouched; a live writer's stays unless untouched
    for a day (its pid was reused: a writing process keeps its file fresh)."""
    found = []
    for directory, _dirs, files in os.walk(root):
        for name in files:
            if not name.startswith(TEMP_PREFIX):
                continue
            path = Path(directory) / name
            with contextlib.suppress(OSError):
                age = now - path.stat().st_mtime
                writer = temp_writer(name)
                if writer is not None and writer[1] == HOST:
                    stale = not process_alive(writer[0]) or age > REUSED_PID_SECONDS
                else:
                    stale = age > STALE_TEMP_SECONDS
                if stale:
                    found.append(path)
    return found


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _remove(path: Path) -> int:
    """Unlink ``path``; the bytes freed (0 when it was already gone)."""
    size = _size(path)
    try:
        path.unlink()
    except FileNotFoundError:
        return 0
    except OSError:
        return 0
    return size


def _collect_packs(store: Store, referenced: set[str], report: GcReport) -> None:
    packs = store.blobs.packs
    live_keys = {bytes.fromhex(d) for d in referenced}
    changed = False
    writer: PackWriter | None = None
    retired: list[str] = []
    for name, table in packs.packs().items():
        if name in packs.damaged:
            if volatile(name):  # torn by a power loss: what it held was expendable
                retired.append(name)
            continue
        live = [d for d in table if d in live_keys]
        total = sum(ENTRY.size + length for _, length, _, _ in table.values())
        garbage = total - sum(ENTRY.size + table[d][1] for d in live)
        if not live:
            retired.append(name)
        elif garbage > total * REPACK_WHEN_GARBAGE:
            writer = writer or PackWriter(packs)
            for digest in live:
                offset, length, size, codec = table[digest]
                payload = packs.payload(Location(name, offset, length, size, codec))
                try:
                    writer.append(digest.hex(), codec, size, payload)
                finally:
                    payload.release()
            retired.append(name)
            report.repacked += 1
        if name in retired:
            report.removed_blobs += len(table) - len(live)
    if writer is not None:
        writer.finish()  # the copies are durable before any original goes
    for name in retired:
        freed = _remove(packs.path(name, ".idx"))  # the index first: the objects vanish at once
        freed += _remove(packs.path(name))
        packs.forget(name)
        report.freed += freed
        report.removed_packs += 1
        changed = True
    # packs without an index: saves killed before they finished (no writer runs now)
    with contextlib.suppress(OSError):
        for entry in os.scandir(packs.dir):
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            if path.suffix == ".pack" and not path.with_suffix(".idx").exists():
                report.freed += _remove(path)
                report.removed_packs += 1
                changed = True
            elif path.suffix == ".idx" and not path.with_suffix(".pack").exists():
                _remove(path)
                changed = True
    if changed:
        fsync_dir(packs.dir)


def gc(
    store: Store, *, timeout: float = 30.0, progress: ProgressCallback | None = None
) -> GcReport:
    """Remove unreferenced objects; raise StoreError when a manifest is unreadable.

    ``progress`` is called (on this thread) with objects removed and bytes freed; raising
    :class:`~sessions.core.errors.Cancelled` from it stops between two removals (what was
    removed was unreferenced; the rest waits for the next gc)."""
    report = GcReport()
    if not store.root.is_dir():
        return report
    with store.lock("gc.lock", timeout=timeout):
        reporter = Reporter(progress, "gc", unit="objects")
        referenced: set[str] = set()
        entries = store.entries(foreign=False)
        for entry in entries:
            if entry.manifest is None and not expendable_file(entry.path):
                raise StoreError(
                    f"gc removed nothing: snapshot {entry.ref} ({entry.id}) is damaged "
                    f"({entry.error}); remove it with 'sessions-tui rm {entry.id}' first"
                )
        for entry in entries:
            if entry.manifest is not None:
                referenced |= entry.manifest.blob_hashes()
            else:  # a torn cache entry: nothing durable needs it
                store.remove(entry)
                report.removed_damaged += 1
        garbage = sorted(store.blobs.loose_digests() - referenced)
        reporter.totals(total_items=len(garbage) + 1)  # each loose blob, then the packs
        try:
            for digest in garbage:
                reporter.poll()
                freed = _remove(store.blobs.path(digest))
                if freed:
                    report.removed_blobs += 1
                    report.freed += freed
                reporter.advance(nbytes=freed, items=1)
            reporter.poll()
        except Cancelled:
            raise Cancelled(
                f"gc cancelled: {report.removed_blobs} unreferenced blobs were removed; "
                "the rest stays for the next gc"
            ) from None
        freed = report.freed
        _collect_packs(store, referenced, report)
        reporter.advance(nbytes=report.freed - freed, items=1, item="packs")
        report.kept_blobs = len(referenced)
        for path in _stale_temps(store.root, time.time()):
            with contextlib.suppress(OSError):
                path.unlink()
                report.removed_temps += 1
    reporter.finish()
    return report
