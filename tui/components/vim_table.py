"""A DataTable with vim and arrow keys both (j/k, g/G, ctrl+f/ctrl+b)."""

from __future__ import annotations

from textual.widgets import DataTable

from sessions.tui.bindings import CURSOR_BINDINGS


class VimTable(DataTable):
    BINDINGS = CURSOR_BINDINGS

    def action_first(self) -> None:
        if self.row_count:
            self.move_cursor(row=0)

    def action_last(self) -> None:
        if self.row_count:
            self.move_cursor(row=self.row_count - 1)
