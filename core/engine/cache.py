"""Cache entries: results of cached calls and cells, stored as ordinary snapshots.

Format
------
A cache entry is a snapshot (sessions.core.store.manifest, schema 1.2) made by this module:

- its name is ``cache:<label>:<first 16 hex digits of the key>`` (``label``: the function's
  qualified name, or ``cell`` for a notebook cell), so finding a key reads one directory and
  one manifest; its origin ``kind`` is ``"cache"`` (the UI's Caches group);
- its manifest's ``cache`` key holds ``kind`` (``"function"`` or ``"cell"``), ``key`` (64 hex
  digits, sessions.core.engine.fingerprint), ``label``, ``function`` (``module.qualname``),
  ``args`` (argument name -> preview; arguments are hashed, not stored), ``seconds`` (what
  computing it took) and, for cells, ``code``, ``assigns`` and ``deletes``;
- its variables are ``result`` for a call, and for a cell the names it assigned plus
  ``__outputs__`` (what it printed and displayed, replayed on a hit).

A hit appends one byte to ``annotations/<ID>.hits`` (sessions.core.store.annotation): the hit
count is its size and the last hit its modification time. A lookup only accepts an entry
whose full key matches and whose signature you trust (your own), so a foreign or damaged
file is a miss, never a wrong result.

Durability: a cache is expendable, so an entry is written atomically (temp name, rename) but
never fsynced — its manifest in ``snapshots/cache~…/`` and its objects, big ones too, in a
volatile pack (sessions.core.store.session_dir and .packs). After a power loss an entry may
be gone, empty or torn; every read is checked (the manifest's signature, every object's
hash), so a torn entry is a miss, never a wrong result, and it is removed on sight (gc
removes the ones nobody looked up). No durable snapshot ever depends on a volatile object:
a save that needs an object found only in a volatile pack writes its own copy.

Because entries are snapshots, ``verify``, ``gc``, bundles and the UI know them; eviction
(a size cap, least recently used first) and ``clear`` remove their manifests, and ``gc``
frees the objects no other snapshot shares. Pinned entries are never evicted.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sessions.core.engine import environment, preview, serialize
from sessions.core.errors import BlobError, FormatError, LoadError, SessionsError
from sessions.core.store import annotation, retention
from sessions.core.store.manifest import Manifest
from sessions.core.store.session_dir import EXPENDABLE_DIR, EXPENDABLE_PREFIX, Entry, Store

log = logging.getLogger("sessions.cache")

ORIGIN_KIND = "cache"
OUTPUTS = "__outputs__"
RESULT = "result"
_LABEL_BAD = re.compile(r"[^A-Za-z0-9_.<>-]+")
_LIGHT_PREVIEW = 16 * 1024 * 1024  # arguments bigger than this get no statistics


class CacheError(SessionsError):
    """A cache entry that cannot be stored or used; the message says which and why."""


def entry_name(label: str, key: str) -> str:
    """The snapshot name of the entry for ``key``."""
    clean = _LABEL_BAD.sub("_", label).strip("._")[:80] or "call"
    return f"{EXPENDABLE_PREFIX}{clean}:{key[:16]}"


@dataclass(frozen=True)
class CacheInfo:
    """One cache entry as listed: what it caches, its size and how often it was used."""

    entry: Entry
    kind: str
    key: str
    label: str
    function: str
    args: dict[str, dict[str, Any]]
    seconds: float
    stored: int
    hits: int
    last_used: float
    pinned: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return self.entry.ref

    @property
    def id(self) -> str:
        return self.entry.id

    @property
    def created(self) -> float:
        return self.entry.created


def section(manifest: Manifest | None) -> dict[str, Any] | None:
    """The manifest's ``cache`` section when it is a well-formed cache entry (checked: the
    manifest may come from anywhere)."""
    if manifest is None:
        return None
    raw = manifest.extra.get("cache")
    if not isinstance(raw, dict):
        return None
    key = raw.get("key")
    if not isinstance(key, str) or not re.fullmatch(r"[0-9a-f]{64}", key):
        return None
    if raw.get("kind") not in ("function", "cell"):
        return None
    return raw


def _text(raw: dict[str, Any], key: str) -> str:
    value = raw.get(key)
    return value if isinstance(value, str) else ""


def _seconds(raw: dict[str, Any]) -> float:
    value = raw.get("seconds")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def describe(store: Store, entry: Entry) -> CacheInfo | None:
    """A :class:`CacheInfo` for ``entry``, or None when it is not a cache entry."""
    raw = section(entry.manifest)
    if raw is None or entry.manifest is None:
        return None
    args = raw.get("args")
    count, last = hits(store, entry.id)
    return CacheInfo(
        entry=entry,
        kind=str(raw["kind"]),
        key=str(raw["key"]),
        label=_text(raw, "label"),
        function=_text(raw, "function"),
        args={str(k): v for k, v in args.items() if isinstance(v, dict)}
        if isinstance(args, dict)
        else {},
        seconds=_seconds(raw),
        stored=entry.manifest.stored,
        hits=count,
        last_used=max(entry.created, last),
        pinned=annotation.read(store.root, entry.id).pinned,
        extra=raw,
    )


# --- hits -------------------------------------------------------------------------------------


def record_hit(store: Store, snapshot_id: str) -> None:
    """Count one hit (sessions.core.store.annotation; best effort)."""
    annotation.record_hit(store.root, snapshot_id)


def hits(store: Store, snapshot_id: str) -> tuple[int, float]:
    """(hits, time of the last hit; 0 when never hit)."""
    return annotation.hits(store.root, snapshot_id)


# --- finding and loading ----------------------------------------------------------------------


def find(store: Store, label: str, key: str) -> Entry | None:
    """The newest entry stored under ``key``, or None. A damaged one (torn by a power loss:
    entries are written without fsync) is removed, and is a miss."""
    try:
        entry = store.latest(entry_name(label, key))
    except SessionsError as exc:
        log.debug("cache lookup failed: %s", exc)
        return None
    if entry is None:
        return None
    if entry.manifest is None:
        discard(store, entry, entry.error or "damaged")
        return None
    raw = section(entry.manifest)
    if raw is None or raw["key"] != key:
        return None
    return entry


UNUSABLE = (BlobError, FormatError, LoadError, CacheError)  # damage, not distrust


def discard(store: Store, entry: Entry, why: object) -> None:
    """Remove an entry that cannot be used because its bytes are damaged (its objects go at
    the next gc), so that the next call stores a sound one. Best effort."""
    log.warning(
        "cache entry %s is damaged (%s): removed; it will be computed again", entry.ref, why
    )
    try:
        store.remove(entry)
    except SessionsError as exc:
        log.debug("cannot remove %s: %s", entry.ref, exc)


def load_values(
    store: Store, entry: Entry, names: Iterable[str], namespace: dict[str, Any]
) -> dict[str, Any]:
    """Unpickle the groups holding ``names`` with ``namespace`` as the session that by-name
    references resolve in, and return them, without binding anything in ``namespace``.
    Raises (TrustError, BlobError, LoadError, …) when the entry cannot be used."""
    from sessions.core.sharing.signing import check_trusted

    manifest = entry.manifest
    if manifest is None:
        raise CacheError(f"cache entry {entry.ref} is damaged: {entry.error}")
    check_trusted(manifest, verb="use")
    wanted = list(names)
    groups = sorted({v.group for v in manifest.variables if v.name in wanted})
    found: dict[str, Any] = {}
    for index in groups:
        group = manifest.groups[index]
        blobs = [store.blobs.read(blob.hash) for blob in group.blobs]
        found.update(
            serialize.load_group(
                group.serializer, blobs[0], list(blobs[1:]), namespace, manifest.module
            )
        )
    missing = [n for n in wanted if n not in found]
    if missing:
        raise CacheError(f"cache entry {entry.ref} lacks {', '.join(missing)}")
    return {n: found[n] for n in wanted}


# --- storing ----------------------------------------------------------------------------------


def closed_file(value: Any) -> bool:
    """A closed file object (``with open(...) as f`` leaves one bound): nothing to keep."""
    import io

    return isinstance(value, io.IOBase) and getattr(value, "closed", False) is True


def argument_preview(value: Any) -> dict[str, Any]:
    """A preview of an argument: as for any variable, without statistics over big arrays
    (arguments are hashed already; a second pass over a gigabyte would double a miss)."""
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, numpy.ndarray) and value.nbytes > _LIGHT_PREVIEW:
        return preview.bound(
            {
                "kind": "ndarray",
                "shape": list(value.shape),
                "dtype": str(value.dtype),
                "head": [str(x)[:40] for x in value.ravel()[:10].tolist()],
                "repr": f"array of shape {tuple(value.shape)}, {value.dtype}",
            }
        )
    return preview.build(value)


def put(
    store: Store,
    *,
    kind: str,
    label: str,
    key: str,
    namespace: dict[str, Any],
    values: dict[str, Any] | None,
    include: list[str] | None = None,
    note: str,
    details: dict[str, Any],
) -> Any:
    """Store one entry; returns the SaveResult. ``values`` (a call's result) are saved with
    ``namespace`` as their session; else ``include`` names of ``namespace`` are (a cell)."""
    from sessions.core.engine.save import save

    org = environment.origin(namespace)
    org = {k: v for k, v in org.items() if k in ("path", "notebook", "kernel_id")}
    org["kind"] = ORIGIN_KIND
    section = {"kind": kind, "key": key, "label": label, **details}
    return save(
        namespace,
        store=store,
        name=entry_name(label, key),
        include=include,
        note=note,
        tags=("cache",),
        origin=org,
        values=values,
        refer=True,
        extra={"cache": section},
        history=False,
        remember=False,
    )


# --- listing, removing, evicting ---------------------------------------------------------------


def entries(store: Store, *, function: str | None = None) -> list[CacheInfo]:
    """Every cache entry (of one ``module.qualname`` function, if given), oldest first."""
    out = []
    for version, snapshot_id, path in store.manifest_files():
        if not path.parent.name.startswith((EXPENDABLE_DIR, "cache_")):
            continue  # names are 'cache:…' (sessions.core.store.session_dir.slug; 'cache_': 0.2)
        entry = store.entry_at(version, snapshot_id, path)
        found = describe(store, entry)
        if found is None or (function is not None and found.function != function):
            continue
        out.append(found)
    out.sort(key=lambda info: (info.created, info.id))
    return out


def remove(store: Store, infos: Iterable[CacheInfo]) -> int:
    """Remove entries (their objects go at the next gc); returns how many."""
    count = 0
    for info in infos:
        store.remove(info.entry)
        count += 1
    return count


def evict(store: Store, max_bytes: int) -> list[CacheInfo]:
    """Remove the least recently used entries until the cache's objects take at most
    ``max_bytes`` (pinned entries stay, and count; sessions.core.store.retention, which
    applies the same cap when the daemon or ``gc`` runs). Returns what was removed."""
    infos = entries(store)
    by_id = {info.id: info for info in infos}
    pinned = {info.id for info in infos if info.pinned}
    used = {info.id: info.last_used for info in infos}
    chosen = retention.cache_overflow([i.entry for i in infos], pinned, max_bytes, used)
    removed = [by_id[entry.id] for entry in chosen]
    remove(store, removed)
    if removed:
        log.info("cache over %d bytes: evicted %d entries", max_bytes, len(removed))
    return removed


def total_bytes(infos: Iterable[CacheInfo]) -> int:
    """Bytes on disk of the objects these entries name (shared ones counted once)."""
    seen: dict[str, int] = {}
    for info in infos:
        if info.entry.manifest is not None:
            for digest, blob in info.entry.manifest.all_blobs().items():
                seen[digest] = blob.stored
    return sum(seen.values())


def free(store: Store, *, timeout: float = 2.0) -> int:
    """Run gc so removed entries give their space back; 0 when another process holds the
    store's gc lock (the next gc frees it) or a damaged snapshot stops gc."""
    from sessions.core.store.gc import gc

    try:
        return gc(store, timeout=timeout).freed
    except SessionsError as exc:
        log.info("cache: space not freed yet: %s", exc)
        return 0
