"""The catalog: an SQLite index of a session dir, so listing never scans the disk.

Format (catalog schema 2, ``PRAGMA user_version``)
-------------------------------------------------
One SQLite database per session dir, in WAL mode, under the user cache dir
(``catalogs/<blake3 of the session dir path>.sqlite``; ``$SESSIONS_CACHE_DIR`` overrides).
Tables: ``entries`` (one row per snapshot manifest or foreign dill file: what its manifest
says plus the annotation, and the file's mtime and size for reconciling), ``index_errors``
(files that could not be indexed, and why) and ``meta``. It is a cache: the disk is the
truth, and a missing, damaged or older catalog is simply rebuilt. A catalog with a newer
schema is refused plainly rather than guessed at.

The daemon writes it; the UI and the CLI read it (read-only connections).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import blake3
import platformdirs

from sessions.core.errors import NewerFormatError
from sessions.core.paths import APP
from sessions.core.store.annotation import Annotation
from sessions.core.store.atomic import ensure_dir
from sessions.core.store.session_dir import Entry

SCHEMA = 2
_RECENT_SCAN = 20_000

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS entries (
    path TEXT PRIMARY KEY,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    created REAL NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '[]',
    origin_kind TEXT NOT NULL DEFAULT '',
    origin_path TEXT NOT NULL DEFAULT '',
    user TEXT NOT NULL DEFAULT '',
    host TEXT NOT NULL DEFAULT '',
    python TEXT NOT NULL DEFAULT '',
    nvars INTEGER,
    nskipped INTEGER NOT NULL DEFAULT 0,
    stored INTEGER NOT NULL DEFAULT 0,
    memory INTEGER NOT NULL DEFAULT 0,
    pinned INTEGER NOT NULL DEFAULT 0,
    annotated INTEGER NOT NULL DEFAULT 0,
    damaged TEXT,
    search TEXT NOT NULL DEFAULT '',
    mtime_ns INTEGER NOT NULL DEFAULT 0,
    size INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS entries_created ON entries (created DESC);
CREATE INDEX IF NOT EXISTS entries_id ON entries (id);
CREATE INDEX IF NOT EXISTS entries_origin ON entries (origin_kind, created DESC);
CREATE TABLE IF NOT EXISTS index_errors (path TEXT PRIMARY KEY, error TEXT NOT NULL, seen REAL NOT NULL);
"""

# Substring search over names, notes, tags and variable names: a trigram full-text index
# (SQLite 3.34+) kept in step by triggers; without it, queries scan ``search``.
_FTS = """
CREATE VIRTUAL TABLE IF NOT EXISTS entries_fts USING fts5(
    search, content='entries', content_rowid='rowid', tokenize='trigram'
);
CREATE TRIGGER IF NOT EXISTS entries_ai AFTER INSERT ON entries BEGIN
    INSERT INTO entries_fts (rowid, search) VALUES (new.rowid, new.search);
END;
CREATE TRIGGER IF NOT EXISTS entries_ad AFTER DELETE ON entries BEGIN
    INSERT INTO entries_fts (entries_fts, rowid, search) VALUES ('delete', old.rowid, old.search);
END;
"""

_COLUMNS = [
    "path",
    "id",
    "kind",
    "name",
    "version",
    "created",
    "note",
    "tags",
    "origin_kind",
    "origin_path",
    "user",
    "host",
    "python",
    "nvars",
    "nskipped",
    "stored",
    "memory",
    "pinned",
    "annotated",
    "damaged",
    "search",
    "mtime_ns",
    "size",
]


def catalog_path(root: Path) -> Path:
    """Where the catalog of session dir ``root`` lives."""
    env = os.environ.get("SESSIONS_CACHE_DIR")
    base = (
        Path(env).expanduser() if env else Path(platformdirs.user_cache_dir(APP, appauthor=False))
    )
    key = blake3.blake3(str(Path(root).absolute()).encode()).hexdigest()[:16]
    return base / "catalogs" / f"{key}.sqlite"


@dataclass(frozen=True)
class Row:
    """One catalog entry, as the UI lists it."""

    path: str
    id: str
    kind: str
    name: str
    version: int
    created: float
    note: str
    tags: tuple[str, ...]
    origin_kind: str
    origin_path: str
    user: str
    host: str
    python: str
    nvars: int | None
    nskipped: int
    stored: int
    memory: int
    pinned: bool
    damaged: str | None

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}" if self.kind == "snapshot" else self.id

    @property
    def group(self) -> str:
        """The origin group the UI shows it under."""
        if self.kind == "foreign":
            return "dill file"
        return self.origin_kind or "unknown"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "ref": self.ref,
            "name": self.name,
            "version": self.version,
            "created": self.created,
            "note": self.note,
            "tags": list(self.tags),
            "origin_kind": self.origin_kind,
            "origin_path": self.origin_path,
            "variables": self.nvars,
            "skipped": self.nskipped,
            "stored": self.stored,
            "memory": self.memory,
            "pinned": self.pinned,
            "damaged": self.damaged,
            "path": self.path,
        }


