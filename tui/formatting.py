"""How sizes, times and previews are written for people (CLI and UI alike)."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

from sessions.core.progress import Progress
from sessions.core.units import human_size

__all__ = [
    "human_size",
    "iso_utc",
    "local_time",
    "plural",
    "preview_lines",
    "progress_figures",
    "shape_of",
    "short_type",
    "tilde",
]


def tilde(path: str | Path) -> str:
    """``path`` with ``~`` for the home directory: shorter, and what people type."""
    path, home = Path(path), Path.home()
    return (
        f"~/{path.relative_to(home)}" if path.is_relative_to(home) and path != home else str(path)
    )


def local_time(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def iso_utc(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, tz=_dt.timezone.utc).isoformat(timespec="milliseconds")


def plural(count: int, word: str, many: str | None = None) -> str:
    """``"1 variable"``, ``"2 variables"``, ``"0 imports"`` (``many`` for irregular words)."""
    return f"{count} {word if count == 1 else (many or word + 's')}"


def duration(seconds: float) -> str:
    """``"4 s"``, ``"2 min 5 s"``, ``"1 h 3 min"``: how long, for people."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


def progress_figures(progress: Progress) -> str:
    """Where an operation stands, in one line: bytes and items done of their totals, the
    rate and the time left (each only when known)."""
    parts = []
    if progress.fraction is not None:
        parts.append(f"{int(100 * progress.fraction)}%")
    if progress.total_bytes:
        parts.append(f"{human_size(progress.done_bytes)} of {human_size(progress.total_bytes)}")
    elif progress.done_bytes:
        parts.append(human_size(progress.done_bytes))
    unit = progress.unit  # plural: "variables", "objects", "snapshots"
    if progress.total_items:
        one = progress.total_items == 1 and unit.endswith("s")
        parts.append(f"{progress.done_items}/{progress.total_items} {unit[:-1] if one else unit}")
    elif progress.done_items:
        one = progress.done_items == 1 and unit.endswith("s")
        parts.append(f"{progress.done_items} {unit[:-1] if one else unit}")
    if progress.rate is not None and not progress.finished:
        parts.append(f"{human_size(int(progress.rate))}/s")
    if progress.eta is not None and not progress.finished:
        parts.append(f"{duration(progress.eta)} left")
    return " · ".join(parts)


def short_type(name: str) -> str:
    """A type name without its module path (``Generator`` for
    ``numpy.random._generator.Generator``), for narrow columns; previews show the full one."""
    head, _, args = name.partition("[")
    short = head.rsplit(".", 1)[-1] or head
    return f"{short}[{args}" if args else short


def shape_of(preview: dict[str, Any]) -> str:
    """The shape or length a preview records, as text ('' when it has none)."""
    if "shape" in preview and isinstance(preview["shape"], list):
        return "×".join(str(n) for n in preview["shape"]) or "()"
    if "len" in preview:
        return f"len {preview['len']}"
    return ""


def preview_lines(preview: dict[str, Any], width: int = 100) -> list[str]:
    """A preview rendered as plain text lines (the CLI's ``show``)."""
    kind = preview.get("kind", "object")
    lines: list[str] = []
    if kind == "ndarray":
        stats = [
            f"{k}={preview[k]:.6g}"
            for k in ("min", "max", "mean")
            if isinstance(preview.get(k), (int, float))
        ]
        lines.append(f"{preview.get('dtype')} {shape_of(preview)}  " + " ".join(stats))
        if preview.get("head"):
            lines.append(
                "["
                + ", ".join(preview["head"])
                + (", …" if len(preview["head"]) >= 10 else "")
                + "]"
            )
    elif kind in ("dataframe", "series"):
        columns = preview.get("columns") or [preview.get("name", "")]
        dtypes = preview.get("dtypes") or [preview.get("dtype", "")]
        lines.append(
            f"{shape_of(preview)}  " + ", ".join(f"{c}: {t}" for c, t in zip(columns, dtypes))
        )
        for index, row in zip(preview.get("index", []), preview.get("rows", [])):
            lines.append(f"{index:>6}  " + "  ".join(row))
    elif kind == "container":
        lines.append(f"{shape_of(preview)}: " + ", ".join(preview.get("items", [])))
    elif kind in ("function", "class"):
        if preview.get("signature"):
            lines.append(preview["signature"])
        if preview.get("source"):
            lines.extend(preview["source"].rstrip().splitlines()[:20])
    else:
        lines.append(str(preview.get("repr", "")))
    if preview.get("error"):
        lines.append(f"({preview['error']})")
    return [line[:width] for line in lines]
