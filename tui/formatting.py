"""How sizes, times and previews are written for people (CLI and UI alike)."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from sessions.core.reprs import shape_text as shape_of
from sessions.core.units import human_size

__all__ = ["human_size", "iso_utc", "local_time", "preview_lines", "shape_of"]


def local_time(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def iso_utc(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, tz=_dt.timezone.utc).isoformat(timespec="milliseconds")


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
