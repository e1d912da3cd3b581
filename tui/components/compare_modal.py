"""Comparing two snapshots: pick the other one, then see what was added, removed, changed."""

from __future__ import annotations

from rich import box
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from sessions.core.engine.compare import Comparison
from sessions.core.store.catalog import Row
from sessions.tui.bindings import CURSOR_BINDINGS
from sessions.tui.formatting import local_time


class _Choices(OptionList):
    BINDINGS = CURSOR_BINDINGS

    def action_first(self) -> None:
        self.highlighted = 0

    def action_last(self) -> None:
        self.highlighted = max(0, self.option_count - 1)


class PickSnapshotModal(ModalScreen[Row | None]):
    """Choose the snapshot to compare with (other versions of the same name first)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: Row, candidates: list[Row]) -> None:
        super().__init__()
        self.current = current
        same = [r for r in candidates if r.name == current.name and r.path != current.path]
        others = [
            r
            for r in candidates
            if r.name != current.name and r.kind == "snapshot" and not r.damaged
        ]
        self.candidates = same + others

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(f"Compare {self.current.ref} with…", classes="dialog-title", markup=False)
            yield _Choices(
                *[
                    Option(
                        Text.assemble(
                            f"{r.ref:<28} ", (f"{local_time(r.created)}  {r.note}", "dim")
                        ),
                        id=r.path,
                    )
                    for r in self.candidates
                ],
                id="choices",
            )
            yield Static("enter: compare   esc: cancel", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#choices", OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(next(r for r in self.candidates if r.path == event.option.id))

    def action_cancel(self) -> None:
        self.dismiss(None)


def render_comparison(result: Comparison) -> Table:
    table = Table(show_header=True, header_style="bold", expand=True, box=box.SIMPLE_HEAD)
    table.add_column("", width=1)
    table.add_column("Variable", style="bold")
    table.add_column(result.left)
    table.add_column(result.right)
    table.add_column("Change")
    for change in result.added:
        table.add_row(
            Text("+", style="green"), change.name, "", change.after, Text("added", style="green")
        )
    for change in result.removed:
        table.add_row(
            Text("-", style="red"), change.name, change.before, "", Text("removed", style="red")
        )
    for change in result.changed:
        table.add_row(
            Text("~", style="yellow"),
            change.name,
            change.before,
            change.after,
            Text(change.detail, style="yellow"),
        )
    return table


class CompareModal(ModalScreen[None]):
    BINDINGS = [Binding("escape,enter,q", "close", "Close")]

    def __init__(self, result: Comparison) -> None:
        super().__init__()
        self.result = result

    def compose(self) -> ComposeResult:
        result = self.result
        summary = (
            f"{len(result.added)} added, {len(result.removed)} removed, "
            f"{len(result.changed)} changed, {len(result.same)} unchanged"
        )
        with Vertical(classes="dialog wide"):
            yield Static(f"{result.left} → {result.right}", classes="dialog-title", markup=False)
            yield Static(summary, classes="dialog-body")
            with VerticalScroll(classes="dialog-scroll"):
                yield Static(render_comparison(result), id="comparison")
            yield Static("enter/esc: close", classes="dialog-hint")

    def action_close(self) -> None:
        self.dismiss(None)
