"""Progress of long work (save, load, restore, push, pull, export, import, verify, gc).

The library never prints. Each long operation takes ``progress: ProgressCallback | None`` and
calls it with a :class:`Progress` record as work advances; the CLI draws it with rich, the
terminal UI with a ``ProgressBar`` fed by worker messages, notebooks with ``tqdm.auto``.
A callback may raise :class:`sessions.core.errors.Cancelled` to stop an operation at its next
clean stopping point (what was already committed stays; nothing partial becomes visible).

Operations report through a :class:`Reporter`, which throttles calls (at most one every
``interval`` seconds, plus the first and the last) so a save of 100,000 small variables does
not spend its time drawing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """Where one operation stands. Totals are ``None`` while unknown."""

    task: str  # "save", "load", "push", "pull", "export", "import", "verify", "gc", ...
    done_bytes: int = 0
    total_bytes: int | None = None
    done_items: int = 0
    total_items: int | None = None
    item: str | None = None  # what is being worked on: a variable name, a snapshot ref
    finished: bool = False
    elapsed: float = 0.0

    @property
    def rate(self) -> float | None:
        """Bytes per second so far, or ``None`` before there is anything to measure."""
        if self.elapsed <= 0 or self.done_bytes <= 0:
            return None
        return self.done_bytes / self.elapsed

    @property
    def eta(self) -> float | None:
        """Seconds left at the rate so far, or ``None`` when it cannot be told."""
        rate = self.rate
        if rate is None or self.total_bytes is None:
            return None
        return max(0.0, (self.total_bytes - self.done_bytes) / rate)


ProgressCallback = Callable[[Progress], None]


class Reporter:
    """Accumulates progress of one operation and forwards it, throttled, to a callback."""

    def __init__(
        self,
        callback: ProgressCallback | None,
        task: str,
        *,
        total_bytes: int | None = None,
        total_items: int | None = None,
        interval: float = 0.1,
    ) -> None:
        self.callback = callback
        self.task = task
        self.total_bytes = total_bytes
        self.total_items = total_items
        self.done_bytes = 0
        self.done_items = 0
        self.item: str | None = None
        self.interval = interval
        self._start = time.monotonic()
        self._last = 0.0
        self._emit(force=True)

    def totals(self, *, total_bytes: int | None = None, total_items: int | None = None) -> None:
        """Set totals once they are known (e.g. after planning a save)."""
        if total_bytes is not None:
            self.total_bytes = total_bytes
        if total_items is not None:
            self.total_items = total_items
        self._emit(force=True)

    def advance(self, *, nbytes: int = 0, items: int = 0, item: str | None = None) -> None:
        """Record work done; calls the callback at most once per ``interval``."""
        self.done_bytes += nbytes
        self.done_items += items
        if item is not None:
            self.item = item
        self._emit()

    def finish(self) -> None:
        """The operation is over: one last call, with ``finished=True``."""
        self._emit(force=True, finished=True)

    def _emit(self, *, force: bool = False, finished: bool = False) -> None:
        if self.callback is None:
            return
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        self.callback(
            Progress(
                task=self.task,
                done_bytes=self.done_bytes,
                total_bytes=self.total_bytes,
                done_items=self.done_items,
                total_items=self.total_items,
                item=self.item,
                finished=finished,
                elapsed=now - self._start,
            )
        )
