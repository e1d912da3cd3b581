"""Progress of long work drawn on a terminal: a rich progress bar on stderr.

The library reports through one callback (sessions.core.progress); this draws those records
for the command line and for scripts and IPython shells run in a terminal. Nothing is drawn
when stderr is not a terminal (piped, redirected, CI logs): the caller asks
:func:`terminal_progress`, which then gives ``None``.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sessions.core.errors import Cancelled
from sessions.core.progress import Progress, ProgressCallback, ProgressDisplay

if TYPE_CHECKING:
    from rich.console import Console


class TerminalProgress(ProgressDisplay):
    """A progress callback that draws one operation as a rich bar on the terminal.

    ``delay``: draw nothing until the operation has run that many seconds (so quick work
    stays quiet). ``transient``: remove the bar when done (the caller prints the result).
    Use as a context manager so the bar stops even when the operation fails."""

    def __init__(
        self,
        label: str,
        *,
        console: Console | None = None,
        delay: float = 0.0,
        transient: bool = True,
    ) -> None:
        self.label = label
        self.console = console
        self.delay = delay
        self.transient = transient
        self._bar: Any = None
        self._task: Any = None

    def __call__(self, progress: Progress) -> None:
        if self._bar is None:
            if progress.elapsed < self.delay or (progress.finished and self.transient):
                return
            self._start()
        completed, total = _amounts(progress)
        self._bar.update(self._task, completed=completed, total=total, detail=progress.describe())
        if progress.finished:
            self.close()

    def _start(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, SpinnerColumn, TaskProgressColumn, TextColumn

        console = self.console or Console(stderr=True)
        self._bar = Progress(
            SpinnerColumn(finished_text="✓"),
            TextColumn("{task.description}"),
            BarColumn(bar_width=30),
            TaskProgressColumn(),
            TextColumn("{task.fields[detail]}"),
            console=console,
            transient=self.transient,
            refresh_per_second=10,
        )
        self._task = self._bar.add_task(self.label, total=None, detail="")
        self._bar.start()

    def close(self, error: BaseException | None = None) -> None:
        """Stop drawing; a bar left on screen says why it stopped short."""
        if self._bar is None:
            return
        if error is not None and not self.transient:
            why = "cancelled" if isinstance(error, Cancelled) else "failed"
            self._bar.update(self._task, detail=f"[red]{why}[/red]")
        self._bar.stop()
        self._bar = None


def _amounts(progress: Progress) -> tuple[float, float | None]:
    """(completed, total) for the bar: bytes when their total is known, else items."""
    if progress.total_bytes:
        return progress.done_bytes, progress.total_bytes
    if progress.total_items:
        return progress.done_items, progress.total_items
    if progress.finished:
        return 1, 1
    return 0, None


def terminal_progress(label: str, *, delay: float = 0.0) -> TerminalProgress | None:
    """A bar for ``label`` when stderr is a terminal, else ``None`` (quiet when piped)."""
    try:
        interactive = sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        interactive = False
    return TerminalProgress(label, delay=delay) if interactive else None


@contextlib.contextmanager
def drawn(label: str) -> Iterator[ProgressCallback | None]:
    """``with drawn("push big@2") as progress: op(progress=progress)``: the command line's
    bar for one operation, or ``None`` when stderr is not a terminal."""
    bar = terminal_progress(label)
    if bar is None:
        yield None
        return
    with bar:
        yield bar
