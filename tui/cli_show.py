"""``sessions-tui ls`` and ``show`` for people (``--json`` is written by cli.py, unchanged).

Columns are aligned to their widest cell; on a terminal names are bold, types coloured,
damage and code-running files red; piped, the same text comes out plain. Every line of a
multi-line preview keeps the indent of the variable it belongs to. Variables the manifest
marks as looking like credentials have their preview masked, with a ``SECRET`` marker and
the reason, unless ``--reveal`` asks for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text

from sessions.core.api import SnapshotInfo
from sessions.core.units import human_size, plural
from sessions.tui.cli_output import Writer, styled, table
from sessions.tui.formatting import local_time, one_line, preview_lines, shape_of

NOTE_WIDTH = 1000  # a note (or a damage report) is cut here in listings
PREVIEW_LINES = 6  # lines of each variable's preview that show prints
_INDENT = "      "


def _note(item: SnapshotInfo) -> Text:
    if item.error:
        return styled(f"DAMAGED: {one_line(item.error, NOTE_WIDTH)}", "bold red")
    tags = " ".join(f"#{t}" for t in item.tags)
    if item.kind == "foreign":
        note = Text.assemble(
            styled("dill.dump_module file", "dim"), styled(f" {tags}" if tags else "")
        )
        if item.foreign is not None and item.foreign.runs:
            note.append(one_line(f" — RUNS CODE: {item.foreign.runs_text(3)}"), "bold red")
        return note
    return Text.assemble(
        styled(one_line(item.note, NOTE_WIDTH)), styled(f" {tags}" if tags else "", "cyan")
    )


def write_list(items: Sequence[SnapshotInfo], out: Any, whats: Sequence[str]) -> None:
    """The snapshot list: one aligned row per snapshot or foreign file, oldest first, with
    what each is (``whats``: snapshot, checkpoint, cache, dill file)."""
    grid = table("REF", "ID", "WHAT", "CREATED", "VARS", "STORED", "NOTE", right=("VARS", "STORED"))
    for item, what in zip(items, whats):
        count = str(len(item.variables)) if not item.error else "?"
        short_id = item.id[:10] if item.kind == "snapshot" else "-"
        grid.add_row(
            styled(item.ref, "bold" if item.kind == "snapshot" else ""),
            styled(short_id, "dim"),
            styled(what, "dim"),
            local_time(item.created),
            count,
            human_size(item.stored),
            _note(item),
        )
    Writer(out).print(grid)


def _facts(item: SnapshotInfo) -> list[tuple[str, str]]:
    manifest = item.manifest
    assert manifest is not None
    py = manifest.python
    facts = [
        (
            "created",
            f"{local_time(manifest.created)} by {manifest.user}@{manifest.host} "
            f"(pid {manifest.pid})",
        ),
        ("python", f"{py.get('version', '?')} {py.get('executable', '')}".strip()),
        ("cwd", manifest.cwd),
        ("origin", ", ".join(f"{k}={v}" for k, v in manifest.origin.items())),
    ]
    if manifest.owner:
        facts.append(("owner", manifest.owner))
    if manifest.note:
        facts.append(("note", manifest.note))
    if manifest.tags:
        facts.append(("tags", ", ".join(manifest.tags)))
    facts.append(
        (
            "size",
            f"{human_size(manifest.stored)} stored on disk, "
            f"{human_size(manifest.memory)} in memory when saved",
        )
    )
    return facts


def _preview_block(lines: list[str], style: str = "") -> list[Text]:
    """Preview lines, each line of a multi-line one indented the same way."""
    out = []
    for line in lines:
        for part in line.splitlines() or [""]:
            out.append(
                Text(_INDENT + one_line(part), style=style, no_wrap=True, overflow="ellipsis")
            )
    return out


def write_show(item: SnapshotInfo, out: Any, *, reveal: bool = False) -> None:
    """What a snapshot holds: provenance, then variables with their previews."""
    writer = Writer(out)
    writer.line(styled(item.ref, "bold"), "  ", styled(f"({item.id})", "dim"))
    if item.error:
        writer.line(styled(f"DAMAGED: {item.error}", "bold red"))
    manifest = item.manifest
    if manifest is not None:
        facts = table("", "")
        facts.show_header = False
        for key, value in _facts(item):
            facts.add_row(styled(key, "dim"), value)
        writer.print(facts)
        hidden = {} if reveal else manifest.secrets
        writer.print("", f"{plural(len(manifest.variables), 'variable')}")
        rows = table("  NAME", "TYPE", "SHAPE", "IN MEMORY", "", right=("IN MEMORY",))
        blocks: list[list[Text]] = []
        for var in manifest.variables:
            marks = Text()
            if var.name in manifest.secrets:
                marks.append("SECRET" if var.name in hidden else "SECRET (shown)", "bold yellow")
            if var.deps:
                marks.append(("  " if marks else "") + f"needs {', '.join(var.deps)}", "dim")
            rows.add_row(
                styled(f"  {var.name}", "bold"),
                styled(var.type, "cyan"),
                shape_of(var.preview),
                human_size(var.memory),
                marks,
            )
            if var.name in hidden:
                why = hidden[var.name]
                blocks.append(
                    _preview_block(
                        [f"•••••• hidden: {why}; --reveal shows it"],
                        "yellow",
                    )
                )
            else:
                blocks.append(_preview_block(preview_lines(var.preview)[:PREVIEW_LINES], "dim"))
        _rows_with_blocks(writer, rows, blocks)
        if manifest.imports:
            writer.print("", plural(len(manifest.imports), "import"))
            for record in manifest.imports:
                writer.line("  ", record.statement())
        if manifest.skipped:
            writer.print("", f"{len(manifest.skipped)} skipped")
            skipped = table("NAME", "WHY")
            skipped.show_header = False
            for name, reason in manifest.skipped.items():
                skipped.add_row(styled(f"  {name}", "bold"), reason)
            writer.print(skipped)
        if manifest.history:
            writer.print("", f"{plural(len(manifest.history), 'input')} in history")
    elif item.foreign is not None:
        _write_foreign(writer, item)


def _rows_with_blocks(writer: Writer, rows: Any, blocks: list[list[Text]]) -> None:
    """Print the variables table with each variable's preview lines right under its row:
    the table is rendered once (so its columns align across all rows), then interleaved."""
    from rich.console import Console

    console = Console(width=10_000, color_system=None, record=False, file=_Null())
    lines = list(console.render_lines(rows, console.options, pad=False))
    texts = []
    for line in lines:
        text = Text.assemble(*(Text(seg.text, seg.style or "") for seg in line))
        text.rstrip()
        text.no_wrap, text.overflow = True, "ellipsis"
        texts.append(text)
    writer.print(texts[0])
    for row, block in zip(texts[1:], blocks):
        writer.print(row, *block)


class _Null:
    def write(self, _text: str) -> int:
        return 0

    def flush(self) -> None:
        pass


def _write_foreign(writer: Writer, item: SnapshotInfo) -> None:
    foreign = item.foreign
    assert foreign is not None
    writer.line(styled("foreign dill.dump_module file: ", "dim"), item.path)
    if foreign.runs:
        writer.line(
            styled(
                f"RUNS CODE: loading this file would call {foreign.runs_text(10)} — "
                "not a plain session (nothing was run)",
                "bold red",
            )
        )
    elif foreign.error and foreign.variables:
        writer.line(f"note: {foreign.error}")
    writer.print(
        "",
        f"{plural(len(foreign.variables), 'variable')} (types read from opcodes; nothing was run)",
    )
    names = table("NAME", "TYPE")
    names.show_header = False
    for name, kind in foreign.variables.items():
        names.add_row(styled(f"  {name}", "bold"), styled(kind, "cyan"))
    writer.print(names)
    if foreign.imports:
        writer.print("", plural(len(foreign.imports), "module"))
        modules = table("NAME", "MODULE")
        modules.show_header = False
        for name, module in foreign.imports.items():
            modules.add_row(f"  {name}", module)
        writer.print(modules)
