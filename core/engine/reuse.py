"""What a re-save takes from the previous save of the same name in this process.

- **Previews of unchanged values.** A preview is a function of the value, and a group's
  object hashes fix its values; so when a variable's group has the same hashes as last time,
  its preview is reused instead of rebuilt (array statistics cost about 0.66 s/GB). Groups
  pickled by dill (code) or referring to other session objects by name are always rebuilt:
  their previews can show what lies outside their bytes (source text, a class's repr).
- **Immutable values that are the very same objects.** A variable alone in its group whose
  value is exactly an int, float, str, bytes, … or a tuple/frozenset of those, and is the
  same object as at the last save, pickles to the same bytes: its stored objects are reused
  without pickling, hashing or writing, after checking that the store still has them (the
  save holds ``gc.lock`` shared, so they stay). The same holds for a batch of small values
  (sessions.core.engine.batches) whose members are all such objects, and a member of a batch
  that changed keeps its preview when its own value is the same immutable object. The memo
  holds these values (at most ``IMMUTABLE_LIMIT`` bytes of pickle each), so their ids cannot
  be reused by other objects.

The memo lives in the process, per session dir and snapshot name, for the ``MAX_NAMES``
names saved most recently; a new process starts empty (its first save does all the work).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sessions.core.store.blobs import BlobRef

MAX_NAMES = 16
IMMUTABLE_LIMIT = 64 * 1024
_ATOMS = frozenset({type(None), bool, int, float, complex, str, bytes})
_WALK = 1_000  # items of nested tuples/frozensets checked before giving up


def immutable(value: Any) -> bool:
    """Whether ``value`` is built only of exact immutable builtins (bounded walk)."""
    stack, budget = [value], _WALK
    while stack:
        budget -= 1
        if budget < 0:
            return False
        obj = stack.pop()
        cls = type(obj)
        if cls in _ATOMS:
            continue
        if cls is tuple or cls is frozenset:
            stack.extend(obj)
            continue
        return False
    return True


@dataclass(frozen=True)
class Kept:
    """A stored immutable value: its group's serializer, objects and preview."""

    value: Any
    serializer: str
    refs: tuple[BlobRef, ...]
    preview: dict[str, Any]


@dataclass(frozen=True)
class KeptBatch:
    """A stored batch (sessions.core.engine.batches) of immutable values: its members, their
    values, its group's serializer and objects, and the members' previews."""

    names: tuple[str, ...]
    values: tuple[Any, ...]
    serializer: str
    refs: tuple[BlobRef, ...]
    previews: dict[str, dict[str, Any]]
    digests: dict[str, str]


class Memo:
    """The previous save of one name: previews by variable and group hashes, kept values."""

    def __init__(self) -> None:
        self.previews: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {}
        self.kept: dict[str, Kept] = {}
        self.batches: dict[tuple[str, ...], KeptBatch] = {}
        self.same: dict[str, tuple[Any, dict[str, Any]]] = {}  # immutable value, its preview

    def unchanged_batch(
        self, names: list[str], values: dict[str, Any], has: Callable[[str], bool]
    ) -> KeptBatch | None:
        """The kept batch when these names hold exactly the same immutable objects as in a
        batch saved last time and the store still holds its objects."""
        kept = self.batches.get(tuple(names))
        if kept is None or any(values[n] is not v for n, v in zip(kept.names, kept.values)):
            return None
        if not all(has(ref.hash) for ref in kept.refs):
            return None
        return kept

    def same_preview(self, name: str, value: Any) -> dict[str, Any] | None:
        """The previous preview of ``name`` when it holds the same immutable object."""
        found = self.same.get(name)
        return found[1] if found is not None and found[0] is value else None

    def unchanged(self, name: str, value: Any, has: Callable[[str], bool]) -> Kept | None:
        """The kept record when ``value`` is the same immutable object saved last time and the
        store still holds its objects."""
        kept = self.kept.get(name)
        if kept is None or kept.value is not value:
            return None
        if not all(has(ref.hash) for ref in kept.refs):
            return None
        return kept

    def preview(self, name: str, key: tuple[str, ...]) -> dict[str, Any] | None:
        """The previous preview of ``name`` when its group had exactly these object hashes."""
        found = self.previews.get(name)
        return found[1] if found is not None and found[0] == key else None

    @staticmethod
    def reusable(serializer: str, refs: set[str]) -> bool:
        """Whether a group's previews may be reused at all (see the module docstring)."""
        return serializer == "pickle" and not refs


_MEMOS: OrderedDict[tuple[str, str], Memo] = OrderedDict()
_LOCK = threading.Lock()


def memo_for(root: str, name: str) -> Memo:
    """The memo of the last save of ``name`` into the session dir at ``root`` (may be empty)."""
    with _LOCK:
        memo = _MEMOS.get((root, name))
        if memo is None:
            return Memo()
        _MEMOS.move_to_end((root, name))
        return memo


def remember(root: str, name: str, memo: Memo) -> None:
    """Keep ``memo`` as the last save of ``name`` (after its manifest is committed)."""
    with _LOCK:
        _MEMOS[(root, name)] = memo
        _MEMOS.move_to_end((root, name))
        while len(_MEMOS) > MAX_NAMES:
            _MEMOS.popitem(last=False)
