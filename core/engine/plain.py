"""Plain data: one big container of immutable builtins, pickled without a memo.

The C pickler's memo keeps an entry for every tuple and string it writes; for a dict of a
million small tuples that table costs more memory than the pickled stream and most of the
time (measured: 1.6 s and +58% of the session's memory with the memo, 0.4 s and +21%
without). A group whose values are each an exact ``dict``, ``list``, ``tuple``, ``set`` or
``frozenset`` holding only exact atoms (``None``, ``bool``, ``int``, ``float``, ``complex``,
``str``, ``bytes``) or tuples/frozensets of atoms, and no value twice, can have no cycle and
no shared mutable object, so pickling it in fast mode (no memo) gives back equal values. What
is lost is only the identity of repeated immutable objects: a string object that appeared
many times comes back as equal copies.
"""

from __future__ import annotations

from itertools import chain
from typing import Any

MIN_ITEMS = 10_000  # below this the memo costs little and the check is not worth it
_ATOMS = frozenset({type(None), bool, int, float, complex, str, bytes})
_NESTED = frozenset({tuple, frozenset})
_CONTAINERS = frozenset({dict, list, tuple, set, frozenset})


def _flat(items: Any) -> bool:
    """Every item an atom, or a tuple/frozenset of atoms (types checked at C speed)."""
    kinds = set(map(type, items))
    if kinds <= _ATOMS:
        return True
    if not kinds <= _ATOMS | _NESTED:
        return False
    inner = chain.from_iterable(x for x in items if type(x) in _NESTED)
    return set(map(type, inner)) <= _ATOMS


def memo_free(payload: dict[str, Any]) -> bool:
    """Whether the group ``payload`` (name -> value) may be pickled without a memo: at least
    one big plain container, every value plain, no value twice."""
    values = list(payload.values())
    if len({id(v) for v in values}) != len(values):
        return False
    big = False
    for value in values:
        cls = type(value)
        if cls in _ATOMS:
            continue
        if cls not in _CONTAINERS:
            return False
        size = len(value)
        if size < MIN_ITEMS:
            return False  # small containers: the memo is cheap, keep the normal path
        big = True
        if cls is dict:
            if not (_flat(value.keys()) and _flat(value.values())):
                return False
        elif not _flat(value):
            return False
    return big
