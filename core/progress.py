"""Progress of long work (save, load, restore, push, pull, export, import, verify, gc).

The library never prints. Each long operation takes ``progress: ProgressCallback | None`` and
calls it with a :class:`Progress` record as work advances; the CLI draws it with rich, the
terminal UI with a ``ProgressBar`` fed by worker messages, notebooks with an HTML bar updated
in place. Bytes and items done and their totals are reported; rate and ETA derive from them.

A callback may raise :class:`sessions.core.errors.Cancelled` to stop the operation at its next
clean stopping point: the operation then raises ``Cancelled`` itself, saying what stayed
(what was already committed stays; nothing partial becomes visible).

Operations report through a :class:`Reporter`. Work done on worker threads (hashing, writing,
reading) is added from those threads; the callback is only ever called on the thread that
started the operation (the one that made the Reporter), at most once every ``interval``
seconds plus the first and the last call, so a callback may touch thread-bound things
(a notebook's display, a terminal) and a save of 100,000 small variables does not spend its
time drawing. While that thread waits for workers it polls (:meth:`Reporter.wait`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from sessions.core.errors import Cancelled
from sessions.core.units import human_duration, human_rate, human_size, plural

if TYPE_CHECKING:
    from concurrent.futures import Future

T = TypeVar("T")

INTERVAL = 0.1  # seconds between two calls of a callback (the first and last always happen)


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
    unit: str = "variables"  # what ``items`` counts: "variables", "objects", "snapshots"

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

    @property
    def fraction(self) -> float | None:
        """How much is done, 0..1, by bytes when their total is known, else by items."""
        if self.total_bytes:
            return min(1.0, self.done_bytes / self.total_bytes)
        if self.total_items:
            return min(1.0, self.done_items / self.total_items)
        if self.finished:
            return 1.0
        return None

    def describe(self) -> str:
        """One line for people: ``460.0 MiB of 1.0 GiB · 12 of 40 variables · 512.3 MiB/s
        · 1.2 s left`` while working, ``1.0 GiB · 40 variables in 2.1 s (487.6 MiB/s)`` when
        finished (binary units, as everywhere)."""
        unit = self.unit[:-1] if self.unit.endswith("s") else self.unit
        if self.finished:
            parts = []
            if self.done_bytes:
                parts.append(human_size(self.done_bytes))
            if self.done_items or self.total_items:
                parts.append(plural(self.done_items, unit))
            text = " · ".join(parts) or "done"
            text += f" in {human_duration(self.elapsed)}"
            if self.rate is not None and self.elapsed >= 0.05:
                text += f" ({human_rate(self.rate)})"
            return text
        parts = []
        if self.total_bytes is not None:
            parts.append(f"{human_size(self.done_bytes)} of {human_size(self.total_bytes)}")
        elif self.done_bytes:
            parts.append(human_size(self.done_bytes))
        if self.total_items is not None:
            parts.append(f"{self.done_items} of {plural(self.total_items, unit)}")
        elif self.done_items:
            parts.append(plural(self.done_items, unit))
        if self.rate is not None:
            parts.append(human_rate(self.rate))
        if self.eta is not None and self.done_bytes:
            parts.append(f"{human_duration(self.eta)} left")
        return " · ".join(parts) or "starting"


ProgressCallback = Callable[[Progress], None]


class ProgressDisplay:
    """Base of the displays that draw progress (the terminal bar, the notebook bar): a
    callback that is also a context manager, so it stops drawing — and says it stopped
    short — when the operation fails or is cancelled."""

    def __call__(self, progress: Progress) -> None:
        raise NotImplementedError

    def close(self, error: BaseException | None = None) -> None:
        """Stop drawing; ``error`` is why the operation ended early, if it did."""

    def __enter__(self) -> ProgressDisplay:
        return self

    def __exit__(self, kind: object, error: BaseException | None, trace: object) -> None:
        self.close(error)


class Reporter:
    """Accumulates progress of one operation and forwards it, throttled, to a callback.

    :meth:`advance` and :meth:`add_bytes` may be called from any thread; the callback runs
    only on the thread that made the Reporter. Once the callback has raised ``Cancelled``,
    :attr:`cancelled` is set, the callback is not called again, and :meth:`poll`,
    :meth:`wait` and :meth:`add_bytes` (on any thread) raise ``Cancelled``: the operation
    stops at its next clean point and workers within the object they are on."""

    def __init__(
        self,
        callback: ProgressCallback | None,
        task: str,
        *,
        total_bytes: int | None = None,
        total_items: int | None = None,
        unit: str = "variables",
        interval: float | None = None,
    ) -> None:
        self.callback = callback
        self.task = task
        self.unit = unit
        self.total_bytes = total_bytes
        self.total_items = total_items
        self.done_bytes = 0
        self.done_items = 0
        self.item: str | None = None
        self.interval = INTERVAL if interval is None else interval
        self.cancelled = False
        self._lock = threading.Lock()
        self._owner = threading.get_ident()
        self._start = time.monotonic()
        self._last = 0.0
        self._emit(force=True)

    def totals(self, *, total_bytes: int | None = None, total_items: int | None = None) -> None:
        """Set totals once they are known (e.g. after planning a save)."""
        with self._lock:
            if total_bytes is not None:
                self.total_bytes = total_bytes
            if total_items is not None:
                self.total_items = total_items
        self._emit(force=True)

    def grow(self, nbytes: int) -> None:
        """Correct the byte total by ``nbytes`` (an estimate replaced by the real size)."""
        with self._lock:
            self.total_bytes = max(0, (self.total_bytes or 0) + nbytes)

    def advance(self, *, nbytes: int = 0, items: int = 0, item: str | None = None) -> None:
        """Record work done (any thread); on the owning thread, call the callback if due.
        Never raises: a cancel is acted on at the next :meth:`poll`, :meth:`wait` or
        :meth:`add_bytes`."""
        with self._lock:
            self.done_bytes += nbytes
            self.done_items += items
            if item is not None:
                self.item = item
        self._emit()

    def add_bytes(self, nbytes: int) -> None:
        """Bytes done, from a loop over chunks of one object (any thread): the ``on_bytes``
        of blob reads and writes. Raises ``Cancelled`` once the operation is cancelled, so a
        worker stops within the object it is on."""
        self.advance(nbytes=nbytes)
        if self.cancelled:
            raise Cancelled(f"{self.task} cancelled")

    def poll(self) -> None:
        """On the owning thread: call the callback if one is due. A clean point: raises
        ``Cancelled`` when the callback does (or did)."""
        self._emit()
        if self.cancelled:
            raise Cancelled(f"{self.task} cancelled")

    def wait(self, future: Future[T]) -> T:
        """``future.result()``, polling the callback meanwhile; ``Cancelled`` when the
        callback cancels (the future is cancelled if it has not started)."""
        self.wait_all([future])
        if self.cancelled:
            raise Cancelled(f"{self.task} cancelled")
        return future.result()

    def wait_all(self, futures: Iterable[Future[Any]]) -> None:
        """Wait until every future is done, polling the callback meanwhile. When it cancels,
        the futures not yet started are cancelled and :attr:`cancelled` is set; this still
        returns only once none is running, and the caller decides what that means."""
        from concurrent.futures import ALL_COMPLETED
        from concurrent.futures import wait as _wait_futures

        pending = set(futures)
        while pending:
            if self.cancelled:
                for future in pending:
                    future.cancel()  # a running one goes on to its next chunk, then stops
            # until all are done or the next callback is due: one wake-up per interval, not
            # per future (a save may wait on thousands; waking on each is quadratic)
            _done, pending = _wait_futures(
                pending, timeout=max(self.interval, 0.01), return_when=ALL_COMPLETED
            )
            if pending:
                self._emit()

    def finish(self) -> None:
        """The operation is over: one last call, with ``finished=True``."""
        self._emit(force=True, finished=True)

    def snapshot(self, *, finished: bool = False) -> Progress:
        """The current state as a :class:`Progress` record."""
        with self._lock:
            return Progress(
                task=self.task,
                done_bytes=self.done_bytes,
                total_bytes=self.total_bytes,
                done_items=self.done_items,
                total_items=self.total_items,
                item=self.item,
                finished=finished,
                elapsed=time.monotonic() - self._start,
                unit=self.unit,
            )

    def _emit(self, *, force: bool = False, finished: bool = False) -> None:
        """Call the callback (owning thread, throttled). A ``Cancelled`` it raises is kept
        in :attr:`cancelled`, for the operation to act on at its next clean point."""
        if self.callback is None or self.cancelled or threading.get_ident() != self._owner:
            return
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        try:
            self.callback(self.snapshot(finished=finished))
        except Cancelled:
            self.cancelled = True


def chunks(total: int, size: int = 32 << 20) -> Iterable[tuple[int, int]]:
    """``(start, end)`` pieces of ``size`` bytes covering ``range(total)``: how big reads,
    writes and hashes are split so progress moves (and a cancel lands) within one object."""
    start = 0
    while start < total:
        end = min(total, start + size)
        yield start, end
        start = end
