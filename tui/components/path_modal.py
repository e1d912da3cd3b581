"""Asking for a file path: where to write a bundle (export), or which bundle to read (import).

Typed: ``PathModal(...)`` dismisses with the chosen absolute ``Path`` or ``None``. A problem
with the path (no such directory, not a file, a file that would be replaced) is said under
the input, not after the dialog closed; replacing a file takes a second enter.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from sessions.tui.formatting import local_path


class PathModal(ModalScreen[Path | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        title: str,
        body: str,
        default: Path,
        *,
        confirm: str,
        write: bool,
        default_name: str = "",
    ) -> None:
        """``write``: the path is a file to create (a directory means ``default_name`` in
        it); else an existing file to read."""
        super().__init__()
        self.title_text = title
        self.body = body
        self.default = default
        self.confirm = confirm
        self.write = write
        self.default_name = default_name
        self._replace: Path | None = None  # a file the user was told would be replaced

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.title_text, classes="dialog-title")
            yield Static(Text(self.body), classes="dialog-body")  # paths are not markup
            yield Input(local_path(self.default), id="path")
            yield Static("", id="path-problem", classes="dialog-problem")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.confirm} (enter)", variant="primary", id="ok")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        field = self.query_one("#path", Input)
        field.focus()
        field.cursor_position = len(field.value)

    def on_input_changed(self, _: Input.Changed) -> None:
        self._replace = None
        self._problem("")

    def on_input_submitted(self, _: Input.Submitted) -> None:
        self._choose()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self._choose()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _problem(self, text: str) -> None:
        problem = self.query_one("#path-problem", Static)
        problem.update(text)
        problem.display = bool(text)

    def _choose(self) -> None:
        raw = self.query_one("#path", Input).value.strip()
        if not raw:
            self._problem("Type a path.")
            return
        path = Path(raw).expanduser()
        if not path.is_absolute():
            path = Path.cwd() / path
        problem = self.check(path)
        if problem:
            self._problem(problem)
            return
        if self.write and path.is_dir():
            path = path / self.default_name
        elif self.write and not path.suffix and self.default_name:
            path = path.with_name(path.name + Path(self.default_name).suffix)
        if self.write and path.exists() and self._replace != path:
            self._replace = path
            self._problem(f"{path.name} is already there: enter again to replace it.")
            return
        self.dismiss(path)

    def check(self, path: Path) -> str:
        """What is wrong with ``path`` for this dialog ('' when nothing)."""
        if not self.write:
            if not path.exists():
                return f"No such file: {path}"
            return "" if path.is_file() else f"Not a file: {path}"
        if path.is_dir():
            return "" if self.default_name else f"{path} is a directory"
        if not path.parent.is_dir():
            return f"No such directory: {path.parent}"
        return ""
