"""What a finished operation found, when it is more than a toast can hold: a verify that
found corruption, a garbage collection's figures. Lines in red are problems."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class OutcomeModal(ModalScreen[None]):
    BINDINGS = [Binding("escape,enter,q", "close", "Close")]

    def __init__(self, title: str, summary: str, problems: list[str] | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.summary = summary
        self.problems = problems or []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(self.title_text, classes="dialog-title")
            yield Static(self.summary, id="outcome-summary", classes="dialog-body")
            if self.problems:
                with VerticalScroll(classes="dialog-scroll"):
                    yield Static(
                        Group(*(Text(line, style="red") for line in self.problems)),
                        id="outcome-problems",
                    )
            yield Static("enter/esc: close", classes="dialog-hint")

    def action_close(self) -> None:
        self.dismiss(None)
