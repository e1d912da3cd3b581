"""Pulling a teammate's snapshot: every snapshot on the configured team remotes, newest
version first; choosing one pulls it into this session dir (checked and signed as always)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from sessions.tui.components.restore_modal import _TargetList


@dataclass(frozen=True)
class RemoteChoice:
    remote: str
    ref: str  # owner/name@version


class PullModal(ModalScreen[RemoteChoice | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, listed: dict[str, list[str]], problems: dict[str, str]) -> None:
        """``listed``: remote name -> its snapshot refs; ``problems``: remote name -> why it
        could not be listed."""
        super().__init__()
        self.choices: dict[str, RemoteChoice] = {}
        options: list[Option] = []
        for remote, refs in listed.items():
            for ref in refs:
                key = f"{remote}\x00{ref}"
                self.choices[key] = RemoteChoice(remote, ref)
                options.append(Option(Text.assemble(ref, (f"  on {remote}", "dim")), id=key))
        for remote, why in problems.items():
            problem = Text(f"{remote}: {why}", style="red")
            options.append(Option(problem, id=f"\x00{remote}", disabled=True))
        if not options:
            options.append(Option("Nothing on the team remotes yet", id="\x00none", disabled=True))
        self.options = options

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("Pull a teammate's snapshot", classes="dialog-title")
            yield Static(
                "Pulled snapshots are checked against their signer's key and listed under "
                "Imported.",
                classes="dialog-body",
            )
            yield _TargetList(*self.options, id="remote-snapshots")
            yield Static("enter: pull   esc: cancel", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#remote-snapshots", OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        choice = self.choices.get(event.option.id or "")
        if choice is not None:
            self.dismiss(choice)

    def action_cancel(self) -> None:
        self.dismiss(None)
