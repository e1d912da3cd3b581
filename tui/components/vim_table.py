"""DataTables with vim and arrow keys both (j/k, g/G, ctrl+f/ctrl+u), and a table whose
columns are fitted to its width (see ``columns``)."""

from __future__ import annotations

from textual import events
from textual.widgets import DataTable

from sessions.tui.bindings import CURSOR_BINDINGS
from sessions.tui.components.columns import ColumnSpec, fit


class VimTable(DataTable):
    BINDINGS = CURSOR_BINDINGS

    def action_first(self) -> None:
        if self.row_count:
            self.move_cursor(row=0)

    def action_last(self) -> None:
        if self.row_count:
            self.move_cursor(row=self.row_count - 1)


class FittedTable(VimTable):
    """A table whose columns are chosen and sized for the width it has: subclasses say what
    their columns want (``column_specs``) and add their rows again when the columns change
    (``refill``). It never scrolls sideways."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.fitted: tuple[tuple[str, int], ...] = ()

    def column_specs(self, rows: int) -> list[ColumnSpec]:
        raise NotImplementedError

    def refill(self) -> None:
        """Add the rows again after the columns changed."""
        raise NotImplementedError

    def widths(self) -> dict[str, int]:
        return dict(self.fitted)

    def available_width(self, rows: int) -> int:
        """The cells the columns can use: the content width, less a vertical scrollbar when
        ``rows`` rows will not fit."""
        width, height = self.size
        if rows + self.header_height > height:
            width -= self.styles.scrollbar_size_vertical
        return max(0, width)

    def fit_columns(self, rows: int) -> bool:
        """Set the columns for the current width and ``rows`` rows of content; True when they
        changed (and the table was cleared: the caller adds its rows again)."""
        specs = self.column_specs(rows)
        fitted = tuple(
            (spec.key, width)
            for spec, width in fit(specs, self.available_width(rows), self.cell_padding)
        )
        if fitted == self.fitted and self.columns:
            return False
        labels = {spec.key: spec.label for spec in specs}
        self.clear(columns=True)
        for key, width in fitted:
            self.add_column(labels[key], key=key, width=width)
        self.fitted = fitted
        return True

    def on_resize(self, event: events.Resize) -> None:
        if self.size.width and self.fit_columns(self.row_count):
            self.refill()
