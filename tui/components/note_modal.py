"""Editing a snapshot's note and tags (stored as an annotation; the manifest never changes)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


class NoteModal(ModalScreen[tuple[str, tuple[str, ...]] | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, ref: str, note: str, tags: tuple[str, ...]) -> None:
        super().__init__()
        self.ref = ref
        self.note = note
        self.tags = tags

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(f"Note and tags of {self.ref}", classes="dialog-title", markup=False)
            yield Label("Note")
            yield Input(self.note, id="note", placeholder="what this snapshot is")
            yield Label("Tags (separated by spaces or commas)")
            yield Input(" ".join(self.tags), id="tags", placeholder="e.g. cleaned model")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save (enter)", variant="primary", id="save")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#note", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "note":
            self.query_one("#tags", Input).focus()
        else:
            self._save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self._save()
        else:
            self.dismiss(None)

    def _save(self) -> None:
        note = self.query_one("#note", Input).value.strip()
        raw = self.query_one("#tags", Input).value.replace(",", " ")
        tags = tuple(dict.fromkeys(t.lstrip("#") for t in raw.split() if t.lstrip("#")))
        self.dismiss((note, tags))

    def action_cancel(self) -> None:
        self.dismiss(None)
