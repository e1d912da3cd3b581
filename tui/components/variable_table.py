"""The variables of the selected snapshot: name, type, size, shape; marks, imports, skips.

Types are shown short (``Generator`` for ``numpy.random._generator.Generator``; the preview
shows the full name). Columns by importance: Name, Type, Size, then Shape as width allows.
Variables that look like credentials are shown in yellow (their previews are masked)."""

from __future__ import annotations

from rich.text import Text

from sessions.tui.components.columns import ColumnSpec
from sessions.tui.components.vim_table import FittedTable
from sessions.tui.data import Detail
from sessions.tui.formatting import human_size, shape_of, short_type

HELP = (
    "Variables of the snapshot. Space marks a variable for a partial restore; r restores the "
    "marked ones and what they need. Names in yellow look like credentials: their previews "
    "are masked until you reveal them (x), and sharing leaves them out."
)
SKIPPED = "\x00skipped:"
IMPORT = "\x00import:"

# (key, name, type, shape, size) of one row, before it is fitted to the columns
_Cells = tuple[str, Text, Text, str, Text]


class VariableTable(FittedTable):
    BORDER_TITLE = "Variables"

    def on_mount(self) -> None:
        super().on_mount()
        self.detail: Detail | None = None
        self._cells: list[_Cells] = []

    def column_specs(self, rows: int) -> list[ColumnSpec]:
        names = max((len(c[1]) for c in self._cells), default=4)
        types = max((len(c[2]) for c in self._cells), default=4)
        shapes = max((len(c[3]) for c in self._cells), default=0)
        sizes = max((len(c[4]) for c in self._cells), default=0)
        specs = [
            ColumnSpec("name", "Name", min(max(names, 4), 32), min(max(names, 4), 10), 0),
            ColumnSpec("type", "Type", min(max(types, 4), 24), min(max(types, 4), 8), 1),
        ]
        if sizes:
            specs.append(ColumnSpec("size", "Size", max(sizes, 4), max(sizes, 4), 2))
        if shapes:
            specs.append(ColumnSpec("shape", "Shape", min(max(shapes, 5), 14), 5, 3))
        return specs

    def show(self, detail: Detail | None) -> None:
        """Show ``detail``'s variables; the same snapshot again keeps the cursor where it is."""
        same = (
            detail is not None
            and self.detail is not None
            and detail.row.path == self.detail.row.path
        )
        current = self.current_name() if same else None
        self.detail = detail
        self._cells = self._rows(detail)
        if not self.fit_columns(len(self._cells)):
            self.clear()
        self.refill_rows()
        if current is not None and current in self.rows:
            self.move_cursor(row=self.get_row_index(current), animate=False)
        self.border_subtitle = self._subtitle()

    def refill(self) -> None:
        current = self.current_name()
        self.refill_rows()
        if current is not None and current in self.rows:
            self.move_cursor(row=self.get_row_index(current), animate=False)

    def refill_rows(self) -> None:
        widths = self.widths()
        for key, name, type_, shape, size in self._cells:
            cells = {
                "name": self._name_cell(key, name),
                "type": type_,
                "shape": shape,
                "size": size,
            }
            self.add_row(*(cells[k] for k in widths), key=key)

    def _rows(self, detail: Detail | None) -> list[_Cells]:
        if detail is None:
            return []
        rows: list[_Cells] = []
        if detail.manifest is not None:
            for var in detail.manifest.variables:
                style = "bold yellow" if var.name in detail.secrets else "bold"
                rows.append(
                    (
                        var.name,
                        _cut(var.name, style),
                        _cut(short_type(var.type)),
                        shape_of(var.preview),
                        Text(human_size(var.memory), justify="right"),
                    )
                )
            for record in detail.manifest.imports:
                rows.append(
                    (
                        f"{IMPORT}{record.name}",
                        _cut(record.name),
                        _cut("import", "dim"),  # the preview shows the statement
                        "",
                        Text(""),
                    )
                )
            for name in detail.manifest.skipped:
                rows.append(
                    (
                        f"{SKIPPED}{name}",
                        _cut(name, "dim strike"),
                        Text("skipped", style="red"),
                        "",
                        Text(""),
                    )
                )
        elif detail.foreign is not None:
            for name, kind in detail.foreign.variables.items():
                rows.append((name, _cut(name, "bold"), _cut(short_type(kind)), "", Text("")))
        return rows

    def _name_cell(self, key: str, name: Text) -> Text:
        """The name cell: a marked variable starts with a green dot."""
        if self.detail is None or key not in self.detail.marked:
            return name
        marked = Text("● ", style="bold green", overflow="ellipsis", no_wrap=True)
        return marked.append_text(name)

    def _subtitle(self) -> str:
        if self.detail is None or not self.detail.marked:
            return ""
        return f"{len(self.detail.marked)} marked"

    def current_name(self) -> str | None:
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value

    def markable(self) -> bool:
        """Whether the highlighted row is a saved variable (imports and skips are not)."""
        name = self.current_name()
        return (
            self.detail is not None
            and self.detail.manifest is not None
            and name is not None
            and not name.startswith("\x00")
        )

    def toggle_mark(self) -> str | None:
        """Mark or unmark the highlighted variable; returns its name (None if not markable)."""
        name = self.current_name()
        if not self.markable() or self.detail is None or name is None:
            return None
        if name in self.detail.marked:
            self.detail.marked.discard(name)
        else:
            self.detail.marked.add(name)
        cells = next(c for c in self._cells if c[0] == name)
        self.update_cell(name, "name", self._name_cell(name, cells[1]))
        self.border_subtitle = self._subtitle()
        return name


def _cut(text: str, style: str = "") -> Text:
    return Text(text, style=style, overflow="ellipsis", no_wrap=True)
