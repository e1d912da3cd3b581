"""Sizes and durations written for people, the same in library messages, the CLI and the UI.

Sizes are in binary units and labelled as such (KiB, MiB, GiB: powers of 1024), so a size
here never reads as a decimal kilobyte. What a size measures (stored on disk, written by one
save, in memory) is said by the text around it, never left to the reader to guess.
"""

from __future__ import annotations

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def human_size(size: float | None) -> str:
    """``1.5 KiB``, ``230 B``, ``-`` for an unknown size (powers of 1024)."""
    if size is None:
        return "-"
    for unit in _UNITS:
        if abs(size) < 1024 or unit == _UNITS[-1]:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} {_UNITS[-1]}"  # not reached


def human_rate(per_second: float | None) -> str:
    """``512.3 MiB/s``, or ``-`` before there is a rate."""
    return "-" if per_second is None else f"{human_size(per_second)}/s"


def human_duration(seconds: float | None) -> str:
    """``0.4 s``, ``12 s``, ``3 min 05 s``, ``1 h 02 min``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``1 variable``, ``3 variables``: counts that read right for one and for many
    (``many`` for nouns that do not just take an s: ``entry``/``entries``)."""
    return f"{count} {noun}" if count == 1 else f"{count} {many or noun + 's'}"
