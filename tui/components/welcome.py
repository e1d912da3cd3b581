"""The first-run screen: shown instead of the tables while the session dir holds nothing, it
says how to make a first snapshot (from a script, IPython, Jupyter or a running kernel) and
offers the demo."""

from __future__ import annotations

from pathlib import Path

from rich.console import Group
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from sessions.tui.formatting import local_path


def welcome_text(root: Path, keys: dict[str, str]) -> Group:
    """What the first-run screen says; ``keys`` are the keys of the actions it names, as
    configured (``open_demo``, ``snapshot_kernel``, ``start_daemon``, ``refresh``)."""
    ways = Table.grid(padding=(0, 2))
    ways.add_column(style="bold", no_wrap=True)
    ways.add_column()
    ways.add_row("Python", Syntax('import sessions\nsessions.save("analysis")', "python"))
    ways.add_row(
        "IPython, Jupyter", Syntax("%load_ext sessions\n%sessions save analysis", "python")
    )
    ways.add_row(
        "A running kernel",
        Text.assemble(
            "press ", (keys["snapshot_kernel"], "bold cyan"), " (nothing is added to the notebook)"
        ),
    )
    return Group(
        Text("No snapshots yet", style="bold"),
        Text(f"in {local_path(root)}", style="dim"),
        Text(""),
        Text("Save your first one:"),
        ways,
        Text(""),
        Text.assemble(
            "New snapshots appear here as they are saved (",
            (keys["start_daemon"], "bold cyan"),
            " starts the daemon that watches; ",
            (keys["refresh"], "bold cyan"),
            " reads again).",
            style="dim",
        ),
        Text(""),
        Text.assemble(
            "Just looking? Press ",
            (keys["open_demo"], "bold cyan"),
            " to open the demo: a small churn analysis, in a session dir of its own.",
        ),
    )


class Welcome(VerticalScroll):
    """Where the tables are, until there is something to list."""

    BORDER_TITLE = "Welcome"

    def compose(self) -> ComposeResult:
        yield Static(id="welcome-text")

    def show(self, root: Path, keys: dict[str, str]) -> None:
        self.query_one("#welcome-text", Static).update(welcome_text(root, keys))
