"""Progress of long work drawn where the user is: a bar in a notebook, or on the terminal.

A notebook gets an HTML bar (a ``<progress>`` element and one line of text) published as a
display with an id and updated in place. That renders live in JupyterLab, Notebook and VS
Code, and what stays in the saved notebook (an nbclient or papermill run included) is its
final state, with a ``text/plain`` twin for viewers that show no HTML. It needs nothing
beyond IPython — no ipywidgets, whose saved output shows nothing without widget state.

:func:`display_for` picks: a Jupyter kernel gets the notebook bar, a terminal (an IPython
shell, a script) a rich bar on stderr, anything else nothing.
"""

from __future__ import annotations

import sys
from typing import Any

from sessions.core.errors import Cancelled
from sessions.core.progress import Progress, ProgressDisplay

AUTO_DELAY = 1.0  # seconds of work before an automatic display appears


def _bar_text(fraction: float | None, width: int = 24) -> str:
    if fraction is None:
        return "[" + "·" * width + "]"
    filled = round(fraction * width)
    return "[" + "#" * filled + "." * (width - filled) + "]"


class NotebookProgress(ProgressDisplay):
    """A progress callback drawing an HTML bar in the output of the running cell."""

    def __init__(self, label: str, *, delay: float = 0.0) -> None:
        self.label = label
        self.delay = delay
        self._handle: Any = None
        self._last: Progress | None = None

    def __call__(self, progress: Progress) -> None:
        self._last = progress
        if self._handle is None and progress.elapsed < self.delay:
            return
        self._show(self._bundle(progress))

    def _show(self, bundle: dict[str, str]) -> None:
        from IPython.display import display

        if self._handle is None:
            self._handle = display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)

    def _bundle(self, progress: Progress, stopped: str | None = None) -> dict[str, str]:
        fraction = progress.fraction
        percent = "" if fraction is None else f"{fraction * 100:.0f}%"
        text = stopped or progress.describe()
        state = "done" if progress.finished else ("stopped" if stopped else "running")
        value = "" if fraction is None else f' value="{fraction * 100:.1f}"'
        colour = "#c0392b" if stopped else "inherit"
        import html  # only where a notebook draws the bar

        markup = (
            f'<div class="sessions-progress" data-state="{state}" '
            'style="display:flex;align-items:center;gap:0.6em;'
            "font-family:var(--jp-code-font-family,monospace);"
            'font-size:var(--jp-code-font-size,13px)">'
            f"<span><b>{html.escape(self.label)}</b></span>"
            f'<progress max="100"{value} style="width:16em"></progress>'
            f"<span>{percent}</span>"
            f'<span style="color:{colour}">{html.escape(text)}</span></div>'
        )
        plain = f"{self.label} {_bar_text(fraction)} {percent} {text}".replace("  ", " ")
        return {"text/html": markup, "text/plain": plain}

    def close(self, error: BaseException | None = None) -> None:
        """On an error, a bar already shown says it stopped short (and why, briefly)."""
        if error is None or self._handle is None or self._last is None:
            return
        why = "cancelled" if isinstance(error, Cancelled) else "stopped: failed"
        self._show(self._bundle(self._last, stopped=f"{why} at {self._last.describe()}"))


def in_kernel() -> bool:
    """Whether this process is a Jupyter kernel running IPython (a notebook's, usually)."""
    ipython = sys.modules.get("IPython")
    if ipython is None or "ipykernel" not in sys.modules:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:
        return False
    return shell is not None and type(shell).__module__.startswith("ipykernel")


def display_for(label: str, *, delay: float = 0.0) -> ProgressDisplay | None:
    """The progress display for where this runs: a notebook bar in a kernel, a rich bar
    when stderr is a terminal, else ``None``."""
    if in_kernel():
        return NotebookProgress(label, delay=delay)
    from sessions.tui.progress import terminal_progress

    return terminal_progress(label, delay=delay)
