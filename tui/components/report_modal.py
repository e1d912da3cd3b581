"""After a restore: what loaded, what failed and why, and which versions differ."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from sessions.tui.formatting import plural


def render_report(report: dict[str, Any]) -> Group:
    loaded = report.get("loaded", [])
    failed = report.get("failed", {})
    warnings = report.get("warnings", [])
    imported = report.get("imported", [])
    parts: list[Any] = [
        Text.assemble(
            (f"{len(loaded)} loaded", "bold green"),
            f", {plural(len(imported), 'import')}",
            (f", {len(failed)} failed" if failed else "", "bold red"),
        )
    ]
    if failed:
        table = Table(show_header=True, header_style="bold", expand=True, box=box.SIMPLE_HEAD)
        table.add_column("Variable", style="bold")
        table.add_column("Why it failed", style="red")
        for name, reason in failed.items():
            table.add_row(name, reason)
        parts += [Text(""), table]
    if loaded:
        parts += [Text(""), Text("Loaded: " + ", ".join(loaded))]
    for warning in warnings:
        parts.append(Text(f"warning: {warning}", style="yellow"))
    return Group(*parts)


class ReportModal(ModalScreen[None]):
    BINDINGS = [Binding("escape,enter,q", "close", "Close")]

    def __init__(self, title: str, report: dict[str, Any]) -> None:
        super().__init__()
        self.title_text = title
        self.report = report

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(self.title_text, classes="dialog-title", markup=False)
            with VerticalScroll(classes="dialog-scroll"):
                yield Static(render_report(self.report), id="report")
            yield Static("enter/esc: close", classes="dialog-hint")

    def action_close(self) -> None:
        self.dismiss(None)
