"""The snapshots of the selected group, newest first, with pin and damage badges."""

from __future__ import annotations

from rich.text import Text

from sessions.core.store.catalog import Row
from sessions.tui.components.vim_table import VimTable
from sessions.tui.formatting import human_size, local_time
from sessions.tui.idle_gc import settle_soon

HELP = "Snapshots, newest first. Enter opens one; r restores, d deletes, p pins, n edits the note, c compares."


def badges(row: Row) -> Text:
    text = Text()
    if row.damaged:
        text.append("DAMAGED", style="bold red")
    elif row.pinned:
        text.append("PINNED", style="bold yellow")
    return text


class SnapshotTable(VimTable):
    BORDER_TITLE = "Snapshots"

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self.add_column("", key="badge", width=7)
        self.add_column("Time", key="time", width=16)
        self.add_column("Snapshot", key="ref", width=24)
        self.add_column("Vars", key="vars", width=4)
        self.add_column("Size", key="size", width=9)
        self.add_column("Note", key="note", width=24)
        self.add_column("Tags", key="tags", width=18)
        self.rows_by_key: dict[str, Row] = {}

    FIRST_PAGE = 200
    CHUNK = 100  # rows added per event-loop turn: keeps each frame short while filling

    def show_rows(self, rows: list[Row], keep: str | None = None) -> None:
        """Show ``rows``: the first page at once (the cursor stays on ``keep`` when it is
        there), the rest in chunks between frames."""
        self._generation = getattr(self, "_generation", 0) + 1
        self.clear()
        self.rows_by_key = {}
        self.add_rows_batch(rows[: self.FIRST_PAGE])
        if keep and keep in self.rows_by_key:
            self.move_cursor(row=self.get_row_index(keep))
        if len(rows) > self.FIRST_PAGE:
            self._fill(rows, self.FIRST_PAGE, self._generation)
        else:
            settle_soon()

    def extend_rows(self, rows: list[Row], keep: str | None = None) -> None:
        """Show ``rows`` where the table already shows their first rows: only the rest is
        added (in chunks), so the cursor and the screen do not jump."""
        shown = list(self.rows_by_key)
        if shown and len(shown) <= len(rows) and [r.path for r in rows[: len(shown)]] == shown:
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
        for row in rows:
            self.rows_by_key[row.path] = row
            self.add_row(
                badges(row),
                local_time(row.created)[:16],
                Text(row.ref, style="bold"),
                "?" if row.nvars is None else str(row.nvars),
                Text(human_size(row.stored), justify="right"),
                row.damaged if row.damaged else row.note,
                " ".join(f"#{t}" for t in row.tags),
                key=row.path,
            )

    def current(self) -> Row | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return self.rows_by_key.get(key or "")
