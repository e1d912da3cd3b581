"""How to share a snapshot: export a bundle file, or push to a team remote and copy the one
line a teammate runs to pull it. Variables that look secret are left out unless included."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from sessions.tui.components.restore_modal import _TargetList


@dataclass(frozen=True)
class ShareChoice:
    action: str  # "export" or "push"
    remote: str | None = None
    include_secrets: bool = False


class ShareModal(ModalScreen[ShareChoice | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("i", "toggle_secrets", "Include secrets"),
    ]

    def __init__(self, ref: str, remotes: dict[str, str], secrets: dict[str, str]) -> None:
        super().__init__()
        self.ref = ref
        self.remotes = remotes
        self.secrets = secrets
        self.include_secrets = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(f"Share {self.ref}", classes="dialog-title", markup=False)
            yield Static(self._body(), id="share-body", classes="dialog-body", markup=False)
            options = [Option("Export a bundle file (asks where)", id="export")]
            for name, url in self.remotes.items():
                options.append(
                    Option(f"Push to {name} ({url}) and copy the pull command", id=f"push:{name}")
                )
            if not self.remotes:
                options.append(
                    Option(
                        "No team remote yet: sessions-tui remote add NAME DIR-or-s3://…",
                        id="none",
                        disabled=True,
                    )
                )
            yield _TargetList(*options, id="share-targets")
            yield Static(self._hint(), id="share-hint", classes="dialog-hint")

    def _body(self) -> str:
        text = "Signed with your key; teammates who trust it can load it."
        if not self.secrets:
            return text + "\nNothing in it looks like a credential."
        names = ", ".join(self.secrets)
        if self.include_secrets:
            return text + f"\nIncluding what looks like credentials: {names}."
        return text + f"\nLeft out because they look like credentials: {names}."

    def _hint(self) -> str:
        secrets = "on" if self.include_secrets else "off"
        return f"enter: share   i: include secrets ({secrets})   esc: cancel"

    def on_mount(self) -> None:
        self.query_one("#share-targets", OptionList).focus()

    def action_toggle_secrets(self) -> None:
        self.include_secrets = not self.include_secrets
        self.query_one("#share-body", Static).update(self._body())
        self.query_one("#share-hint", Static).update(self._hint())

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        option = event.option.id or ""
        if option == "export":
            self.dismiss(ShareChoice("export", include_secrets=self.include_secrets))
        elif option.startswith("push:"):
            self.dismiss(ShareChoice("push", option[5:], self.include_secrets))

    def action_cancel(self) -> None:
        self.dismiss(None)
