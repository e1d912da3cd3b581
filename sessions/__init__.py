"""Sessions: save, inspect and restore live Python sessions — R's ``save.image()`` for Python.

    >>> import sessions
    >>> sessions.save("cleaned", note="after dedup")      # every variable, incrementally
    >>> sessions.snapshots()                              # what is stored, nothing unpickled
    >>> sessions.inspect("cleaned").variables              # names and types
    >>> sessions.load("cleaned@1", names=["df"])           # one variable plus what it needs
    >>> sessions.push("cleaned", "team")                   # share: signed, secrets left out
    >>> sessions.pull("alice/model", "team", version=3)    # a teammate's snapshot
    >>> @sessions.cache                                   # results kept by what they depend on
    ... def fit(data, alpha=0.1): ...

A ref is a snapshot id, a unique id prefix, a name (its latest version) or ``name@N``.
Snapshots live in ``$SESSIONS_HOME`` or the platform's user data dir for ``sessions-tui``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sessions.core.errors import SessionsError

# The facade is imported by every notebook and script that uses Sessions, so it imports
# nothing heavy: the library (dill, cryptography, msgpack, zstandard...) loads on first use.
if TYPE_CHECKING:
    from sessions.core.api import SnapshotInfo
    from sessions.core.engine.load import LoadReport
    from sessions.core.engine.save import SaveResult
    from sessions.core.sharing.bundle import ExportResult, ImportResult
    from sessions.core.sharing.remote import PullResult, PushResult
    from sessions.core.store.session_dir import Store

_LAZY = {
    "LoadReport": "sessions.core.engine.load",
    "SaveResult": "sessions.core.engine.save",
    "SnapshotInfo": "sessions.core.api",
}


def __getattr__(name: str) -> Any:
    """The result types, imported when first asked for (``sessions.SaveResult``)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sessions' has no attribute '{name}'")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "LoadReport",
    "SaveResult",
    "SessionsError",
    "SnapshotInfo",
    "export",
    "import_bundle",
    "inspect",
    "load",
    "pull",
    "push",
    "save",
    "snapshots",
]
__version__ = "0.1.0"


def _store(home: str | Path | None) -> Store:
    from sessions.core.store.session_dir import Store

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
    listed in ``.skipped``; names starting with ``_`` are taken only with ``private=True``
    (or when saved code reads them)."""
    from sessions.core.engine.save import save as _save

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
    trust: bool = False,
) -> LoadReport:
    """Load snapshot ``ref`` (everything, or ``names`` plus what they need) into
    ``namespace`` (default: ``__main__``). Returns a per-variable report; one failing
    variable does not stop the others. Loading unpickles, so only snapshots signed by you or
    a trusted key load; ``trust=True`` overrides that once (TrustError says whose key it is)."""
    from sessions.core.engine.load import load as _load

    return _load(
        _store(home),
        ref,
        names=[names] if isinstance(names, str) else names,
        namespace=namespace if namespace is not None else _main_namespace(),
        trust=trust,
    )


def snapshots(*, home: str | Path | None = None) -> list[SnapshotInfo]:
    """Every snapshot in the session dir, oldest first (damaged ones flagged, not fatal)."""
    from sessions.core.api import snapshots as _snapshots

    return _snapshots(_store(home))


def inspect(ref: str, *, home: str | Path | None = None) -> SnapshotInfo:
    """What snapshot ``ref`` holds — names, types, previews — without unpickling anything."""
    from sessions.core.api import inspect as _inspect

    return _inspect(ref, _store(home))


def export(
    ref: str,
    path: str | Path,
    *,
    include_secrets: bool = False,
    home: str | Path | None = None,
) -> ExportResult:
    """Write snapshot ``ref`` as one signed bundle file at ``path``. Variables that look like
    credentials are left out (listed in ``.left_out``) unless ``include_secrets``."""
    from sessions.core.sharing.bundle import export as _export

    return _export(_store(home), ref, path, include_secrets=include_secrets)


def import_bundle(
    path: str | Path, *, trust: bool = False, home: str | Path | None = None
) -> ImportResult:
    """Add the snapshot in bundle ``path`` to the session dir: checked, all or nothing. A
    bundle signed by a key you do not trust is refused unless ``trust=True``."""
    from sessions.core.sharing.bundle import import_bundle as _import

    return _import(_store(home), path, trust_once=trust)


def push(
    ref: str,
    remote: str | None = None,
    *,
    owner: str | None = None,
    include_secrets: bool = False,
    home: str | Path | None = None,
) -> PushResult:
    """Publish snapshot ``ref`` to ``remote`` (a configured name, a folder or a URL) as
    ``owner``'s next version of its name; only blobs the remote lacks are uploaded."""
    from sessions.core.sharing.remote import open_remote

    return open_remote(remote).push(_store(home), ref, owner=owner, include_secrets=include_secrets)


def pull(
    name: str,
    remote: str | None = None,
    *,
    owner: str | None = None,
    version: int | None = None,
    trust: bool = False,
    data_only: bool = False,
    home: str | Path | None = None,
) -> PullResult | dict[str, Any]:
    """Copy ``[OWNER/]NAME[@VERSION]`` from ``remote`` into the session dir (signature and
    blobs checked; an untrusted signer refused unless ``trust=True``). With ``data_only``,
    return the numeric arrays as ``{name: ndarray}`` instead, from any sender, unpickling
    nothing; its ``.signer`` says who signed them and ``.failed`` names any refused."""
    from sessions.core.sharing.remote import open_remote

    spec = name if owner is None else f"{owner}/{name}"
    if version is not None:
        spec = f"{spec.split('@')[0]}@{version}"
    opened = open_remote(remote)
    if data_only:
        return opened.pull_data(spec)[1].as_dict()
    return opened.pull(_store(home), spec, trust_once=trust)


def cache(
    func: Any = None,
    *,
    ignore: Iterable[str] = (),
    max_mb: float | None = None,
    home: str | Path | None = None,
) -> Any:
    """Store a function's results by the content of what they are computed from, and return
    them from the session dir instead of computing them again: ``@sessions.cache``,
    ``@sessions.cache(ignore=["verbose"])`` or ``sessions.cache(func)``. The key covers the
    function's code, the session functions it calls, the globals it reads, the versions of
    the modules it uses and the arguments' content; ``ignore`` leaves out arguments or globals
    that do not change the result. ``.clear()`` removes its entries; ``max_mb`` (or
    ``[cache] max_mb`` in config.toml) caps the cache, least recently used entries first."""
    from sessions.core.engine.cached_function import cache as _cache

    return _cache(func, home=home, ignore=ignore, max_mb=max_mb)


def load_ipython_extension(shell: Any) -> None:
    """``%load_ext sessions``: the ``%sessions`` magic (save, load, list, show, auto)."""
    from sessions.kernels.magics import load_ipython_extension as _load_ext

    _load_ext(shell)


def unload_ipython_extension(shell: Any) -> None:
    from sessions.kernels.magics import unload_ipython_extension as _unload_ext

    _unload_ext(shell)
