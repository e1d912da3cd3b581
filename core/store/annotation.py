"""Annotations: what a user changes about a snapshot after it is taken (pin, note, tags).

Manifests are write-once, so these live beside them, one small msgpack map per snapshot at
``annotations/<ID>.msgpack`` (format: ``{"format": "sessions.annotation", "schema": 1,
"pinned": bool, "note": str | None, "tags": [str] | None}``), replaced atomically. A
``note``/``tags`` of None means "as saved". Pinned snapshots are never removed by retention.

Uses of a cache entry (sessions.core.engine.cache) are counted in ``annotations/<ID>.hits``:
each hit appends one byte (``O_APPEND``, so concurrent hits are all counted and nothing is
rewritten); the count is the file's size and the last hit its modification time. Only the
size and time are read, never the content.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import msgpack

from sessions.core.errors import FormatError, NewerFormatError, SessionsError
from sessions.core.store import ids
from sessions.core.store.atomic import ensure_dir, write_file


def _debug(message: str, *args: object) -> None:
    """Log at debug level (logging is imported here: only a failure has something to log)."""
    import logging

    logging.getLogger("sessions.annotation").debug(message, *args)


FORMAT = "sessions.annotation"
SCHEMA = 1
MAX_BYTES = 256 * 1024


@dataclass(frozen=True)
class Annotation:
    pinned: bool = False
    note: str | None = None
    tags: tuple[str, ...] | None = None

    def encode(self) -> bytes:
        return msgpack.packb(
            {
                "format": FORMAT,
                "schema": SCHEMA,
                "pinned": self.pinned,
                "note": self.note,
                "tags": list(self.tags) if self.tags is not None else None,
            },
            use_bin_type=True,
        )

    @classmethod
    def decode(cls, data: bytes) -> Annotation:
        if len(data) > MAX_BYTES:
            raise FormatError("annotation is too large")
        try:
            raw = msgpack.unpackb(data, raw=False, max_str_len=MAX_BYTES, max_array_len=10_000)
        except Exception:
            raise FormatError("annotation is not valid msgpack") from None
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise FormatError("not a sessions annotation")
        if not isinstance(raw.get("schema"), int) or raw["schema"] > SCHEMA:
            raise NewerFormatError("annotation schema is newer than this sessions-tui understands")
        note = raw.get("note")
        tags = raw.get("tags")
        return cls(
            pinned=bool(raw.get("pinned")),
            note=note if isinstance(note, str) else None,
            tags=tuple(str(t) for t in tags) if isinstance(tags, list) else None,
        )


def path_for(root: Path, snapshot_id: str) -> Path:
    return root / "annotations" / f"{snapshot_id}.msgpack"


def read(root: Path, snapshot_id: str) -> Annotation:
    """The annotation of a snapshot (the default one when there is none or it is damaged)."""
    try:
        return Annotation.decode(path_for(root, snapshot_id).read_bytes())
    except (OSError, FormatError):
        return Annotation()


def write(root: Path, snapshot_id: str, annotation: Annotation) -> None:
    if not ids.is_id(snapshot_id):
        raise FormatError(f"'{snapshot_id}' is not a snapshot id")
    path = path_for(root, snapshot_id)
    ensure_dir(path.parent)
    if annotation == Annotation():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    write_file(path, [annotation.encode()])


def hits_path(root: Path, snapshot_id: str) -> Path:
    return root / "annotations" / f"{snapshot_id}.hits"


def record_hit(root: Path, snapshot_id: str) -> None:
    """Count one use of a snapshot (best effort: a read-only session dir still serves)."""
    path = hits_path(root, snapshot_id)
    try:
        ensure_dir(path.parent)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except (OSError, SessionsError) as exc:
        _debug("cannot count a hit of %s: %s", snapshot_id, exc)
        return
    try:
        os.write(fd, b".")
    except OSError as exc:
        _debug("cannot count a hit of %s: %s", snapshot_id, exc)
    finally:
        os.close(fd)


def hits(root: Path, snapshot_id: str) -> tuple[int, float]:
    """(uses, time of the last one; 0 when never used)."""
    try:
        info = hits_path(root, snapshot_id).lstat()
    except OSError:
        return 0, 0.0
    return info.st_size, info.st_mtime


def forget(root: Path, snapshot_id: str) -> None:
    """Remove what is recorded about a snapshot (it is being removed)."""
    for path in (path_for(root, snapshot_id), hits_path(root, snapshot_id)):
        with contextlib.suppress(OSError):
            path.unlink()
