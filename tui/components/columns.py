"""Fitting table columns to the width a table has: the most important columns first, each
as wide as its content wants when there is room, never a horizontal scrollbar.

A table describes its columns with :class:`ColumnSpec` (how wide its content is, how narrow it
may get, how important it is); :func:`fit` picks the columns that fit and their widths. The
tables re-fit when they are resized or get new rows, so 80 columns shows what matters and 200
columns shows everything in full.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ColumnSpec:
    key: str
    label: str
    natural: int  # the width its content wants
    minimum: int  # the narrowest it is still worth showing at
    priority: int  # lower is more important: kept first when space is short
    grow: bool = False  # takes the width left once every column has its natural width


def fit(specs: list[ColumnSpec], available: int, padding: int = 1) -> list[tuple[ColumnSpec, int]]:
    """The columns of ``specs`` that fit in ``available`` cells, in their given order, with
    their widths. The most important columns (the lowest priority number) are always shown,
    at their minimum widths if need be; each next column by priority is shown only while the
    columns already chosen keep their natural widths and it still gets its minimum (so a
    column is never squeezed to make room for a less important one). The room left widens
    columns toward their natural widths in priority order, then goes to the growing ones."""
    if not specs:
        return []
    ranked = sorted(specs, key=lambda s: s.priority)
    first = ranked[0].priority
    chosen: list[ColumnSpec] = []
    minimum = natural = 0  # the width the chosen columns need at least, and want
    for spec in ranked:
        cost = spec.minimum + 2 * padding
        if spec.priority == first:
            if chosen and minimum + cost > available:
                break
        elif natural + cost > available:
            break  # columns appear in the order of importance as the table widens
        chosen.append(spec)
        minimum += cost
        wanted = spec.minimum if spec.grow else max(spec.minimum, spec.natural)
        natural += wanted + 2 * padding
    widths = {spec.key: spec.minimum for spec in chosen}
    left = max(0, available - minimum)
    for spec in chosen:
        extra = min(left, max(0, spec.natural - widths[spec.key]))
        widths[spec.key] += extra
        left -= extra
    growing = [spec for spec in chosen if spec.grow]
    for index, spec in enumerate(growing):
        share = left // (len(growing) - index)
        widths[spec.key] += share
        left -= share
    return [(spec, widths[spec.key]) for spec in specs if spec in chosen]
