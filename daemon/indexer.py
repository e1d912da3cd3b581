"""Keeping the catalog in step with the disk.

The indexer owns the catalog's only writer connection and runs on one thread: watch events
and reconciles queue paths; paths are debounced (a burst of events for one file is indexed
once, after it has been quiet) and a foreign file still growing is looked at again later.
Manifests appear by atomic rename, so a visible manifest is complete.

Nothing here unpickles: manifests are msgpack read with limits, foreign dill files are
walked by the opcode scanner with an opcode budget. A file that cannot be indexed becomes
an index error (and a damaged row) and indexing goes on.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sessions.core.engine.foreign import foreign_entry
from sessions.core.engine.scan import scan
from sessions.core.errors import SessionsError
from sessions.core.store import annotation
from sessions.core.store.catalog import Catalog, row_values
from sessions.core.store.session_dir import FOREIGN_SUFFIXES, Entry, Store

log = logging.getLogger("sessions.daemon.indexer")

DEBOUNCE = 0.15
_MANIFEST_RE = re.compile(r"^(\d{6,})-([0-9A-HJKMNP-TV-Z]{26})\.msgpack$")
_ANNOTATION_RE = re.compile(r"^([0-9A-HJKMNP-TV-Z]{26})\.msgpack$")
_IGNORED_DIRS = {"blobs", "locks"}
FOREIGN_MAX_OPS = 2_000_000
FOREIGN_MAX_BYTES = 8 * 1024 * 1024 * 1024
_BATCH = 500

Publish = Callable[[dict[str, Any]], None]


class Indexer:
    """Indexes paths of one session dir (plus extra dirs for foreign files) into a catalog."""

    def __init__(
        self, store: Store, catalog: Catalog, publish: Publish, extra_dirs: tuple[Path, ...] = ()
    ) -> None:
        self.store = store
        self.root = store.root.absolute()
        self.catalog = catalog
        self.publish = publish
        self.extra_dirs = tuple(Path(d).absolute() for d in extra_dirs)
        self.queue: queue.Queue[Path | None] = queue.Queue()
        self.pending: dict[Path, float] = {}
        self.sizes: dict[Path, int] = {}
        self.errors: deque[str] = deque(maxlen=20)
        self.indexed = 0
        self.thread: threading.Thread | None = None
        self.stopping = threading.Event()
        self.ready = threading.Event()
        self.tasks: queue.Queue[Callable[[], None]] = queue.Queue()

    # --- classification ---------------------------------------------------------------
    def kind_of(self, path: Path) -> str | None:
        """'manifest', 'annotation', 'foreign' or None (not ours to index)."""
        name = path.name
        if name.startswith("."):
            return None
        try:
            rel = path.relative_to(self.root)
        except ValueError:
            if any(path.is_relative_to(d) for d in self.extra_dirs) and name.endswith(
                FOREIGN_SUFFIXES
            ):
                return "foreign"
            return None
        parts = rel.parts
        if not parts or parts[0] in _IGNORED_DIRS:
            return None
        if parts[0] == "snapshots":
            return "manifest" if len(parts) == 3 and _MANIFEST_RE.match(name) else None
        if parts[0] == "annotations":
            return "annotation" if len(parts) == 2 and _ANNOTATION_RE.match(name) else None
        if name.endswith(FOREIGN_SUFFIXES) and len(parts) <= 4:
            return "foreign"
        return None

    # --- indexing one path ------------------------------------------------------------
    def _entry_for_foreign(self, path: Path) -> Entry:
        if path.is_relative_to(self.root):
            return foreign_entry(self.store, path)
        try:
            created = path.lstat().st_mtime
        except OSError:
            created = 0.0
        return Entry("foreign", str(path), path.stem, 0, path, created)

    def index_path(self, path: Path) -> dict[str, Any] | None:
        """Index (or un-index) one path now; returns the event to publish, if any."""
        kind = self.kind_of(path)
        if kind is None:
            return None
        if kind == "annotation":
            return self._index_annotation(path)
        try:
            info = path.lstat()
        except FileNotFoundError:
            old = self.catalog.delete(str(path))
            return {"event": "removed", "path": str(path), "entry": old.to_dict()} if old else None
        except OSError as exc:
            return self._error(path, f"cannot stat: {exc.strerror}")
        existed = self.catalog.db.execute(
            "SELECT 1 FROM entries WHERE path = ?", (str(path),)
        ).fetchone()
        if kind == "manifest":
            match = _MANIFEST_RE.match(path.name)
            assert match is not None
            entry = self.store.entry_at(int(match.group(1)), match.group(2), path)
            values = row_values(
                entry, annotation.read(self.root, entry.id), info.st_mtime_ns, info.st_size
            )
        else:
            entry = self._entry_for_foreign(path)
            variables, error = self._scan_foreign(path, info)
            values = row_values(
                entry,
                annotation.Annotation(),
                info.st_mtime_ns,
                info.st_size,
                foreign_vars=variables,
                error=error,
            )
        self.catalog.upsert(values)
        self.indexed += 1
        if values["damaged"]:
            self.errors.append(f"{path}: {values['damaged']}")
            log.warning("index error %s: %s", path, values["damaged"])
        event = "changed" if existed else "added"
        if values["damaged"] and not existed:
            event = "index_error"
        row = self.catalog.get(values["id"]) if not values["damaged"] else None
        payload = (
            row.to_dict() if row is not None else {"path": str(path), "damaged": values["damaged"]}
        )
        return {"event": event, "path": str(path), "entry": payload, "error": values["damaged"]}

    def _scan_foreign(
        self, path: Path, info: os.stat_result
    ) -> tuple[dict[str, str] | None, str | None]:
        import stat

        if stat.S_ISLNK(info.st_mode):
            return None, "symlink; not followed"
        if not stat.S_ISREG(info.st_mode):
            return None, "not a regular file"
        if info.st_size > FOREIGN_MAX_BYTES:
            return None, f"{info.st_size} bytes, too large to inspect"
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(fd, "rb") as handle:
                result = scan(handle, max_ops=FOREIGN_MAX_OPS)
        except SessionsError as exc:
            return None, str(exc)
        except OSError as exc:
            return None, f"cannot read: {exc.strerror}"
        risky = result.dangerous()
        if risky:
            return None, f"loading would call {', '.join(risky[:5])}; not indexed as a session"
        variables = result.variables()
        if not variables and (result.top is None or result.top.items is None):
            return None, "not a dill session file (no module state)"
        return variables, None if result.complete else result.problem

    def _index_annotation(self, path: Path) -> dict[str, Any] | None:
        snapshot_id = path.name.split(".")[0]
        row = self.catalog.get(snapshot_id)
        if row is None or row.kind != "snapshot":
            return None
        target = Path(row.path)
        match = _MANIFEST_RE.match(target.name)
        if match is None:
            return None
        entry = self.store.entry_at(int(match.group(1)), match.group(2), target)
        try:
            info = target.lstat()
        except OSError:
            return None
        values = row_values(
            entry, annotation.read(self.root, snapshot_id), info.st_mtime_ns, info.st_size
        )
        self.catalog.upsert(values)
        fresh = self.catalog.get(snapshot_id)
        return {"event": "changed", "path": row.path, "entry": fresh.to_dict() if fresh else {}}

    def _error(self, path: Path, message: str) -> dict[str, Any]:
        self.catalog.set_error(str(path), message)
        self.errors.append(f"{path}: {message}")
        return {"event": "index_error", "path": str(path), "error": message}

    # --- reconciling ------------------------------------------------------------------
    def disk_paths(self) -> dict[Path, tuple[int, int]]:
        """Every indexable path on disk with (mtime_ns, size)."""
        found: dict[Path, tuple[int, int]] = {}
        candidates = [p for _, _, p in self.store.manifest_files()] + self.store.foreign_paths()
        for directory in self.extra_dirs:
            for suffix in FOREIGN_SUFFIXES:
                candidates.extend(directory.glob(f"*{suffix}"))
        for path in candidates:
            try:
                info = path.lstat()
            except OSError:
                continue
            found[path.absolute()] = (info.st_mtime_ns, info.st_size)
        return found

    def reconcile(self) -> tuple[int, int]:
        """Make the catalog match the disk; returns (indexed, removed)."""
        started = time.perf_counter()
        disk = self.disk_paths()
        known = self.catalog.stamps()
        todo = [p for p, stamp in disk.items() if known.get(str(p)) != stamp]
        gone = [p for p in known if Path(p) not in disk]
        indexed = 0
        for start in range(0, len(todo), _BATCH):
            with self.catalog.db:
                for path in todo[start : start + _BATCH]:
                    if self.stopping.is_set():
                        return indexed, 0
                    self._publish_safely(path)
                    indexed += 1
        with self.catalog.db:
            for path in gone:
                old = self.catalog.delete(path)
                if old is not None:
                    self.publish({"event": "removed", "path": path, "entry": old.to_dict()})
            self._reconcile_annotations()
            self.catalog.set_meta("reconciled", str(time.time()))
        log.info(
            "reconciled %s: %d indexed, %d removed, %d on disk in %.2fs",
            self.root,
            indexed,
            len(gone),
            len(disk),
            time.perf_counter() - started,
        )
        return indexed, len(gone)

    def _reconcile_annotations(self) -> None:
        directory = self.root / "annotations"
        try:
            names = os.listdir(directory)
        except OSError:
            names = []
        annotated = set()
        for name in names:
            if _ANNOTATION_RE.match(name):
                annotated.add(name.split(".")[0])
                self._index_annotation(directory / name)
        rows = self.catalog.db.execute("SELECT id FROM entries WHERE annotated = 1").fetchall()
        for (snapshot_id,) in rows:  # annotation removed while the daemon was down
            if snapshot_id not in annotated:
                self._index_annotation(directory / f"{snapshot_id}.msgpack")

    def _publish_safely(self, path: Path) -> None:
        try:
            event = self.index_path(path)
        except Exception as exc:  # a bug must not stop indexing of the other files
            log.exception("indexing %s failed", path)
            event = self._error(path, f"internal error: {type(exc).__name__}: {exc}")
        if event is not None:
            self.publish(event)

    # --- the thread -------------------------------------------------------------------
    def notify(self, path: Path) -> None:
        """A path changed on disk (called from the watcher thread)."""
        self.queue.put(path)

    def submit(self, task: Callable[[], None]) -> None:
        """Run ``task`` on the indexer thread (it owns the catalog connection)."""
        self.tasks.put(task)
        self.queue.put(None)

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="sessions-indexer", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.queue.put(None)
        if self.thread is not None:
            self.thread.join(timeout=10)

    def _run(self) -> None:
        try:
            self.reconcile()
        except Exception:
            log.exception("initial reconcile failed")
        self.ready.set()
        while not self.stopping.is_set():
            timeout = None
            if self.pending:
                timeout = max(0.0, min(self.pending.values()) - time.monotonic())
            try:
                item = self.queue.get(timeout=timeout)
                if item is not None:
                    self.pending[item] = time.monotonic() + DEBOUNCE
                while True:  # drain a burst without waiting
                    item = self.queue.get_nowait()
                    if item is not None:
                        self.pending[item] = time.monotonic() + DEBOUNCE
            except queue.Empty:
                pass
            while not self.tasks.empty():
                task = self.tasks.get_nowait()
                try:
                    task()
                except Exception:
                    log.exception("daemon task failed")
            now = time.monotonic()
            due = [p for p, t in self.pending.items() if t <= now]
            if not due:
                continue
            with self.catalog.db:
                for path in due:
                    del self.pending[path]
                    if self._still_growing(path):
                        self.pending[path] = time.monotonic() + 4 * DEBOUNCE
                        continue
                    self._publish_safely(path)

    def _still_growing(self, path: Path) -> bool:
        if self.kind_of(path) != "foreign":
            return False
        try:
            size = path.lstat().st_size
        except OSError:
            self.sizes.pop(path, None)
            return False
        previous = self.sizes.get(path)
        self.sizes[path] = size
        if previous is None or previous != size:
            return True  # look again shortly: a file still being written changes size
        del self.sizes[path]
        return False
