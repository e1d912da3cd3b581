"""Watching the session dir (and extra dirs) with a watchdog observer."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

log = logging.getLogger("sessions.daemon.watcher")


class _Handler(FileSystemEventHandler):
    def __init__(self, notify: Callable[[Path], None]) -> None:
        self.notify = notify

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory or event.event_type in ("opened", "closed_no_write"):
            return
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            if not raw:
                continue
            path = Path(raw.decode() if isinstance(raw, bytes) else raw)
            name = path.name
            if (
                name.startswith(".")
                or "/blobs/" in str(path)
                or name.endswith((".lock", "-wal", "-shm"))
            ):
                continue
            self.notify(path)


class Watcher:
    """Recursive watches on the given dirs; every relevant path change goes to ``notify``."""

    def __init__(self, dirs: list[Path], notify: Callable[[Path], None]) -> None:
        self.dirs = [d for d in dirs if d.is_dir()]
        self.observer = Observer()
        handler = _Handler(notify)
        for directory in self.dirs:
            self.observer.schedule(handler, str(directory), recursive=True)

    def start(self) -> None:
        self.observer.start()
        log.info("watching %s", ", ".join(str(d) for d in self.dirs))

    def stop(self) -> None:
        self.observer.stop()
        self.observer.join(timeout=5)
