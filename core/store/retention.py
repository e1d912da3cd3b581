"""Retention: which snapshots a policy removes. Pinned snapshots are never removed.

Rules combine (a snapshot goes if any rule says so): keep the newest N per name, the newest
N per origin (script path, notebook or kernel), drop those older than an age, cap what cache
entries take (``[cache] max_mb``: the least recently used go first, counting the objects they
name once however many share them), and keep the newest until a total size is reached —
cached results and run checkpoints (origin kinds ``cache`` and ``run``: they can be computed
again) are the first to go under that size. Damaged snapshots and foreign files are left
alone: retention only removes what it can read.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sessions.core.config import RetentionPolicy
from sessions.core.store import annotation
from sessions.core.store.session_dir import Entry, Store

log = logging.getLogger("sessions.retention")


@dataclass
class RetentionReport:
    removed: list[str] = field(default_factory=list)  # "name@v (id): reason"
    kept_pinned: int = 0


def _origin_key(entry: Entry) -> str:
    origin = entry.manifest.origin if entry.manifest else {}
    return (
        origin.get("notebook")
        or origin.get("path")
        or origin.get("kernel_id")
        or origin.get("kind", "")
    )


EXPENDABLE = frozenset({"cache", "run"})


def _expendable(entry: Entry) -> bool:
    """A cached result or a run checkpoint: it can be computed again."""
    return bool(entry.manifest and entry.manifest.origin.get("kind") in EXPENDABLE)


def is_cache(entry: Entry) -> bool:
    """A cache entry (sessions.core.engine.cache): a stored result of a cached call or cell."""
    return bool(entry.manifest and entry.manifest.origin.get("kind") == "cache")


def last_used(store: Store, entries: Iterable[Entry]) -> dict[str, float]:
    """When each entry was last used: its last counted hit, else when it was made."""
    return {e.id: max(e.created, annotation.hits(store.root, e.id)[1]) for e in entries}


def cache_overflow(
    entries: Iterable[Entry],
    pinned: set[str],
    max_bytes: int,
    used: Mapping[str, float],
) -> list[Entry]:
    """The cache entries to remove, least recently used first, until the objects the rest
    name take at most ``max_bytes`` (an object shared by several counts once, and goes only
    with its last user). Pinned entries stay and count."""
    caches = [e for e in entries if e.kind == "snapshot" and is_cache(e)]
    users: dict[str, int] = {}
    sizes: dict[str, int] = {}
    for entry in caches:
        assert entry.manifest is not None
        for digest, blob in entry.manifest.all_blobs().items():
            users[digest] = users.get(digest, 0) + 1
            sizes[digest] = blob.stored
    total = sum(sizes.values())
    out: list[Entry] = []
    for entry in sorted(caches, key=lambda e: (used.get(e.id, e.created), e.id)):
        if total <= max_bytes:
            break
        if entry.id in pinned:
            continue
        out.append(entry)
        assert entry.manifest is not None
        for digest in entry.manifest.all_blobs():
            users[digest] -= 1
            if users[digest] == 0:
                total -= sizes[digest]
    return out


def plan(
    entries: list[Entry],
    pinned: set[str],
    policy: RetentionPolicy,
    now: float | None = None,
    used: Mapping[str, float] | None = None,
) -> dict[str, str]:
    """``{snapshot id: reason}`` for the snapshots ``policy`` removes; ``used`` is when each
    cache entry was last used (default: when it was made)."""
    now = time.time() if now is None else now
    snapshots = sorted(
        (e for e in entries if e.kind == "snapshot" and e.manifest is not None),
        key=lambda e: (e.created, e.id),
        reverse=True,
    )
    doomed: dict[str, str] = {}
    if policy.keep_last is not None:
        seen: dict[str, int] = {}
        for entry in snapshots:
            seen[entry.name] = seen.get(entry.name, 0) + 1
            if seen[entry.name] > policy.keep_last:
                doomed.setdefault(
                    entry.id, f"more than {policy.keep_last} versions of {entry.name}"
                )
    if policy.keep_last_per_origin is not None:
        per: dict[str, int] = {}
        for entry in snapshots:
            key = _origin_key(entry)
            per[key] = per.get(key, 0) + 1
            if per[key] > policy.keep_last_per_origin:
                doomed.setdefault(
                    entry.id, f"more than {policy.keep_last_per_origin} from {key or 'its origin'}"
                )
    if policy.max_age_days is not None:
        limit = now - policy.max_age_days * 86400
        for entry in snapshots:
            if entry.created < limit:
                doomed.setdefault(entry.id, f"older than {policy.max_age_days:g} days")
    if policy.cache_max_bytes is not None:
        left = [e for e in snapshots if e.id not in doomed]
        mb = policy.cache_max_bytes / (1024 * 1024)
        for entry in cache_overflow(left, pinned, policy.cache_max_bytes, used or {}):
            doomed.setdefault(
                entry.id, f"least recently used cache entry over [cache] max_mb {mb:g}"
            )
    if policy.max_total_bytes is not None:
        total = 0
        counted: set[str] = set()
        # cached results and run checkpoints can be computed again: counted last, they are
        # the first over the budget (newest first within each kind, as before)
        by_need = sorted(snapshots, key=_expendable)
        for entry in by_need:
            assert entry.manifest is not None
            new = {
                digest: b.stored
                for digest, b in entry.manifest.all_blobs().items()
                if digest not in counted
            }
            counted |= set(new)
            total += sum(new.values())
            if total > policy.max_total_bytes and entry.id not in pinned:
                doomed.setdefault(
                    entry.id, f"over the {policy.max_total_bytes // (1024 * 1024)} MiB total"
                )
    return {k: v for k, v in doomed.items() if k not in pinned}


def apply(store: Store, policy: RetentionPolicy, now: float | None = None) -> RetentionReport:
    """Remove what ``policy`` says (manifests; blobs go with the next gc) and log each removal."""
    report = RetentionReport()
    if not policy.active:
        return report
    entries = store.entries(foreign=False)
    pinned = {e.id for e in entries if annotation.read(store.root, e.id).pinned}
    report.kept_pinned = len(pinned)
    used = last_used(store, (e for e in entries if is_cache(e)))
    doomed = plan(entries, pinned, policy, now, used)
    for entry in entries:
        reason = doomed.get(entry.id)
        if reason is None:
            continue
        store.remove(entry)
        line = f"{entry.ref} ({entry.id}): {reason}"
        report.removed.append(line)
        log.info("retention removed %s", line)
    return report
