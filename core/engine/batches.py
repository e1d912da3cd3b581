"""Many small things saved as few: batches of small values, and small buffers joined.

Per stream and per stored object a save pays for a pickler, a hash, a pack entry and a
manifest record, and a load for a lookup, a read, a check and an unpickler. For a session of
100,000 small variables, or a dict of a thousand small arrays, that fixed cost is all the
cost. So:

- **Batches** (:func:`batch`): small plain values that capture put alone in their group (see
  sessions.core.engine.plain.small) are pickled together, a few hundred per stream. Their
  group is marked ``independent``: its members share nothing, so loading one unpickles the
  batch but puts only what was asked for into the namespace.
- **Joined buffers** (:func:`join`): out-of-band buffers under ``SMALL_BUFFER`` bytes are
  copied into shared objects and the group records each buffer's slice of them; big
  buffers keep objects of their own (dedup, mapped loads).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sessions.core.engine import plain

if TYPE_CHECKING:
    from sessions.core.engine.capture import Plan

SMALL_BUFFER = 64 * 1024  # out-of-band buffers under this size are stored together
JOIN_LIMIT = 1 << 20  # each joined object stays under this (packed, not a file of its own)
JOIN_TOTAL = 16 << 20  # copies made per group at most; past it small buffers stay apart


def join(
    raws: list[memoryview],
) -> tuple[list[memoryview], list[tuple[int, int, int]]]:
    """(objects to store, slices) for a stream's out-of-band buffers: buffers of at least
    ``SMALL_BUFFER`` bytes stay objects of their own (dedup, maps on load); smaller ones are
    copied together into objects of at most ``JOIN_LIMIT`` bytes, so a dict of a thousand
    small arrays is one object, not a thousand (at most ``JOIN_TOTAL`` bytes are copied per
    group, which bounds the memory a save adds). No slices when nothing was joined."""
    if sum(1 for raw in raws if raw.nbytes < SMALL_BUFFER) < 2:
        return raws, []
    objects: list[memoryview] = []
    slices: list[tuple[int, int, int]] = []
    joined = bytearray()
    waiting: list[int] = []  # slices that point into ``joined``
    copied = 0

    def flush() -> None:
        nonlocal joined
        for index in waiting:
            _, offset, length = slices[index]
            slices[index] = (len(objects), offset, length)
        waiting.clear()
        if joined:
            objects.append(memoryview(joined))
            joined = bytearray()

    for raw in raws:
        size = raw.nbytes
        if size >= SMALL_BUFFER or copied + size > JOIN_TOTAL:
            slices.append((len(objects), 0, size))
            objects.append(raw)
            continue
        if len(joined) + size > JOIN_LIMIT:
            flush()
        waiting.append(len(slices))
        slices.append((0, len(joined), size))
        joined += raw.cast("B")
        copied += size
    flush()
    return objects, slices


def split(
    blobs: list[Any], slices: list[tuple[int, int, int]] | tuple[tuple[int, int, int], ...]
) -> list[Any]:
    """The out-of-band buffers of a stream from its stored objects (see :func:`join`):
    views into them, no copies."""
    if not slices:
        return blobs
    views = [memoryview(b) for b in blobs]
    return [views[index][offset : offset + length] for index, offset, length in slices]


BATCH_CUT = 256  # a batch ends after a name whose hash is 0 modulo this (so on average)
BATCH_MAX = 1024


def batch(
    plan: Plan, numpy: Any, judge: Callable[[str, Any], str | None]
) -> tuple[set[int], dict[str, str | None]]:
    """Rewrite ``plan.groups`` so that small plain values alone in their group (see
    sessions.core.engine.plain.small) go into batches of independent values, one stream
    each, instead of a stream apiece; return the indices of the batches and what ``judge``
    (the secrets judgement) said of each value it looked at.

    A value that looks like a credential stays alone: sharing leaves out a secret's whole
    group, and its neighbours in a batch must not go with it. Where a batch ends depends only
    on the names (a cut after a name whose crc32 is 0 modulo ``BATCH_CUT``, at most
    ``BATCH_MAX`` names), so adding or removing a variable changes one batch, not every batch
    after it."""
    out: list[list[str]] = []
    batch: list[str] = []
    found: set[int] = set()
    judged: dict[str, str | None] = {}

    def close() -> None:
        nonlocal batch
        if len(batch) > 1:
            found.add(len(out))
        if batch:
            out.append(batch)
        batch = []

    values = plan.values
    deps = plan.code_deps
    numbers = plain.NUMBERS
    crc32 = zlib.crc32
    for names in plan.groups:
        name = names[0]
        if len(names) != 1:
            out.append(names)
            continue
        value = values[name]
        if type(value) in numbers:  # small, needs nothing, holds no text: the common case
            batch.append(name)
            if len(batch) >= BATCH_MAX or crc32(name.encode()) % BATCH_CUT == 0:
                close()
            continue
        if not deps.get(name) and plain.small(value, numpy):
            why = judged[name] = judge(name, value)
            if why:
                out.append(names)
                continue
            batch.append(name)
            if len(batch) >= BATCH_MAX or crc32(name.encode()) % BATCH_CUT == 0:
                close()
        else:
            out.append(names)
    close()
    plan.groups = out
    return found, judged
