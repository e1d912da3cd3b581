"""Sessions: save, inspect and restore live Python sessions — R's ``save.image()`` for Python.

    >>> import sessions
    >>> sessions.save("cleaned", note="after dedup")      # every variable, incrementally
    >>> sessions.snapshots()                              # what is stored, nothing unpickled
    >>> sessions.inspect("cleaned").variables              # names and types
    >>> sessions.load("cleaned@1", names=["df"])           # one variable plus what it needs

A ref is a snapshot id, a unique id prefix, a name (its latest version) or ``name@N``.
Snapshots live in ``$SESSIONS_HOME`` or the platform's user data dir for ``sessions-tui``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from core.api import SnapshotInfo
from core.api import inspect as _inspect
from core.api import snapshots as _snapshots
from core.errors import SessionsError
from core.load import LoadReport
from core.load import load as _load
from core.save import SaveResult
from core.save import save as _save
from core.store import Store

__all__ = [
    "LoadReport",
    "SaveResult",
    "SessionsError",
    "SnapshotInfo",
    "inspect",
    "load",
    "save",
    "snapshots",
]
__version__ = "0.1.0"


def _store(home: str | Path | None) -> Store:
    return Store(home) if home is not None else Store()


def _main_namespace() -> dict[str, Any]:
    return vars(sys.modules["__main__"])


def save(
    name: str | None = None,
    *,
    namespace: dict[str, Any] | None = None,
    include: Iterable[str] | str | None = None,
    exclude: Iterable[str] | str | None = None,
    note: str | None = None,
    tags: Iterable[str] = (),
    private: bool = False,
    home: str | Path | None = None,
) -> SaveResult:
    """Save every variable of ``namespace`` (default: ``__main__``) as the next version of
    ``name`` (default: the script or notebook name). Unpicklable values are skipped and
    listed in ``.skipped``; names starting with ``_`` are taken only with ``private=True``."""
    return _save(
        namespace if namespace is not None else _main_namespace(),
        store=_store(home),
        name=name,
        include=include,
        exclude=exclude,
        note=note,
        tags=tags,
        private=private,
    )


def load(
    ref: str,
    *,
    names: Iterable[str] | str | None = None,
    namespace: dict[str, Any] | None = None,
    home: str | Path | None = None,
) -> LoadReport:
    """Load snapshot ``ref`` (everything, or ``names`` plus what they need) into
    ``namespace`` (default: ``__main__``). Returns a per-variable report; one failing
    variable does not stop the others. Loading unpickles: load only snapshots you trust."""
    return _load(
        _store(home),
        ref,
        names=[names] if isinstance(names, str) else names,
        namespace=namespace if namespace is not None else _main_namespace(),
    )


def snapshots(*, home: str | Path | None = None) -> list[SnapshotInfo]:
    """Every snapshot in the session dir, oldest first (damaged ones flagged, not fatal)."""
    return _snapshots(_store(home))


def inspect(ref: str, *, home: str | Path | None = None) -> SnapshotInfo:
    """What snapshot ``ref`` holds — names, types, previews — without unpickling anything."""
    return _inspect(ref, _store(home))