def row_values(
    entry: Entry,
    annotation: Annotation,
    mtime_ns: int,
    size: int,
    *,
    foreign_vars: dict[str, str] | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """The catalog columns for one entry."""
    manifest = entry.manifest
    note = annotation.note if annotation.note is not None else (manifest.note if manifest else "")
    tags = annotation.tags if annotation.tags is not None else (manifest.tags if manifest else ())
    names: list[str] = []
    if manifest is not None:
        names = [v.name for v in manifest.variables] + [i.name for i in manifest.imports]
    elif foreign_vars is not None:
        names = list(foreign_vars)
    origin = manifest.origin if manifest else {}
    search = " ".join([entry.name, entry.ref, entry.id, note, *tags, *names]).lower()
    return {
        "path": str(entry.path),
        "id": entry.id,
        "kind": entry.kind,
        "name": entry.name,
        "version": entry.version,
        "created": entry.created,
        "note": note,
        "tags": json.dumps(list(tags)),
        # a teammate's snapshot (pulled or imported) is grouped as imported, whatever made it
        "origin_kind": "imported"
        if manifest and manifest.owner
        else origin.get("kind", "foreign" if entry.kind == "foreign" else ""),
        "origin_path": origin.get("notebook") or origin.get("path") or "",
        "user": manifest.user if manifest else "",
        "host": manifest.host if manifest else "",
        "python": manifest.python.get("version", "") if manifest else "",
        "nvars": len(manifest.variables)
        if manifest
        else (len(foreign_vars) if foreign_vars is not None else None),
        "nskipped": len(manifest.skipped) if manifest else 0,
        "stored": manifest.stored if manifest else size,
        "memory": manifest.memory if manifest else 0,
        "pinned": int(annotation.pinned),
        "annotated": int(annotation != Annotation()),
        "damaged": entry.error or error,
        "search": search[:20_000],
        "mtime_ns": mtime_ns,
        "size": size,
    }


def row_from_values(values: dict[str, Any]) -> Row:
    """A Row from catalog column values (for reading a store without a catalog)."""
    return _row(values)  # type: ignore[arg-type]


def _row(record: sqlite3.Row) -> Row:
    try:
        tags = tuple(json.loads(record["tags"]))
    except (ValueError, TypeError):
        tags = ()
    return Row(
        path=record["path"],
        id=record["id"],
        kind=record["kind"],
        name=record["name"],
        version=record["version"],
        created=record["created"],
        note=record["note"],
        tags=tags,
        origin_kind=record["origin_kind"],
        origin_path=record["origin_path"],
        user=record["user"],
        host=record["host"],
        python=record["python"],
        nvars=record["nvars"],
        nskipped=record["nskipped"],
        stored=record["stored"],
        memory=record["memory"],
        pinned=bool(record["pinned"]),
        damaged=record["damaged"],
    )


class Catalog:
    """A connection to one catalog. Writers (the daemon) create and migrate it; readers
    open it read-only and never block the writer (WAL)."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        self.readonly = readonly
        if readonly:
            self.db = sqlite3.connect(
                f"file:{path}?mode=ro", uri=True, timeout=5, check_same_thread=False
            )
        else:
            ensure_dir(path.parent)
            self.db = sqlite3.connect(path, timeout=30, check_same_thread=False)
            with contextlib.suppress(OSError):
                os.chmod(path, 0o600)
        self.db.row_factory = sqlite3.Row
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA:
            self.db.close()
            raise NewerFormatError(
                f"catalog {path} has schema {version}, newer than this sessions-tui understands ({SCHEMA})"
            )
        if not readonly:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            if version < SCHEMA:
                self._create()
        elif version != SCHEMA:
            raise sqlite3.OperationalError("catalog not initialised")

    @classmethod
    def open_reader(cls, root: Path) -> Catalog | None:
        """A read-only connection to ``root``'s catalog, or None when there is none usable."""
        path = catalog_path(root)
        if not path.exists():
            return None
        try:
            return cls(path, readonly=True)
        except sqlite3.Error:
            return None

    def _create(self) -> None:
        with self.db:
            for table in ("entries_fts", "entries", "index_errors"):
                self.db.execute(f"DROP TABLE IF EXISTS {table}")
            self.db.executescript(_DDL)
            with contextlib.suppress(sqlite3.OperationalError):  # no FTS5 / trigram here
                self.db.executescript(_FTS)
            self.db.execute(f"PRAGMA user_version={SCHEMA}")

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.db.close()

    # --- writing (the daemon) ---------------------------------------------------------
    def upsert(self, values: dict[str, Any]) -> None:
        placeholders = ", ".join(f":{c}" for c in _COLUMNS)
        self.db.execute(
            "DELETE FROM entries WHERE path = ?", (values["path"],)
        )  # fires FTS triggers
        self.db.execute(
            f"INSERT INTO entries ({', '.join(_COLUMNS)}) VALUES ({placeholders})", values
        )
        if values.get("damaged"):
            self.set_error(values["path"], values["damaged"])
        else:
            self.db.execute("DELETE FROM index_errors WHERE path = ?", (values["path"],))

    def delete(self, path: str) -> Row | None:
        old = self.db.execute("SELECT * FROM entries WHERE path = ?", (path,)).fetchone()
        self.db.execute("DELETE FROM entries WHERE path = ?", (path,))
        self.db.execute("DELETE FROM index_errors WHERE path = ?", (path,))
        return _row(old) if old is not None else None

    def set_error(self, path: str, error: str) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO index_errors (path, error, seen) VALUES (?, ?, ?)",
            (path, error[:1000], time.time()),
        )

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def transaction(self) -> sqlite3.Connection:
        return self.db

    # --- reading ----------------------------------------------------------------------
    def stamps(self) -> dict[str, tuple[int, int]]:
        """path -> (mtime_ns, size) of everything indexed, for reconciling with the disk."""
        return {
            r[0]: (r[1], r[2]) for r in self.db.execute("SELECT path, mtime_ns, size FROM entries")
        }

    def error_paths(self) -> dict[str, tuple[int, int]]:
        return {r[0]: (0, 0) for r in self.db.execute("SELECT path FROM index_errors")}

    def newest(
        self,
        limit: int = 200,
        text: str | None = None,
        group: str | None = None,
        *,
        caches: bool = True,
    ) -> list[Row]:
        """The newest ``limit`` entries, optionally matching ``text`` (names, notes, tags,
        variable names) and in one origin ``group``. ``caches=False`` leaves cache entries
        out when no group is asked for (they can number thousands; the UI lists them only
        in their own group, as ``ls`` does only with ``--all``)."""
        words = (text or "").lower().split()
        indexed = [w for w in words if len(w) >= 3] if self._has_fts() else []
        hide = not caches and group is None
        if indexed:
            # Common words fill a page from the newest rows at once; rare ones would scan
            # everything, so those come from the trigram index instead.
            recent = self._query(words, [], group, limit, recent_only=_RECENT_SCAN, hide=hide)
            if len(recent) >= limit:
                return recent
        return self._query(words, indexed, group, limit, hide=hide)

    def _query(
        self,
        words: list[str],
        indexed: list[str],
        group: str | None,
        limit: int,
        recent_only: int | None = None,
        hide: bool = False,  # leave cache entries out
    ) -> list[Row]:
        clauses: list[str] = []
        args: list[Any] = []
        if hide:
            clauses.append("NOT (kind = 'snapshot' AND origin_kind = 'cache')")
        if indexed:
            phrase = " AND ".join('"' + w.replace('"', '""') + '"' for w in indexed)
            clauses.append("rowid IN (SELECT rowid FROM entries_fts WHERE entries_fts MATCH ?)")
            args.append(phrase)
        for word in words:
            if word not in indexed:
                clauses.append("instr(search, ?) > 0")
                args.append(word)
        if group:
            if group == "dill file":
                clauses.append("kind = 'foreign'")
            else:
                clauses.append("kind = 'snapshot' AND origin_kind = ?")
                args.append(group)
        if recent_only is not None:
            clauses.append(
                "created >= coalesce((SELECT created FROM entries ORDER BY created DESC "
                f"LIMIT 1 OFFSET {int(recent_only)}), 0)"
            )
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        query = f"SELECT * FROM entries {where} ORDER BY created DESC LIMIT ?"
        return [_row(r) for r in self.db.execute(query, [*args, limit])]

    def _has_fts(self) -> bool:
        if not hasattr(self, "_fts"):
            found = self.db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'entries_fts'"
            ).fetchone()
            self._fts = found is not None
        return self._fts

    def groups(self) -> list[tuple[str, int]]:
        """(origin group, count), largest first."""
        rows = self.db.execute(
            "SELECT CASE WHEN kind = 'foreign' THEN 'dill file' "
            "WHEN origin_kind = '' THEN 'unknown' ELSE origin_kind END AS g, COUNT(*) "
            "FROM entries GROUP BY g ORDER BY COUNT(*) DESC"
        )
        return [(r[0], r[1]) for r in rows]

    def get(self, snapshot_id: str) -> Row | None:
        record = self.db.execute("SELECT * FROM entries WHERE id = ?", (snapshot_id,)).fetchone()
        return _row(record) if record is not None else None

    def count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM entries").fetchone()[0])

    def errors(self, limit: int = 100) -> list[tuple[str, str]]:
        rows = self.db.execute(
            "SELECT path, error FROM index_errors ORDER BY seen DESC LIMIT ?", (limit,)
        )
        return [(r[0], r[1]) for r in rows]

    def error_count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM index_errors").fetchone()[0])

    def rows(self) -> Iterator[Row]:
        for record in self.db.execute("SELECT * FROM entries ORDER BY created"):
            yield _row(record)


def bulk(catalog: Catalog, values: Iterable[dict[str, Any]]) -> int:
    """Upsert many rows in one transaction."""
    count = 0
    with catalog.db:
        for row in values:
            catalog.upsert(row)
            count += 1
    return count
