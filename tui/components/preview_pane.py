"""The preview of the highlighted variable, and the snapshot's history, environment and
skipped variables, in tabs. Everything comes from the manifest: nothing is unpickled."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from sessions.tui.components import cache_detail
from sessions.tui.data import Detail
from sessions.tui.formatting import human_size, local_time, shape_of

HELP = (
    "What the highlighted variable holds (from the preview stored at save time), the code "
    "history, the environment and what was skipped. Values and history lines that look like "
    "credentials are masked; x reveals them."
)
SECRET_BADGE = Text(" SECRET ", style="bold black on yellow")
HIDDEN_LINE = "# (hidden: this input looks like it holds a credential; x shows it)"


def masked(name: str, type_: str, why: str, reveal_key: str) -> RenderableType:
    """What a variable that looks like a credential shows until it is revealed."""
    return Group(
        Text.assemble((name, "bold"), "  ", (type_, "cyan"), "  ", SECRET_BADGE),
        Text(""),
        Text("••••••••  value hidden: it looks like a credential", style="yellow"),
        Text(f"({why})", style="dim"),
        Text(""),
        Text(
            f"Press {reveal_key} to show it. Sharing leaves it out unless you include it.",
            style="dim",
        ),
    )


def history_code(history: tuple[str, ...], revealed: bool) -> tuple[str, int]:
    """The code history as one text, and how many of its inputs are hidden because they
    look like they hold a credential (none when ``revealed``)."""
    from sessions.core.sharing.secrets import line_reason

    cells, hidden = [], 0
    for index, text in enumerate(history, 1):
        if not revealed and line_reason(text):
            text, hidden = HIDDEN_LINE, hidden + 1
        cells.append(f"# In [{index}]\n{text}")
    return "\n\n".join(cells), hidden


def _stats_table(preview: dict[str, Any]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim")
    table.add_column()
    table.add_row("dtype", str(preview.get("dtype", "")))
    table.add_row("shape", shape_of(preview))
    for key in ("min", "max", "mean"):
        value = preview.get(key)
        if isinstance(value, (int, float)):
            table.add_row(key, f"{value:.6g}")
    if preview.get("head"):
        table.add_row("first", ", ".join(preview["head"]))
    return table


def render_variable(
    name: str, type_: str, preview: dict[str, Any], *, secret: bool = False
) -> RenderableType:
    """A preview as a Rich renderable (DataFrames are shown in a table widget instead);
    ``secret``: a revealed credential, badged as one."""
    kind = preview.get("kind", "object")
    title = Text.assemble((name, "bold"), "  ", (type_, "cyan"))
    if secret:
        title.append("  ")
        title.append_text(SECRET_BADGE)
    parts: list[RenderableType] = [title, Text("")]
    if kind == "ndarray":
        parts.append(_stats_table(preview))
    elif kind in ("function", "class"):
        if preview.get("signature"):
            parts.append(Text(preview["signature"], style="bold"))
        if preview.get("doc"):
            parts.append(Text(preview["doc"], style="italic dim"))
        if preview.get("source"):
            parts.append(Syntax(preview["source"], "python", line_numbers=False, word_wrap=True))
        elif kind == "class" and preview.get("methods"):
            parts.append(Text("methods: " + ", ".join(preview["methods"])))
    elif kind == "container":
        parts.append(Text(shape_of(preview), style="dim"))
        for item in preview.get("items", []):
            parts.append(Text(f"  {item}"))
    else:
        parts.append(Text(str(preview.get("repr", ""))))
    if preview.get("error"):
        parts.append(Text(preview["error"], style="red"))
    return Group(*parts)


class PreviewPane(Vertical):
    """Tabs: Preview, History, Environment, Skipped."""

    BORDER_TITLE = "Preview"

    def compose(self) -> ComposeResult:
        with TabbedContent(id="preview-tabs"):
            yield from self._panes()

    def _panes(self) -> ComposeResult:
        with TabPane("Preview", id="tab-preview"), VerticalScroll(id="preview-scroll"):
            yield Static(Text("Select a snapshot", style="dim"), id="preview-text")
            yield DataTable(id="preview-frame", show_cursor=False, zebra_stripes=True)
        with TabPane("History", id="tab-history"), VerticalScroll():
            yield Static(id="history-text")
        with TabPane("Environment", id="tab-environment"), VerticalScroll():
            yield Static(id="environment-text")
        with TabPane("Skipped", id="tab-skipped"), VerticalScroll():
            yield Static(id="skipped-text")

    def on_mount(self) -> None:
        self.history_hidden = 0  # inputs of the shown history masked as credentials
        self.query_one("#preview-frame", DataTable).display = False

    # --- per snapshot -----------------------------------------------------------------
    def show_detail(self, detail: Detail | None, *, history_revealed: bool = False) -> None:
        history = self.query_one("#history-text", Static)
        environment = self.query_one("#environment-text", Static)
        skipped = self.query_one("#skipped-text", Static)
        if detail is None:
            for widget in (history, environment, skipped):
                widget.update("")
            self.show_message(Text("No snapshot selected", style="dim"))
            return
        manifest = detail.manifest
        self.history_hidden = 0
        if manifest is not None and manifest.history:
            code, self.history_hidden = history_code(manifest.history, history_revealed)
            history.update(Syntax(code, "python", word_wrap=True))
        else:
            history.update(Text("No code history (saved outside IPython)", style="dim"))
        environment.update(self._environment(detail))
        if manifest is not None and manifest.skipped:
            table = Table(show_header=True, header_style="bold", expand=True, box=box.SIMPLE_HEAD)
            table.add_column("Variable")
            table.add_column("Why it was skipped")
            for name, reason in manifest.skipped.items():
                table.add_row(name, reason)
            skipped.update(table)
        else:
            skipped.update(Text("Nothing was skipped", style="dim"))
        if detail.error:
            self.show_damaged(detail)

    def _environment(self, detail: Detail) -> RenderableType:
        manifest = detail.manifest
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="dim")
        grid.add_column()
        if manifest is None:
            grid.add_row("file", str(detail.row.path))
            grid.add_row(
                "kind",
                "foreign dill.dump_module file" if detail.row.kind == "foreign" else "snapshot",
            )
            if detail.foreign is not None and detail.foreign.runs:
                grid.add_row(
                    Text("RUNS CODE", style="bold red"),
                    f"loading would call {detail.foreign.runs_text()}",
                )
            return grid
        python = manifest.python
        grid.add_row("snapshot", f"{manifest.ref}  ({manifest.id})")
        grid.add_row(
            "created", f"{local_time(manifest.created)} by {manifest.user}@{manifest.host}"
        )
        if detail.signed:
            grid.add_row("signature", detail.signed)
        grid.add_row("python", f"{python.get('version', '?')} {python.get('implementation', '')}")
        grid.add_row("executable", python.get("executable", ""))
        grid.add_row("platform", python.get("platform", ""))
        grid.add_row("cwd", manifest.cwd)
        grid.add_row("origin", ", ".join(f"{k}: {v}" for k, v in manifest.origin.items()))
        grid.add_row(
            "stored",
            f"{human_size(manifest.stored)} on disk, {human_size(manifest.memory)} in memory",
        )
        packages = Table(show_header=True, header_style="bold", box=None, padding=(0, 2))
        packages.add_column("package")
        packages.add_column("version")
        for name, version in sorted(manifest.packages.items()):
            packages.add_row(name, version)
        section = cache_detail.render(manifest, detail.usage)  # a cache entry or checkpoint
        if section is not None:
            return Group(section, Text(""), grid, Text(""), packages)
        return Group(grid, Text(""), packages)

    # --- per variable -----------------------------------------------------------------
    def show_message(self, message: RenderableType) -> None:
        self.query_one("#preview-frame", DataTable).display = False
        self.query_one("#preview-text", Static).update(message)

    def show_damaged(self, detail: Detail) -> None:
        self.show_message(
            Group(
                Text("This snapshot is damaged", style="bold red"),
                Text(""),
                Text(detail.error or "unknown problem"),
                Text(""),
                Text(
                    "Its variables cannot be listed or restored. The rest of the session dir is "
                    "unaffected; `sessions-tui verify` checks every snapshot, and `d` removes this one.",
                    style="dim",
                ),
            )
        )

    def show_variable(
        self,
        detail: Detail | None,
        name: str | None,
        *,
        revealed: bool = False,
        reveal_key: str = "x",
    ) -> None:
        """Preview variable ``name`` of ``detail``; one that looks like a credential is
        masked unless ``revealed``."""
        if detail is None or name is None:
            self.show_message(Text("No variable selected", style="dim"))
            return
        if detail.error and detail.manifest is None and detail.foreign is None:
            self.show_damaged(detail)
            return
        if name.startswith("\x00skipped:"):
            real = name.split(":", 1)[1]
            reason = detail.manifest.skipped.get(real, "") if detail.manifest else ""
            self.show_message(
                Group(
                    Text(real, style="bold"),
                    Text(""),
                    Text(f"Skipped when saving: {reason}", style="red"),
                )
            )
            return
        if name.startswith("\x00import:"):
            real = name.split(":", 1)[1]
            record = (
                next((i for i in detail.manifest.imports if i.name == real), None)
                if detail.manifest
                else None
            )
            self.show_message(Text(record.statement() if record else real))
            return
        if detail.foreign is not None:
            kind = detail.foreign.variables.get(name, "?")
            parts: list[RenderableType] = [
                Text.assemble((name, "bold"), "  ", (kind, "cyan")),
                Text(""),
                Text(
                    "A foreign dill.dump_module file: its types come from reading the pickle's opcodes; nothing was run.",
                    style="dim",
                ),
            ]
            if detail.foreign.runs:
                parts.append(
                    Text(f"RUNS CODE: loading would call {detail.foreign.runs_text()}", style="red")
                )
            self.show_message(Group(*parts))
            return
        var = detail.manifest.variable(name) if detail.manifest else None
        if var is None:
            self.show_message(Text(name))
            return
        preview = var.preview
        secret = var.name in detail.secrets
        call = cache_detail.arguments(detail.manifest, detail.usage) if detail.manifest else None
        if secret and not revealed:
            self.show_message(masked(var.name, var.type, detail.secrets[var.name], reveal_key))
        elif preview.get("kind") in ("dataframe", "series"):
            self._show_frame(var.name, var.type, preview, secret=secret, header=call)
        else:
            body = render_variable(var.name, var.type, preview, secret=secret)
            self.show_message(Group(call, body) if call is not None else body)

    def _show_frame(
        self,
        name: str,
        type_: str,
        preview: dict[str, Any],
        *,
        secret: bool = False,
        header: RenderableType | None = None,
    ) -> None:
        text = self.query_one("#preview-text", Static)
        columns = preview.get("columns") or [preview.get("name") or "value"]
        dtypes = preview.get("dtypes") or [preview.get("dtype", "")]
        title = Text.assemble(
            (name, "bold"), "  ", (type_, "cyan"), "  ", (shape_of(preview), "dim")
        )
        if secret:
            title.append("  ")
            title.append_text(SECRET_BADGE)
        text.update(
            Group(
                *([header] if header is not None else []),  # a cached result's call
                title,
                Text(", ".join(f"{c}: {t}" for c, t in zip(columns, dtypes)), style="dim"),
            )
        )
        frame = self.query_one("#preview-frame", DataTable)
        frame.clear(columns=True)
        frame.add_column("", key="__index__")
        for column in columns:
            frame.add_column(str(column))
        for index, row in zip(preview.get("index", []), preview.get("rows", [])):
            frame.add_row(Text(str(index), style="dim"), *row[: len(columns)])
        frame.display = True
