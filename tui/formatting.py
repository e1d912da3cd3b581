"""How sizes, times and previews are written for people (CLI and UI alike)."""

from __future__ import annotations

import datetime as _dt
import re
from pathlib import Path
from typing import Any

from sessions.core.progress import Progress
from sessions.core.reprs import shape_text as shape_of
from sessions.core.units import human_size, plural

__all__ = [
    "human_size",
    "iso_utc",
    "local_path",
    "local_time",
    "one_line",
    "plural",
    "preview_lines",
    "printable",
    "progress_figures",
    "shape_of",
    "short_type",
]

# C0 and C1 control characters and DEL: in text from a manifest, a catalog or a foreign file
# they could move the cursor, retitle the terminal or write the clipboard (OSC 52)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_BUT_LAYOUT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return {"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(char, f"\\x{ord(char):02x}")


def printable(text: object) -> str:
    """``text`` safe to write to a terminal: control characters but newline and tab are
    shown as escapes (``\\x1b``) instead of being sent."""
    return _CONTROL_BUT_LAYOUT.sub(_escape, str(text))


def one_line(text: object, limit: int | None = None) -> str:
    """``text`` as one safe line (newlines and tabs escaped too), cut at ``limit`` chars."""
    line = _CONTROL.sub(_escape, str(text))
    if limit is not None and len(line) > limit:
        line = line[: max(0, limit - 1)] + "…"
    return line


def local_path(path: Path | str) -> str:
    """``path`` as a shell would show it: ``~`` for the home dir (short, and the same for
    every user whose files sit in the same place under their home)."""
    text = str(path)
    try:
        home = str(Path.home())
    except (RuntimeError, KeyError):  # no HOME and no passwd entry
        return text
    if home in ("", "/") or not (text == home or text.startswith(home.rstrip("/") + "/")):
        return text
    return "~" + text[len(home.rstrip("/")) :]


def local_time(ts: float) -> str:
    try:
        return _dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, ValueError, OSError):  # out of the platform's range
        return "????-??-?? ??:??:??"


def iso_utc(ts: float) -> str:
    try:
        stamp = _dt.datetime.fromtimestamp(ts, tz=_dt.timezone.utc)
    except (OverflowError, ValueError, OSError):
        return ""
    return stamp.isoformat(timespec="milliseconds")


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
        lines.extend(str(preview.get("repr", "")).splitlines()[:20] or [""])
    if preview.get("error"):
        lines.append(f"({preview['error']})")
    return [one_line(line, width) for line in lines]
