"""Where the UI's data comes from: the catalog the daemon keeps, or the disk when no daemon
answers. Everything here is blocking and runs in workers, never on the UI thread."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sessions.core.engine.foreign import ForeignInfo, inspect_foreign
from sessions.core.sharing.share import flagged
from sessions.core.sharing.signing import signer
from sessions.core.store import annotation
from sessions.core.store.catalog import Catalog, Row, row_from_values, row_values
from sessions.core.store.manifest import Manifest
from sessions.core.store.session_dir import Entry, Store

PAGE = 10_000
CACHE_GROUP = "cache"  # the origin group of cache entries (sessions.core.engine.cache)


@dataclass
class Detail:
    """What the UI shows for one selected row."""

    row: Row
    entry: Entry | None
    manifest: Manifest | None = None
    foreign: ForeignInfo | None = None
    error: str | None = None
    marked: set[str] = field(default_factory=set)
    signed: str = ""  # who signed it, and whether you trust them (sessions.core.sharing.signing)
    secrets: dict[str, str] = field(default_factory=dict)  # name -> why it looks like one
    usage: tuple[int, float] | None = None  # a cache entry's (hits, last hit)


class Source:
    """Rows for the UI. With a running daemon, the catalog; without, a scan of the store
    (slower, cached until ``refresh``)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._scan: list[Row] | None = None
        self._search: dict[str, str] = {}

    def catalog(self) -> Catalog | None:
        return Catalog.open_reader(self.store.root)

    def rows(
        self, *, live: bool, text: str = "", group: str | None = None, limit: int = PAGE
    ) -> tuple[list[Row], list[tuple[str, int]], int]:
        """(newest rows matching, groups with counts, how many "All" holds). Cache entries
        are listed only in their own group (``group="cache"``): "All" leaves them out, as
        ``ls`` does without ``--all``, so that a cached function called in a loop does not
        bury the snapshots."""
        if live:
            catalog = self.catalog()
            if catalog is not None:
                try:
                    groups = catalog.groups()
                    return (
                        catalog.newest(limit, text or None, group, caches=False),
                        groups,
                        catalog.count() - dict(groups).get(CACHE_GROUP, 0),
                    )
                finally:
                    catalog.close()
        rows = self._scanned()
        counts: dict[str, int] = {}
        for row in rows:
            counts[row.group] = counts.get(row.group, 0) + 1
        words = text.lower().split()
        picked = [
            r
            for r in rows
            if (r.group == group if group is not None else r.group != CACHE_GROUP)
            and all(w in self._search.get(r.path, "") for w in words)
        ]
        picked.sort(key=lambda r: r.created, reverse=True)
        total = len(rows) - counts.get(CACHE_GROUP, 0)
        return picked[:limit], sorted(counts.items(), key=lambda g: -g[1]), total

    def refresh(self) -> None:
        self._scan = None

    def _scanned(self) -> list[Row]:
        if self._scan is None:
            rows, search = [], {}
            for entry in self.store.entries():
                try:
                    info = entry.path.lstat()
                    stamp = (info.st_mtime_ns, info.st_size)
                except OSError:
                    stamp = (0, 0)
                foreign_vars = None
                error = None
                if entry.kind == "foreign":
                    found = inspect_foreign(entry.path)
                    foreign_vars = found.variables or None
                    error = found.error if not found.variables else None
                values = row_values(
                    entry,
                    annotation.read(self.store.root, entry.id),
                    *stamp,
                    foreign_vars=foreign_vars,
                    error=error,
                )
                search[values["path"]] = values["search"]
                rows.append(row_from_values(values))
            self._scan, self._search = rows, search
        return self._scan

    def detail(self, row: Row) -> Detail:
        """Read the manifest (or scan the foreign file) behind ``row``; never unpickles."""
        path = Path(row.path)
        if row.kind == "foreign":
            entry = Entry("foreign", row.id, row.name, 0, path, row.created)
            found = inspect_foreign(path)
            error = found.error if not found.variables else None
            return Detail(row, entry, foreign=found, error=error or row.damaged)
        entry = self.store.entry_at(row.version, row.id, path)
        signed = ""
        if entry.manifest is not None:
            found = signer(entry.manifest)
            signed = found.describe()
            if found.state == "valid" and not found.trusted:
                signed += ": restoring it needs `sessions-tui trust add` first"
        found_secrets = flagged(entry.manifest) if entry.manifest is not None else {}
        usage = None
        if entry.manifest is not None and entry.manifest.origin.get("kind") == "cache":
            usage = annotation.hits(self.store.root, entry.id)
        return Detail(
            row,
            entry,
            manifest=entry.manifest,
            error=entry.error,
            signed=signed,
            secrets=found_secrets,
            usage=usage,
        )

    def entry(self, row: Row) -> Entry:
        return self.detail(row).entry  # type: ignore[return-value]
