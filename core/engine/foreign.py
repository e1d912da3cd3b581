"""Foreign session files: ``dill.dump_module`` pickles (``*.pkl``, ``*.dill``) in the session dir.

Inspecting one walks its opcodes (sessions.core.engine.scan) and never imports or runs
anything; what loading it *would* call beyond known-safe constructors is listed in
``ForeignInfo.runs`` and shown as "runs code". Loading one is dill's own ``load_module``,
which runs whatever the file says: only on a user's request.

Scan cache (format 1): one JSON file per scanned file under ``<cache dir>/foreign-scans/``,
named by the blake3 of the scanner version, the file's path and identity (dev, inode, size,
mtime_ns, ctime_ns). A changed file has a new identity (ctime cannot be set back), so a hit
is the scan of these very bytes; a cache entry that does not read back as a well-formed
record is ignored and the file scanned again. Deleting the dir loses nothing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import blake3

from sessions.core.engine.scan import scan
from sessions.core.errors import FormatError, LoadError, SessionsError
from sessions.core.paths import cache_dir
from sessions.core.store.atomic import ensure_dir, write_file
from sessions.core.store.session_dir import Entry, Store

log = logging.getLogger("sessions.core.engine.foreign")

MAX_FOREIGN_SCAN = 4 * 1024 * 1024 * 1024
MAX_FOREIGN_OPS = 1_000_000  # ~1-2 s of walking; a scan that stops there vouches for nothing
CACHE_FORMAT = 1
SCAN_VERSION = "allow-list-1"  # bump when the scanner's verdicts change
CACHE_MAX_ENTRIES = 512
CACHE_MAX_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class ForeignInfo:
    """Names and types in a foreign file, as far as the scan could tell, and what loading it
    would call beyond known-safe constructors (``runs``: empty for a plain session)."""

    variables: dict[str, str]
    imports: dict[str, str]
    complete: bool
    error: str | None = None
    runs: tuple[str, ...] = ()

    @property
    def runs_code(self) -> bool:
        return bool(self.runs)

    def runs_text(self, limit: int = 5) -> str:
        """``"timeit.timeit, posix.system …"``: what loading would call, shortened."""
        return ", ".join(self.runs[:limit]) + (" …" if len(self.runs) > limit else "")


def foreign_entry(store: Store, path: Path) -> Entry:
    try:
        created = path.stat().st_mtime
    except OSError:
        created = 0.0
    rel = str(path.relative_to(store.root))
    return Entry("foreign", rel, path.stem, 0, path, created)


def inspect_foreign(path: Path, *, cache: bool = True) -> ForeignInfo:
    """Scan a foreign file (or read its cached scan); a damaged or hostile file gives
    ``error``, never an exception."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        return ForeignInfo({}, {}, False, f"cannot read file: {exc.strerror}")
    with os.fdopen(fd, "rb") as handle:
        try:
            info = os.fstat(handle.fileno())
        except OSError as exc:
            return ForeignInfo({}, {}, False, f"cannot read file: {exc.strerror}")
        key = _cache_key(path, info)
        if cache:
            hit = _cached(key)
            if hit is not None:
                return hit
        found = _inspect(handle, info.st_size)
    if cache:
        _remember(key, found)
    return found


def _inspect(handle: Any, size: int) -> ForeignInfo:
    if size > MAX_FOREIGN_SCAN:
        return ForeignInfo({}, {}, False, f"file is {size} bytes, too large to inspect")
    try:
        result = scan(handle, max_ops=MAX_FOREIGN_OPS)
    except FormatError as exc:
        return ForeignInfo({}, {}, False, str(exc))
    except OSError as exc:
        return ForeignInfo({}, {}, False, f"cannot read file: {exc.strerror}")
    runs = tuple(result.runs_code())
    if not result.complete:  # what the unread rest would call is unknown
        runs += (f"whatever follows: the scan {result.problem or 'stopped early'}",)
    found = result.variables()
    variables = {k: v for k, v in found.items() if not v.startswith("module ")}
    imports = {k: v[len("module ") :] for k, v in found.items() if v.startswith("module ")}
    if runs:
        shown = ", ".join(runs[:5]) + (" …" if len(runs) > 5 else "")
        why = f"RUNS CODE: loading would call {shown} (looked at, not run)"
        return ForeignInfo(variables, imports, result.complete, why, runs)
    if not found and (result.top is None or result.top.items is None):
        why = result.problem or "not a dill session file (no module state)"
        return ForeignInfo({}, {}, result.complete, why)
    return ForeignInfo(variables, imports, result.complete, result.problem)


def _cache_key(path: Path, info: os.stat_result) -> str:
    parts = (
        SCAN_VERSION,
        str(Path(path).absolute()),
        info.st_dev,
        info.st_ino,
        info.st_size,
        info.st_mtime_ns,
        info.st_ctime_ns,
    )
    return blake3.blake3("\0".join(map(str, parts)).encode()).hexdigest()[:32]


def _cache_path(key: str) -> Path:
    return cache_dir() / "foreign-scans" / f"{key}.json"


def _str_map(value: Any) -> dict[str, str] | None:
    if not isinstance(value, dict):
        return None
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return None
    return value


def _cached(key: str) -> ForeignInfo | None:
    """The cached scan for ``key``, or None when there is none or it is not well formed."""
    path = _cache_path(key)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(CACHE_MAX_BYTES + 1)
        record = json.loads(raw) if len(raw) <= CACHE_MAX_BYTES else None
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("format") != CACHE_FORMAT:
        return None
    variables, imports = _str_map(record.get("variables")), _str_map(record.get("imports"))
    complete, error, runs = record.get("complete"), record.get("error"), record.get("runs")
    if (
        variables is None
        or imports is None
        or not isinstance(complete, bool)
        or not (error is None or isinstance(error, str))
        or not isinstance(runs, list)
        or not all(isinstance(r, str) for r in runs)
    ):
        return None
    return ForeignInfo(variables, imports, complete, error, tuple(runs))


def _remember(key: str, found: ForeignInfo) -> None:
    """Cache a scan; a cache that cannot be written only costs the next scan."""
    record = {"format": CACHE_FORMAT, **asdict(found), "runs": list(found.runs)}
    data = json.dumps(record).encode()
    if len(data) > CACHE_MAX_BYTES:
        return
    directory = _cache_path(key).parent
    try:
        ensure_dir(directory)
        write_file(_cache_path(key), [data], sync_dir=False)
        entries = list(os.scandir(directory))
        if len(entries) > CACHE_MAX_ENTRIES:
            entries.sort(key=lambda e: e.stat().st_mtime_ns)
            for old in entries[: len(entries) - CACHE_MAX_ENTRIES * 3 // 4]:
                with contextlib.suppress(OSError):
                    os.unlink(old.path)
    except (OSError, SessionsError) as exc:
        log.debug("foreign scan cache not written: %s", exc)


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
