"""Where to restore to: a new Python shell, a running Jupyter kernel, or the clipboard."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from sessions.tui.bindings import CURSOR_BINDINGS
from sessions.tui.formatting import plural


@dataclass(frozen=True)
class Target:
    id: str  # "shell", "clipboard" or "kernel:<kernel id>"
    label: str


class RestoreModal(ModalScreen[Target | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, ref: str, names: list[str] | None, targets: list[Target]) -> None:
        super().__init__()
        self.ref = ref
        self.names = names
        self.targets = targets

    def compose(self) -> ComposeResult:
        what = (
            f"{plural(len(self.names), 'marked variable')} ({', '.join(self.names)}) and what "
            "they need"
            if self.names
            else "every variable"
        )
        with Vertical(classes="dialog"):
            yield Static(f"Restore {self.ref}", classes="dialog-title", markup=False)
            yield Static(f"Restores {what}.", classes="dialog-body", markup=False)
            options = _TargetList(*[Option(t.label, id=t.id) for t in self.targets], id="targets")
            yield options
            yield Static("enter: restore   esc: cancel", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#targets", OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        chosen = next(t for t in self.targets if t.id == event.option.id)
        self.dismiss(chosen)

    def action_cancel(self) -> None:
        self.dismiss(None)


class KernelModal(ModalScreen[Target | None]):
    """Which running kernel to snapshot."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, kernels: list[Target]) -> None:
        super().__init__()
        self.kernels = kernels

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("Snapshot a running kernel", classes="dialog-title")
            yield Static(
                "Saves its variables as a new snapshot, silently: nothing is added to the "
                "notebook or its history.",
                classes="dialog-body",
            )
            yield _TargetList(*[Option(t.label, id=t.id) for t in self.kernels], id="kernels")
            yield Static("enter: snapshot   esc: cancel", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#kernels", OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(next(t for t in self.kernels if t.id == event.option.id))

    def action_cancel(self) -> None:
        self.dismiss(None)


class _TargetList(OptionList):
    BINDINGS = CURSOR_BINDINGS

    def action_first(self) -> None:
        self.highlighted = 0

    def action_last(self) -> None:
        self.highlighted = max(0, self.option_count - 1)
