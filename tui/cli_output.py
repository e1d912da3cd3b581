"""How the command line writes for people: rich tables with aligned columns, colour on a
terminal, plain text when piped.

On a terminal, output is drawn with rich at the terminal's width (long cells end in "…").
Piped or redirected, the same tables come out as plain, space-aligned text with no colour,
no cropping and no trailing spaces, so ``grep``, ``awk`` and ``cut`` work on them. ``--json``
output never goes through here.
"""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from sessions.tui.formatting import one_line

_PIPED_WIDTH = 10_000  # piped output is never wrapped or cropped


def is_terminal(out: Any) -> bool:
    try:
        return bool(out.isatty())
    except (AttributeError, ValueError):
        return False


class _Table(Table):
    """A table whose plain-string cells are shown as they are, on one line: never read as
    markup, control characters escaped (cells come from manifests and remotes)."""

    def add_row(self, *renderables: RenderableType | None, **kwargs: Any) -> None:
        cells = [styled(c) if isinstance(c, str) else c for c in renderables]
        super().add_row(*cells, **kwargs)


def table(*columns: str, right: tuple[str, ...] = ()) -> Table:
    """A borderless table whose header is the column names; ``right`` ones are right-aligned
    (counts and sizes)."""
    grid = _Table(box=None, pad_edge=False, show_edge=False, header_style="bold", expand=False)
    for name in columns:
        grid.add_column(
            name,
            justify="right" if name in right else "left",
            no_wrap=True,
            overflow="ellipsis",
        )
    return grid


def styled(text: str, style: str = "") -> Text:
    """``text`` as it is, on one line (never read as markup, control characters shown as
    escapes: names and notes come from manifests, remotes and foreign files)."""
    return Text(one_line(text), style=style)


class Writer:
    """Writes renderables to ``out``: drawn by rich on a terminal, plain when piped."""

    def __init__(self, out: Any) -> None:
        self.out = out
        self.terminal = is_terminal(out)

    def _console(self, file: Any) -> Console:
        if self.terminal:
            return Console(file=file, highlight=False, emoji=False, soft_wrap=False)
        return Console(
            file=file,
            width=_PIPED_WIDTH,
            color_system=None,
            force_terminal=False,
            highlight=False,
            emoji=False,
            soft_wrap=True,
        )

    def print(self, *renderables: RenderableType | str) -> None:
        if self.terminal:
            console = self._console(self.out)
            for item in renderables:
                console.print(styled(item) if isinstance(item, str) else item)
            return
        buffer = io.StringIO()
        console = self._console(buffer)
        for item in renderables:
            console.print(styled(item) if isinstance(item, str) else item)
        text = "\n".join(line.rstrip() for line in buffer.getvalue().splitlines())
        self.out.write(text + "\n")

    def line(self, *parts: Text | str) -> None:
        """One line assembled from parts (plain strings are taken literally)."""
        self.print(Text.assemble(*(styled(p) if isinstance(p, str) else p for p in parts)))
