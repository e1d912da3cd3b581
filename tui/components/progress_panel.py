"""The status area under the panes: one line per running operation — what it is, a progress
bar, bytes and items done of their totals, the rate and the time left — and how to cancel
it. Hidden while nothing runs. Fed by the operation messages of ``tui.operations``."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import ProgressBar, Static

from sessions.core.progress import Progress
from sessions.tui.formatting import progress_figures
from sessions.tui.operations import Operation


class OperationRow(Horizontal):
    """One running operation."""

    def __init__(self, operation: Operation, cancel_key: str) -> None:
        super().__init__(id=f"operation-{operation.id}", classes="operation")
        self.operation = operation
        self.cancel_key = cancel_key
        self.last: Progress | None = None

    def compose(self) -> ComposeResult:
        # one line on wide terminals; on narrow ones the figures go under the bar
        with Horizontal(classes="operation-head"):
            yield Static(Text(self.operation.title, style="bold"), classes="operation-title")
            yield ProgressBar(
                total=None, show_percentage=False, show_eta=False, classes="operation-bar"
            )
        yield Static("", classes="operation-figures")

    def on_mount(self) -> None:
        self._draw()

    def show(self, progress: Progress) -> None:
        self.last = progress
        self._draw()

    def _draw(self) -> None:
        bars = self.query(ProgressBar)
        if not bars:
            return  # not composed yet: on_mount draws the last record
        fraction = self.last.fraction if self.last is not None else None
        if fraction is not None:  # else the bar keeps moving: working, amount unknown
            bars.first().update(total=1000, progress=round(1000 * fraction))
        self.show_figures()

    def show_figures(self) -> None:
        text = Text(progress_figures(self.last) if self.last else "starting…")
        if self.last is not None and self.last.item:
            text.append(f" · {self.last.item}", style="dim")
        if self.operation.cancel_requested:
            text.append("  cancelling…", style="bold yellow")
        elif self.operation.cancellable:
            text.append(f"  {self.cancel_key} cancels", style="dim")
        self.query_one(".operation-figures", Static).update(text)


class ProgressPanel(Vertical):
    """Every running operation, newest last. Notifications stack above it, not over it."""

    TOAST_MARGIN = 1  # Textual's own space under the toasts (the footer)

    def add(self, operation: Operation, cancel_key: str) -> None:
        self.mount(OperationRow(operation, cancel_key))
        self.display = True
        self.call_after_refresh(self.lift_toasts)

    def on_resize(self) -> None:
        self.lift_toasts()

    def lift_toasts(self) -> None:
        """Keep the screen's notifications clear of the panel: a toast docked at the bottom
        would otherwise cover the figures of the running operation."""
        height = self.outer_size.height if self.display else 0
        for rack in self.screen.query("#textual-toastrack"):  # Textual's toast container
            rack.styles.margin = (0, 0, self.TOAST_MARGIN + height, 0)

    def row(self, operation_id: int) -> OperationRow | None:
        found = self.query(f"#operation-{operation_id}")
        return found.first(OperationRow) if found else None

    def show(self, operation_id: int, progress: Progress) -> None:
        row = self.row(operation_id)
        if row is not None:
            row.show(progress)

    def cancelling(self, operation_id: int) -> None:
        row = self.row(operation_id)
        if row is not None:
            row.show_figures()

    def remove_operation(self, operation_id: int) -> None:
        row = self.row(operation_id)
        if row is not None:
            row.remove()
        self.display = len(self.query(OperationRow)) > (1 if row is not None else 0)
        self.call_after_refresh(self.lift_toasts)
