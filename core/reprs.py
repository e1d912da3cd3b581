"""How results look in notebooks and IPython: the ``_repr_html_`` and ``_repr_pretty_`` bodies
of save results, load reports, snapshot lists and inspected snapshots.

Built from what the library already holds (results, manifests and their previews), so
showing a snapshot never unpickles anything. Everything read from a manifest is escaped
(manifests can come from anyone) and bounded: tables stop after a fixed number of rows.
Values the manifest marks as looking like credentials are masked, with the reason; the raw
preview stays available to code (``SnapshotInfo.preview(name)``).
"""

from __future__ import annotations

import datetime as _dt
import html
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sessions.core.units import human_duration, human_size, plural

if TYPE_CHECKING:
    from sessions.core.api import SnapshotInfo
    from sessions.core.engine.load import LoadReport
    from sessions.core.engine.save import SaveResult

MAX_ROWS = 200  # rows of a snapshot list or a variables table
MAX_FRAMES = 5  # DataFrame previews drawn as tables in one inspected snapshot
SECRET_MASK = "•••••• (hidden: {reason})"

_STYLE = (
    "<style>.sessions-repr table{border-collapse:collapse;font-size:0.92em}"
    ".sessions-repr th,.sessions-repr td{padding:2px 8px;text-align:left;"
    "vertical-align:top;border-bottom:1px solid rgba(127,127,127,0.25)}"
    ".sessions-repr td.num{text-align:right;white-space:nowrap}"
    ".sessions-repr .dim{opacity:0.7}.sessions-repr .warn{color:#b7791f}"
    ".sessions-repr .bad{color:#c0392b}</style>"
)


def _e(value: object) -> str:
    return html.escape(str(value))


