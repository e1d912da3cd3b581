"""Help for the focused pane: what it shows, its keys, and the app's keys (from the one
action table in tui.bindings)."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from sessions.tui.bindings import ACTIONS, key_label

CURSOR_HELP = [
    ("j, down / k, up", "move"),
    ("g, home / G, end", "first / last"),
    ("ctrl+f, ctrl+d, pgdn / ctrl+u, pgup", "page"),
]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "close", "Close")]

    def __init__(self, pane: str, about: str, keys: dict[str, str]) -> None:
        super().__init__()
        self.pane = pane
        self.about = about
        self.keys = keys  # action id -> key as configured

    def compose(self) -> ComposeResult:
        table = Table(show_header=True, header_style="bold", expand=True, box=None)
        table.add_column("Key", style="bold cyan", no_wrap=True)
        table.add_column("Action")
        for keys, what in CURSOR_HELP:
            table.add_row(keys, what)
        for action in ACTIONS:
            table.add_row(key_label(self.keys.get(action.id, action.keys)), action.help)
        with Vertical(classes="dialog wide"):
            yield Static(f"Help — {self.pane}", classes="dialog-title")
            with VerticalScroll(classes="dialog-scroll"):
                yield Static(Group(Text(self.about), Text(""), table))
            yield Static(
                "esc: close   keys can be changed in config.toml under [tui.keys]",
                classes="dialog-hint",
            )

    def action_close(self) -> None:
        self.dismiss(None)
