"""What a cache entry or a run checkpoint is, for the preview pane: the call and its
arguments' previews, what computing it took, its hits; the run, the cell it was taken after
and the cells before it. Everything comes from the manifest (read as hostile: any field may
be missing or of the wrong type) and the entry's hit count; nothing is unpickled."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from sessions.core.store.manifest import Manifest
from sessions.tui.formatting import human_size, local_time, preview_lines

MAX_ARGS = 20
MAX_CELLS = 40


def _text(value: Any, limit: int = 200) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _number(value: Any) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    return float(value) if ok else None


def preview_text(preview: Any, width: int = 72) -> str:
    """One or two lines for a stored preview (hostile: anything odd shows as '?')."""
    if not isinstance(preview, dict):
        return "?"
    try:
        lines = preview_lines(preview, width)
    except Exception:  # a malformed preview from someone else's manifest
        lines = [_text(preview.get("repr"), width)]
    if len(lines) > 1:  # a second line (an array's first values) in short
        lines = [lines[0], lines[1] if len(lines[1]) <= 40 else lines[1][:39] + "…"]
    return "\n".join(lines[:2]) or "?"


def _grid() -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column()
    return grid


def kind_of(manifest: Manifest | None) -> str | None:
    """ "cache" for a cache entry, "run" for a run checkpoint, else None."""
    if manifest is None:
        return None
    if manifest.origin.get("kind") == "cache" and isinstance(manifest.extra.get("cache"), dict):
        return "cache"
    if manifest.origin.get("kind") == "run" and isinstance(manifest.extra.get("run"), dict):
        return "run"
    return None


def usage_text(usage: tuple[int, float] | None) -> str:
    if usage is None or usage[0] <= 0:
        return "not used since it was stored"
    count, last = usage
    return f"{count} {'hit' if count == 1 else 'hits'}, last {local_time(last)}"


def arguments(manifest: Manifest, usage: tuple[int, float] | None) -> RenderableType | None:
    """A cache entry's call in short — what the Preview tab shows above its result."""
    raw = manifest.extra.get("cache")
    if not isinstance(raw, dict):
        return None
    parts: list[RenderableType] = []
    if raw.get("kind") == "cell":
        parts.append(Text("Cached cell", style="bold"))
    else:
        parts.append(Text.assemble(("Cached call  ", "bold"), (_text(raw.get("function")), "cyan")))
        args = raw.get("args")
        if isinstance(args, dict) and args:
            table = _grid()
            for name, preview in list(args.items())[:MAX_ARGS]:
                table.add_row(str(name)[:40], preview_text(preview))
            parts.append(table)
    seconds = _number(raw.get("seconds"))
    took = f"computing it took {seconds:.2f} s; " if seconds is not None else ""
    parts.append(Text(f"{took}{usage_text(usage)}", style="dim"))
    return Group(*parts, Text(""))


def render(manifest: Manifest | None, usage: tuple[int, float] | None) -> RenderableType | None:
    """The full section for the Environment tab, or None for other snapshots."""
    kind = kind_of(manifest)
    if manifest is None or kind is None:
        return None
    return _cache(manifest, usage) if kind == "cache" else _run(manifest)


def _cache(manifest: Manifest, usage: tuple[int, float] | None) -> RenderableType:
    raw = manifest.extra["cache"]
    grid = _grid()
    cell = raw.get("kind") == "cell"
    grid.add_row(
        "cached", "a notebook cell (%%sessions cache)" if cell else "a call (@sessions.cache)"
    )
    if not cell:
        grid.add_row("function", _text(raw.get("function")))
    grid.add_row("used", usage_text(usage))
    seconds = _number(raw.get("seconds"))
    if seconds is not None:
        grid.add_row("computing took", f"{seconds:.2f} s")
    grid.add_row("stored", human_size(manifest.stored))
    grid.add_row("key", _text(raw.get("key"), 64))
    files = raw.get("files")
    if isinstance(files, list) and files:
        shown = [str(f[0])[:120] for f in files[:5] if isinstance(f, list) and f]
        more = f" (+{len(files) - 5} more)" if len(files) > 5 else ""
        grid.add_row("files read", "\n".join(shown) + more)
    parts: list[RenderableType] = [Text("Cache entry", style="bold"), grid]
    args = raw.get("args")
    if not cell and isinstance(args, dict) and args:
        table = Table(show_header=True, header_style="bold", box=None, padding=(0, 2))
        table.add_column("argument")
        table.add_column("value (preview)")
        for name, preview in list(args.items())[:MAX_ARGS]:
            table.add_row(str(name)[:40], preview_text(preview))
        parts += [Text(""), table]
    if cell and isinstance(raw.get("code"), str):
        parts += [Text(""), Syntax(raw["code"][:5000], "python", word_wrap=True)]
        assigns = raw.get("assigns")
        if isinstance(assigns, list) and assigns:
            parts.append(Text("assigns " + ", ".join(str(a)[:40] for a in assigns[:50]), "dim"))
    return Group(*parts, Text(""))


def _run(manifest: Manifest) -> RenderableType:
    raw = manifest.extra["run"]
    grid = _grid()
    notebook = raw.get("kind") == "notebook"
    grid.add_row("run of", _text(raw.get("script"), 300))
    cell = raw.get("cell") if isinstance(raw.get("cell"), int) else None
    total = raw.get("cells") if isinstance(raw.get("cells"), int) else 0
    if cell is not None:
        grid.add_row("after cell", f"{cell} of {total}" if total else str(cell))
    argv = raw.get("argv")
    if isinstance(argv, list) and argv:
        grid.add_row("arguments", " ".join(str(a)[:80] for a in argv[:30]))
    again = (
        "%sessions resume at the top of the notebook, Run All"
        if notebook
        else f"sessions-tui run {_text(raw.get('script'), 300)}"
    )
    grid.add_row("resumes with", again + " (after a failure)")
    parts: list[RenderableType] = [Text("Run checkpoint", style="bold"), grid]
    titles = raw.get("titles")
    if isinstance(titles, list) and titles:
        listing = Text()
        for index, title in enumerate(titles[:MAX_CELLS], 1):
            listing.append(f"{index:>4}  ", style="dim")
            listing.append(f"{_text(title, 100)}\n")
        if len(titles) > MAX_CELLS:
            listing.append(f"      … {len(titles) - MAX_CELLS} more\n", style="dim")
        parts += [Text(""), Text("cells it holds the state after", style="dim"), listing]
    return Group(*parts)