def _block(*parts: str) -> str:
    return f'<div class="sessions-repr">{_STYLE}{"".join(parts)}</div>'


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], numeric: set[int]) -> str:
    """An HTML table; cells are already escaped markup."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{cell}</td>' if i in numeric else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _when(ts: float) -> str:
    try:
        return _dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return "?"


# --- save results and load reports ----------------------------------------------------------
def save_result_html(result: SaveResult) -> str:
    if result.unchanged:
        return _block(f"<p>Nothing changed since <b>{_e(result.ref)}</b>: no new snapshot.</p>")
    counts = [plural(len(result.saved), "variable")]
    if result.imports:
        counts.append(plural(len(result.imports), "import"))
    if result.skipped:
        counts.append(f'<span class="warn">{len(result.skipped)} skipped</span>')
    head = (
        f"<p>Saved <b>{_e(result.ref)}</b> <span class='dim'>({_e(result.id)})</span>: "
        f"{', '.join(counts)}; {_e(human_size(result.written))} written in "
        f"{_e(human_duration(result.seconds))}, {_e(human_size(result.stored))} stored.</p>"
    )
    parts = [head]
    if result.skipped:
        rows = [(f"<code>{_e(n)}</code>", _e(why)) for n, why in result.skipped.items()]
        parts.append(_table(("skipped", "why"), rows[:MAX_ROWS], set()))
    return _block(*parts)


def load_report_html(report: LoadReport) -> str:
    counts = plural(len(report.loaded), "variable")
    if report.imported:
        counts += f" and {plural(len(report.imported), 'import')}"
    failed = f', <span class="bad">{len(report.failed)} failed</span>' if report.failed else ""
    parts = [f"<p>Loaded {counts} from <b>{_e(report.ref)}</b>{failed}.</p>"]
    if report.replaced:
        names = ", ".join(f"<code>{_e(n)}</code>" for n in report.replaced)
        parts.append(f'<p class="warn">Replaced existing variables: {names}</p>')
    if report.kept:
        names = ", ".join(f"<code>{_e(n)}</code>" for n in report.kept)
        parts.append(f"<p>Kept existing (not replaced): {names}</p>")
    if report.failed:
        rows = [(f"<code>{_e(n)}</code>", _e(why)) for n, why in report.failed.items()]
        parts.append(_table(("failed", "why"), rows[:MAX_ROWS], set()))
    if report.warnings:
        items = "".join(f"<li>{_e(w)}</li>" for w in report.warnings[:MAX_ROWS])
        parts.append(f'<ul class="warn">{items}</ul>')
    return _block(*parts)


# --- snapshots ------------------------------------------------------------------------------
def _note_of(item: SnapshotInfo) -> str:
    if item.error:
        return f"DAMAGED: {item.error}"
    if item.kind == "foreign":
        text = "dill.dump_module file"
        if item.foreign is not None and item.foreign.runs:
            text += f" — RUNS CODE: {item.foreign.runs_text(3)}"
        return text
    tags = " ".join(f"#{t}" for t in item.tags)
    return f"{item.note} {tags}".strip()


def snapshots_html(items: Sequence[SnapshotInfo]) -> str:
    if not items:
        return _block("<p>No snapshots yet: <code>sessions.save()</code> makes one.</p>")
    shown = list(items)[-MAX_ROWS:]
    rows = [
        (
            f"<b>{_e(i.ref)}</b>",
            _e(_when(i.created)),
            "?" if i.error else str(len(i.variables)),
            _e(human_size(i.stored)),
            f'<span class="bad">{_e(_note_of(i))}</span>' if i.error else _e(_note_of(i)),
        )
        for i in shown
    ]
    more = len(items) - len(shown)
    tail = f"<p class='dim'>… and {more} older</p>" if more else ""
    header = ("snapshot", "created", "variables", "stored", "note")
    return _block(_table(header, rows, {2, 3}), tail)


def snapshots_text(items: Sequence[SnapshotInfo]) -> str:
    if not items:
        return "no snapshots yet: sessions.save() makes one"
    shown = list(items)[-MAX_ROWS:]
    width = max(len(i.ref) for i in shown)
    lines = [
        f"{i.ref:<{width}}  {_when(i.created)}  "
        f"{'?' if i.error else len(i.variables):>4} vars  {human_size(i.stored):>10}  "
        f"{_note_of(i)}".rstrip()
        for i in shown
    ]
    return "\n".join(lines)


def shape_text(preview: dict[str, Any]) -> str:
    """The shape or length a preview records, as text ('' when it has none)."""
    shape = preview.get("shape")
    if isinstance(shape, list):
        return "×".join(str(n) for n in shape) or "()"
    if "len" in preview:
        return f"len {preview['len']}"
    return ""


def _summary(preview: dict[str, Any]) -> str:
    """A one-line preview for a table cell."""
    kind = preview.get("kind")
    if kind == "ndarray":
        stats = " ".join(
            f"{k}={preview[k]:.4g}"
            for k in ("min", "max", "mean")
            if isinstance(preview.get(k), int | float) and not isinstance(preview.get(k), bool)
        )
        return f"{preview.get('dtype', '')} {stats}".strip()
    if kind in ("dataframe", "series"):
        columns = preview.get("columns") or [preview.get("name", "")]
        return ", ".join(str(c) for c in columns[:8]) + (" …" if len(columns) > 8 else "")
    if kind in ("function", "class"):
        return str(preview.get("signature") or preview.get("repr", ""))
    if kind == "container":
        return ", ".join(str(x) for x in (preview.get("items") or [])[:5])
    return str(preview.get("repr", ""))


def _clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _frame_table(name: str, preview: dict[str, Any]) -> str:
    """A DataFrame (or Series) preview as the table it shows: first rows, columns, dtypes."""
    columns = [str(c) for c in preview.get("columns") or [preview.get("name", "")]]
    dtypes = [str(t) for t in preview.get("dtypes") or [preview.get("dtype", "")]]
    header = ["", *columns]
    rows = []
    for index, row in zip(preview.get("index", []), preview.get("rows", [])):
        rows.append([f"<b>{_e(index)}</b>", *(_e(_clip(str(c), 60)) for c in row)])
    dtype_row = ["<i class='dim'>dtype</i>", *(f"<i class='dim'>{_e(t)}</i>" for t in dtypes)]
    shape = shape_text(preview)
    return f"<p><code>{_e(name)}</code> <span class='dim'>{_e(shape)}</span></p>" + _table(
        header, [*rows, dtype_row], set()
    )


def snapshot_html(item: SnapshotInfo) -> str:
    parts = [f"<p><b>{_e(item.ref)}</b> <span class='dim'>({_e(item.id)})</span></p>"]
    if item.error:
        parts.append(f'<p class="bad">DAMAGED: {_e(item.error)}</p>')
    manifest = item.manifest
    if manifest is None:
        if item.foreign is not None:
            if item.foreign.runs:
                parts.append(
                    f'<p class="bad">RUNS CODE: loading it would call '
                    f"{_e(item.foreign.runs_text(10))} (nothing was run)</p>"
                )
            found = [(f"<code>{_e(n)}</code>", _e(t)) for n, t in item.foreign.variables.items()]
            parts.append(_table(("variable", "type"), found[:MAX_ROWS], set()))
        return _block(*parts)
    facts = [
        ("created", f"{_when(manifest.created)} by {manifest.user}@{manifest.host}"),
        ("origin", ", ".join(f"{k}={v}" for k, v in manifest.origin.items())),
        (
            "size",
            f"{human_size(manifest.stored)} stored, {human_size(manifest.memory)} in memory "
            "when saved",
        ),
    ]
    if manifest.note:
        facts.append(("note", manifest.note))
    if manifest.tags:
        facts.append(("tags", ", ".join(manifest.tags)))
    parts.append(_table(("", ""), [(f"<b>{_e(k)}</b>", _e(v)) for k, v in facts], set()))
    rows: list[tuple[str, ...]] = []
    frames: list[str] = []
    for var in manifest.variables[:MAX_ROWS]:
        reason = manifest.secrets.get(var.name)
        summary = SECRET_MASK.format(reason=reason) if reason else _summary(var.preview)
        rows.append(
            (
                f"<code>{_e(var.name)}</code>",
                _e(var.type),
                _e(shape_text(var.preview)),
                _e(human_size(var.memory)),
                _e(_clip(summary)),
            )
        )
        kind = var.preview.get("kind")
        if kind in ("dataframe", "series") and not reason and len(frames) < MAX_FRAMES:
            frames.append(_frame_table(var.name, var.preview))
    header = ("variable", "type", "shape", "in memory", "preview")
    parts.append(f"<p>{plural(len(manifest.variables), 'variable')}</p>")
    parts.append(_table(header, rows, {3}))
    parts.extend(frames)
    if manifest.imports:
        statements = "<br>".join(f"<code>{_e(i.statement())}</code>" for i in manifest.imports)
        parts.append(f"<p>{plural(len(manifest.imports), 'import')}</p><p>{statements}</p>")
    if manifest.skipped:
        skipped = [(f"<code>{_e(n)}</code>", _e(w)) for n, w in manifest.skipped.items()]
        parts.append(f"<p>{len(manifest.skipped)} skipped</p>")
        parts.append(_table(("variable", "why"), skipped[:MAX_ROWS], set()))
    return _block(*parts)


def snapshot_text(item: SnapshotInfo) -> str:
    lines = [f"{item.ref}  ({item.id})" + (f"  DAMAGED: {item.error}" if item.error else "")]
    manifest = item.manifest
    if manifest is None:
        if item.foreign is not None:
            lines += [f"  {n:<24} {t}" for n, t in item.foreign.variables.items()]
        return "\n".join(lines)
    lines.append(
        f"created {_when(manifest.created)} by {manifest.user}@{manifest.host}; "
        f"{human_size(manifest.stored)} stored, {human_size(manifest.memory)} in memory"
    )
    if manifest.note:
        lines.append(f"note: {manifest.note}")
    for var in manifest.variables[:MAX_ROWS]:
        reason = manifest.secrets.get(var.name)
        summary = SECRET_MASK.format(reason=reason) if reason else _summary(var.preview)
        lines.append(
            f"  {var.name:<20} {var.type:<28} {shape_text(var.preview):<12} "
            f"{human_size(var.memory):>10}  {_clip(summary, 60)}".rstrip()
        )
    for name, why in manifest.skipped.items():
        lines.append(f"  {name:<20} skipped: {why}")
    return "\n".join(lines)
