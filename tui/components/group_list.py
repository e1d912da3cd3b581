"""The left pane: sessions grouped by origin, with counts."""

from __future__ import annotations

from textual.widgets import OptionList
from textual.widgets.option_list import Option

from sessions.tui.bindings import CURSOR_BINDINGS

ALL = "__all__"
LABELS = {
    "notebook": "Notebooks",
    "kernel": "Kernels",
    "script": "Scripts",
    "ipython": "IPython",
    "interactive": "Python REPL",
    "namespace": "Namespaces",
    "imported": "Imported",
    "cache": "Caches",
    "run": "Runs",
    "dill file": "Dill files",
    "unknown": "Unknown",
}
HELP = "Origins of the snapshots: notebooks, scripts, kernels, imported bundles, cached results, run checkpoints and foreign dill files. Enter opens the group's snapshots."


class GroupList(OptionList):
    BINDINGS = CURSOR_BINDINGS
    BORDER_TITLE = "Sessions"

    def show_groups(self, groups: list[tuple[str, int]], total: int, selected: str | None) -> None:
        highlighted = selected or ALL
        self.clear_options()
        self.add_option(Option(f"All  [dim]{total}[/]", id=ALL))
        for group, count in groups:
            self.add_option(
                Option(f"{LABELS.get(group, group.title())}  [dim]{count}[/]", id=group)
            )
        ids = [ALL, *[g for g, _ in groups]]
        self.highlighted = ids.index(highlighted) if highlighted in ids else 0

    def action_first(self) -> None:
        if self.option_count:
            self.highlighted = 0

    def action_last(self) -> None:
        if self.option_count:
            self.highlighted = self.option_count - 1
