"""The variables of the selected snapshot: name, type, shape, size; marks and skips."""

from __future__ import annotations

from rich.text import Text

from sessions.tui.components.vim_table import VimTable
from sessions.tui.data import Detail
from sessions.tui.formatting import human_size, shape_of

HELP = "Variables of the snapshot. Space marks a variable for a partial restore; r restores the marked ones and what they need."
SKIPPED = "\x00skipped:"


class VariableTable(VimTable):
    BORDER_TITLE = "Variables"

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.add_column(" ", key="mark", width=1)
        self.add_column("Name", key="name", width=14)
        self.add_column("Type", key="type", width=16)
        self.add_column("Shape", key="shape", width=9)
        self.add_column("Size", key="size", width=8)
        self.detail: Detail | None = None

    def show(self, detail: Detail | None) -> None:
        """List ``detail``'s variables. The same snapshot shown again (the list was reloaded,
        the daemon said it changed) keeps the cursor on the variable it was on."""
        same = detail is not None and self.detail is not None
        keep = self.current_name() if same and self.detail.row.path == detail.row.path else None
        self.detail = detail
        self.clear()
        if detail is None:
            return
        if detail.manifest is not None:
            for var in detail.manifest.variables:
                self.add_row(
                    self._mark(var.name),
                    Text(var.name, style="bold"),
                    var.type,
                    shape_of(var.preview),
                    Text(human_size(var.memory), justify="right"),
                    key=var.name,
                )
            for record in detail.manifest.imports:
                self.add_row(
                    " ",
                    record.name,
                    Text(f"import {record.module}", style="dim"),
                    "",
                    "",
                    key=f"\x00import:{record.name}",
                )
            for name in detail.manifest.skipped:
                self.add_row(
                    " ",
                    Text(name, style="dim strike"),
                    Text("skipped", style="red"),
                    "",
                    "",
                    key=f"{SKIPPED}{name}",
                )
        elif detail.foreign is not None:
            for name, kind in detail.foreign.variables.items():
                self.add_row(" ", Text(name, style="bold"), kind, "", "", key=name)
        self.border_subtitle = self._subtitle()
        if keep is not None and keep in self.rows:
            self.move_cursor(row=self.get_row_index(keep), animate=False)

    def _mark(self, name: str) -> Text:
        marked = self.detail is not None and name in self.detail.marked
        return Text("●" if marked else " ", style="bold green")

    def _subtitle(self) -> str:
        if self.detail is None or not self.detail.marked:
            return ""
        return f"{len(self.detail.marked)} marked"

    def current_name(self) -> str | None:
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value

    def toggle_mark(self) -> str | None:
        """Mark or unmark the highlighted variable; returns its name (None if not markable)."""
        name = self.current_name()
        if (
            self.detail is None
            or self.detail.manifest is None
            or name is None
            or name.startswith("\x00")
        ):
            return None
        if name in self.detail.marked:
            self.detail.marked.discard(name)
        else:
            self.detail.marked.add(name)
        self.update_cell(name, "mark", self._mark(name))
        self.border_subtitle = self._subtitle()
        return name
