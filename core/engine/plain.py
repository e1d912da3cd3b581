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
NUMBERS = frozenset({type(None), bool, int, float, complex})  # small, and no text can hide
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


# --- small values, saved in batches --------------------------------------------------------

SMALL_TEXT = 4096  # str/bytes at most this long
SMALL_ARRAY = 4096  # numeric ndarrays of at most this many bytes
SMALL_NODES = 64  # objects in one value, counted over nested containers
_SMALL_DEPTH = 3
_SMALL_KINDS = frozenset("biufc")


def small(value: Any, numpy: Any) -> bool:
    """Whether ``value`` is a small plain value: an atom (text and bytes of at most
    ``SMALL_TEXT``), a numeric ndarray or numpy scalar of at most ``SMALL_ARRAY`` bytes (not of
    single bytes, which are text in disguise), or exact dicts, lists, tuples, sets of those,
    at most ``SMALL_NODES`` objects and three levels deep.

    Such values share nothing worth keeping (no mutable object another variable could hold is
    detected by capture's walk, or grouping would have joined them), run no code when
    pickled, and hold every string where the live secrets judgement looks (dicts, lists,
    tuples and sets within its depth and item limits), so a save pickles many of them in one
    batch and judges them live."""
    cls = type(value)
    if cls in _ATOMS:  # the common case, answered first
        return not ((cls is str or cls is bytes) and len(value) > SMALL_TEXT)
    budget = SMALL_NODES
    stack = [(value, 0)]
    while stack:
        obj, depth = stack.pop()
        budget -= 1
        if budget < 0:
            return False
        cls = type(obj)
        if cls in _ATOMS:
            if (cls is str or cls is bytes) and len(obj) > SMALL_TEXT:
                return False
            continue
        if numpy is not None and (cls is numpy.ndarray or isinstance(obj, numpy.generic)):
            dtype = obj.dtype
            if (
                dtype.kind not in _SMALL_KINDS
                or dtype.fields is not None
                or obj.nbytes > SMALL_ARRAY
            ):
                return False
            if dtype.itemsize == 1 and dtype.kind in "iu":
                return False
            continue
        if depth >= _SMALL_DEPTH or cls not in _CONTAINERS:
            return False
        if cls is dict:
            if len(obj) > SMALL_NODES:
                return False
            for key, item in obj.items():
                if type(key) not in _ATOMS:
                    return False
                stack.append((item, depth + 1))
        else:
            if len(obj) > SMALL_NODES:
                return False
            stack.extend((item, depth + 1) for item in obj)
    return True
