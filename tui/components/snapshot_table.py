"""The snapshots of the selected group, newest first, with pin and damage badges.

Columns by importance: Time, Snapshot and Vars always; then the badge (when a row has one),
Size, Note and Tags as the width allows (``columns.fit``)."""

from __future__ import annotations

import datetime as _dt

from rich.text import Text

from sessions.core.store.catalog import Row
from sessions.tui.components.columns import ColumnSpec
from sessions.tui.components.vim_table import FittedTable
from sessions.tui.formatting import human_size, local_time
from sessions.tui.idle_gc import settle_soon

HELP = "Snapshots, newest first. Enter opens one; r restores, d deletes, p pins, n edits the note, c compares."

FULL_TIME = 16  # 2026-01-01 10:00
SHORT_TIME = 11  # 01-01 10:00


def badges(row: Row) -> Text:
    text = Text()
    if row.damaged:
        text.append("DAMAGED", style="bold red")
    elif row.pinned:
        text.append("PINNED", style="bold yellow")
    return text


def _tags(row: Row) -> str:
    return " ".join(f"#{t}" for t in row.tags)


def _time(created: float, width: int) -> str:
    if width >= FULL_TIME:
        return local_time(created)[:FULL_TIME]
    return _dt.datetime.fromtimestamp(created).strftime("%m-%d %H:%M")


class SnapshotTable(FittedTable):
    BORDER_TITLE = "Snapshots"

    def on_mount(self) -> None:
        super().on_mount()
        self.zebra_stripes = True
        self.rows_by_key: dict[str, Row] = {}
        self.all_rows: list[Row] = []

    FIRST_PAGE = 200
    CHUNK = 100  # rows added per event-loop turn: keeps each frame short while filling

    def column_specs(self, rows: int) -> list[ColumnSpec]:
        shown = self.all_rows
        longest_ref = max((len(r.ref) for r in shown), default=12)
        longest_note = max((len(r.damaged or r.note) for r in shown), default=0)
        longest_tags = max((len(_tags(r)) for r in shown), default=0)
        specs = []
        if any(r.damaged or r.pinned for r in shown):
            specs.append(ColumnSpec("badge", "", 7, 7, 3))
        specs += [
            ColumnSpec("time", "Time", FULL_TIME, SHORT_TIME, 0),
            ColumnSpec("ref", "Snapshot", min(longest_ref, 40), min(longest_ref, 16), 0),
            ColumnSpec("vars", "Vars", 4, 4, 1),
            ColumnSpec("size", "Size", 9, 9, 2),
            ColumnSpec("note", "Note", min(max(longest_note, 4), 60), 10, 4),
        ]
        if longest_tags:
            specs.append(ColumnSpec("tags", "Tags", min(longest_tags, 30), 10, 5))
        return specs

    def show_rows(self, rows: list[Row], keep: str | None = None) -> None:
        """Show ``rows``: the first page at once (the cursor stays on ``keep`` when it is
        there), the rest in chunks between frames."""
        self._generation = getattr(self, "_generation", 0) + 1
        self.all_rows = list(rows)
        if not self.fit_columns(len(rows)):
            self.clear()
        self.rows_by_key = {}
        self.add_rows_batch(rows[: self.FIRST_PAGE])
        if keep and keep in self.rows_by_key:
            self.move_cursor(row=self.get_row_index(keep))
        if len(rows) > self.FIRST_PAGE:
            self._fill(rows, self.FIRST_PAGE, self._generation)
        else:
            settle_soon()

    def refill(self) -> None:
        current = self.current()
        self.show_rows(self.all_rows, keep=current.path if current else None)

    def extend_rows(self, rows: list[Row], keep: str | None = None) -> None:
        """Show ``rows`` where the table already shows their first rows: only the rest is
        added (in chunks), so the cursor and the screen do not jump."""
        shown = list(self.rows_by_key)
        if shown and len(shown) <= len(rows) and [r.path for r in rows[: len(shown)]] == shown:
            self.all_rows = list(rows)
            if self.fit_columns(len(rows)):  # the new rows want other columns: redraw all
                self.show_rows(rows, keep)
                return
            self._generation = getattr(self, "_generation", 0) + 1
            if len(rows) > len(shown):
                self._fill(rows, len(shown), self._generation)
            return
        self.show_rows(rows, keep)

    def _fill(self, rows: list[Row], start: int, generation: int) -> None:
        if generation != self._generation:
            return  # newer rows replaced these
        self.add_rows_batch(rows[start : start + self.CHUNK])
        if start + self.CHUNK < len(rows):
            self.set_timer(0.001, lambda: self._fill(rows, start + self.CHUNK, generation))
        else:
            settle_soon()

    def add_rows_batch(self, rows: list[Row]) -> None:
        widths = self.widths()
        for row in rows:
            self.rows_by_key[row.path] = row
            cells = {
                "badge": badges(row),
                "time": _time(row.created, widths.get("time", FULL_TIME)),
                "ref": Text(row.ref, style="bold", overflow="ellipsis", no_wrap=True),
                "vars": "?" if row.nvars is None else str(row.nvars),
                "size": Text(human_size(row.stored), justify="right"),
                "note": Text(row.damaged or row.note, overflow="ellipsis", no_wrap=True),
                "tags": Text(_tags(row), overflow="ellipsis", no_wrap=True),
            }
            self.add_row(*(cells[key] for key in widths), key=row.path)

    def current(self) -> Row | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return self.rows_by_key.get(key or "")
