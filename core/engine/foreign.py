"""Foreign session files: ``dill.dump_module`` pickles (``*.pkl``, ``*.dill``) in the session dir.

Inspecting one walks its opcodes (sessions.core.engine.scan) and never imports or runs anything. Loading one
is dill's own ``load_module``, which runs whatever the file says: only on a user's request.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sessions.core.engine.scan import scan
from sessions.core.errors import FormatError, LoadError
from sessions.core.store.session_dir import Entry, Store

MAX_FOREIGN_SCAN = 4 * 1024 * 1024 * 1024


@dataclass(frozen=True)
class ForeignInfo:
    """Names and types in a foreign file, as far as the scan could tell."""

    variables: dict[str, str]
    imports: dict[str, str]
    complete: bool
    error: str | None = None


def foreign_entry(store: Store, path: Path) -> Entry:
    try:
        created = path.stat().st_mtime
    except OSError:
        created = 0.0
    rel = str(path.relative_to(store.root))
    return Entry("foreign", rel, path.stem, 0, path, created)


def inspect_foreign(path: Path) -> ForeignInfo:
    """Scan a foreign file; a damaged or hostile file gives ``error``, never an exception."""
    try:
        size = path.stat().st_size
        if size > MAX_FOREIGN_SCAN:
            return ForeignInfo({}, {}, False, f"file is {size} bytes, too large to inspect")
        with open(path, "rb") as handle:
            result = scan(handle)
    except FormatError as exc:
        return ForeignInfo({}, {}, False, str(exc))
    except OSError as exc:
        return ForeignInfo({}, {}, False, f"cannot read file: {exc.strerror}")
    risky = result.dangerous()
    if risky:
        shown = ", ".join(risky[:5]) + (" …" if len(risky) > 5 else "")
        return ForeignInfo(
            result.variables(),
            {},
            result.complete,
            f"loading would call {shown}; not a plain session file (looked at, not run)",
        )
    found = result.variables()
    if not found and (result.top is None or result.top.items is None):
        return ForeignInfo({}, {}, result.complete, "not a dill session file (no module state)")
    variables = {k: v for k, v in found.items() if not v.startswith("module ")}
    imports = {k: v[len("module ") :] for k, v in found.items() if v.startswith("module ")}
    return ForeignInfo(variables, imports, result.complete, result.problem)


def load_foreign(path: Path, namespace: dict[str, Any], names: list[str] | None) -> dict[str, Any]:
    """Load a dill session file with dill (runs its code) and copy the wanted names in."""
    import dill

    try:
        loaded = dill.load_module_asdict(str(path))
    except Exception as exc:
        raise LoadError(f"{path.name} could not be loaded by dill: {exc}".splitlines()[0]) from None
    wanted = (
        names
        if names is not None
        else [k for k in loaded if not (k.startswith("__") and k.endswith("__"))]
    )
    out = {}
    for name in wanted:
        if name in loaded:
            out[name] = loaded[name]
    for name, value in out.items():
        namespace[name] = value
    with contextlib.suppress(Exception):
        loaded.clear()
    return out
