"""Sizes written for people, the same in library messages, the CLI and the UI."""

from __future__ import annotations


def human_size(size: float | None) -> str:
    """``1.5 KB``, ``230 B``, ``-`` for an unknown size (powers of 1024)."""
    if size is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(size) < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"
