"""Pack files: many small objects in one file, written once, like git's and restic's packs.

Format (store format 2)
-----------------------
Small objects (pickle streams and buffers under ``BIG_OBJECT`` bytes) of a save go into a
few pack files instead of a file each; big buffers keep blob files of their own
(sessions.core.store.blobs) so they dedup across saves, load alone and can be mapped. Objects
are named exactly as blobs are — blake3 of their uncompressed content — so a manifest does not
say where an object lives, and a reader asks the store (packs first, then blob files)::

    blobs/pack/pack-<64 hex>.pack     objects, back to back
    blobs/pack/pack-<64 hex>.idx      where each object of the pack with the same hash is

A pack file is a 16-byte header (``b"SPK2"``, u32 LE version 1, 8 reserved zero bytes) then,
per object, a 56-byte entry header — the object's 32-byte blake3 digest, codec u8 (0 raw,
1 zstd frame), 7 reserved bytes, u64 LE uncompressed size, u64 LE stored length — followed
by that many payload bytes. The pack is named by the blake3 hash of its whole file.

An index file is a 16-byte header (``b"SPI2"``, u32 LE version 1, u32 LE object count,
4 reserved bytes), then one 64-byte record per object sorted by digest — digest (32 bytes),
u64 offset of the payload in the pack, u64 stored length, u64 uncompressed size, codec u8,
7 reserved bytes — then the blake3 digest (32 bytes) of everything before it.

Volatile packs (``vpack-<64 hex>.pack`` and ``.idx``) hold the objects of cache entries
(sessions.core.engine.cache): the same format, written without any fsync, so after a power
loss they may be torn, empty or gone. Their name says so, whatever their bytes say: no save
dedups against an object found only in a volatile pack (it writes its own copy), so a durable
snapshot never depends on one, and gc removes a volatile pack whose index is damaged. Readers
that do not know the prefix read them as ordinary packs.

What a reader may assume
~~~~~~~~~~~~~~~~~~~~~~~~
- Packs and indexes are written once (temp name, fsync, rename) and never changed: a pack
  first, then its index, then the directory is fsynced, and only then a manifest naming the
  objects is committed. A pack without an index is invisible (an interrupted save) and gc
  removes it. Every writer of packs holds ``gc.lock`` shared, so gc (exclusive) never sees a
  pack being written.
- Objects are found through the union of all indexes, read into one in-memory map per
  process and refreshed when an object is not found (new packs of other processes).
- The same object may be in several packs (two saves racing); any copy will do.

What a flipped byte does
~~~~~~~~~~~~~~~~~~~~~~~~
- In a payload: the object's content no longer matches its digest. Every read of a packed
  object re-hashes it (objects here are small, so this costs little), so a load fails only
  the variables of that object's group, with "corrupt", and ``verify`` names them; nothing
  corrupt reaches the unpickler.
- In an entry header: ignored by reads (the index says where payloads are); ``verify``
  reports the pack as damaged.
- In an index: its checksum fails; the pack is then scanned through its entry headers to
  rebuild the index in memory (logged, and reported by ``verify``) — objects stay readable
  as long as the entry headers are intact, and each is still hash-checked.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import struct
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import blake3

from sessions.core.errors import BlobError
from sessions.core.store.atomic import FILE_MODE, ensure_dir, fsync_dir, os_error, temp_path


def _warn(message: str, *args: object) -> None:
    """Log a warning (logging is imported here: most processes never have one to log)."""
    import logging

    logging.getLogger("sessions.store.packs").warning(message, *args)


# Objects at least this big get a blob file of their own. Per file a save pays an open, a
# write, an fsync, a rename and a directory entry: about 1-2 ms here, the time it takes to
# write 1 MiB. Under that size the file costs more than the bytes, so objects are packed;
# over it the file is cheap next to the data and buys dedup per buffer, loading one buffer
# alone and mapping it copy-on-write.
BIG_OBJECT = 1 << 20
# A pack is closed and a new one started past this size, so gc's repacking moves bounded
# amounts and one damaged file holds a bounded share of a store.
PACK_LIMIT = 256 << 20

PACK_MAGIC = b"SPK2"
INDEX_MAGIC = b"SPI2"
PACK_HEADER = struct.Struct("<4sI8x")
ENTRY = struct.Struct("<32sB7xQQ")
INDEX_HEADER = struct.Struct("<4sII4x")
RECORD = struct.Struct("<32sQQQB7x")
_CHECKSUM = 32
RAW, ZSTD = 0, 1
_MAPS_KEPT = 64
DURABLE_PREFIX = "pack-"
VOLATILE_PREFIX = "vpack-"


def volatile(name: str) -> bool:
    """Whether pack ``name`` was written without fsync (see the module docstring)."""
    return name.startswith(VOLATILE_PREFIX)


class PackGone(BlobError):
    """A pack this process knew of is gone (gc removed or repacked it)."""


@dataclass(frozen=True)
class Location:
    """Where one object is: its pack, the payload's offset and stored length, codec and
    uncompressed size."""

    pack: str
    offset: int
    length: int
    size: int
    codec: int

    @property
    def stored(self) -> int:
        return ENTRY.size + self.length


def _records(data: bytes) -> list[tuple[bytes, int, int, int, int]]:
    """The records of an index file's bytes; BlobError when it is damaged."""
    if len(data) < INDEX_HEADER.size + _CHECKSUM:
        raise BlobError("pack index is truncated")
    body, checksum = data[:-_CHECKSUM], data[-_CHECKSUM:]
    if blake3.blake3(body).digest() != checksum:
        raise BlobError("pack index is corrupt: checksum mismatch")
    magic, version, count = INDEX_HEADER.unpack_from(body)
    if magic != INDEX_MAGIC or version != 1:
        raise BlobError("pack index has a bad header")
    if len(body) != INDEX_HEADER.size + count * RECORD.size:
        raise BlobError("pack index has the wrong length")
    return list(RECORD.iter_unpack(memoryview(body)[INDEX_HEADER.size :]))


def encode_index(records: list[tuple[bytes, int, int, int, int]]) -> bytes:
    """An index file's bytes for ``records`` (digest, offset, length, size, codec)."""
    records = sorted(records)
    body = bytearray(INDEX_HEADER.pack(INDEX_MAGIC, 1, len(records)))
    for record in records:
        body += RECORD.pack(*record)
    return bytes(body) + blake3.blake3(body).digest()


def scan_pack(path: Path) -> tuple[list[tuple[bytes, int, int, int, int]], str | None]:
    """The records of a pack read from its entry headers, and why the scan stopped early
    (None when the whole pack parsed). Used when its index is damaged, and by verify."""
    records: list[tuple[bytes, int, int, int, int]] = []
    try:
        with open(path, "rb") as handle:
            total = os.fstat(handle.fileno()).st_size
            head = handle.read(PACK_HEADER.size)
            if len(head) < PACK_HEADER.size or PACK_HEADER.unpack(head)[0] != PACK_MAGIC:
                return records, "pack has a bad header"
            offset = PACK_HEADER.size
            while offset < total:
                handle.seek(offset)
                entry = handle.read(ENTRY.size)
                if len(entry) < ENTRY.size:
                    return records, f"pack entry at {offset} is truncated"
                digest, codec, size, length = ENTRY.unpack(entry)
                start = offset + ENTRY.size
                if codec not in (RAW, ZSTD) or start + length > total:
                    return records, f"pack entry at {offset} is damaged"
                records.append((digest, start, length, size, codec))
                offset = start + length
    except OSError as exc:
        return records, f"pack cannot be read: {exc.strerror}"
    return records, None


class PackSet:
    """Every pack of one store, as one in-memory map from digest to location.

    One per pack directory per process (see :func:`pack_set`); thread-safe."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self._lock = threading.Lock()
        self._loaded: dict[str, dict[bytes, tuple[int, int, int, int]]] = {}
        self._where: dict[bytes, str] = {}
        self.damaged: dict[str, str] = {}  # pack name -> what was wrong with its index
        self._maps: OrderedDict[str, mmap.mmap] = OrderedDict()

    # --- the index --------------------------------------------------------------------
    def refresh(self) -> None:
        """Pick up packs other processes added and forget the ones gc removed."""
        try:
            names = {n[:-4] for n in os.listdir(self.dir) if n.endswith(".idx") and n[0] != "."}
        except FileNotFoundError:
            names = set()
        except OSError as exc:
            raise BlobError(f"cannot list {self.dir}: {exc.strerror}") from None
        with self._lock:
            gone = set(self._loaded) - names
            for name in names - set(self._loaded):
                self._load(name)
            if gone:
                for name in gone:
                    del self._loaded[name]
                    self.damaged.pop(name, None)
                    stale = self._maps.pop(name, None)
                    if stale is not None:
                        with contextlib.suppress(BufferError):
                            stale.close()
                self._rebuild_where()

    def _claim(self, name: str, table: dict[bytes, tuple[int, int, int, int]]) -> None:
        """Point the objects of ``table`` at pack ``name`` unless another pack already holds
        them; a durable copy wins over a volatile one."""
        durable = not volatile(name)
        for digest in table:
            held = self._where.get(digest)
            if held is None or (durable and volatile(held)):
                self._where[digest] = name

    def _rebuild_where(self) -> None:
        self._where = {}
        for name, table in self._loaded.items():
            self._claim(name, table)

    def _load(self, name: str) -> None:
        try:
            records = _records((self.dir / f"{name}.idx").read_bytes())
        except FileNotFoundError:
            return
        except (OSError, BlobError) as exc:
            why = str(exc) if isinstance(exc, BlobError) else f"cannot read: {exc.strerror}"
            records, stopped = scan_pack(self.dir / f"{name}.pack")
            self.damaged[name] = why + (f"; {stopped}" if stopped else "")
            _warn("index of %s: %s; rebuilt from the pack in memory", name, why)
        table = {
            digest: (offset, length, size, codec) for digest, offset, length, size, codec in records
        }
        self._loaded[name] = table
        self._claim(name, table)

    def add(self, name: str, records: list[tuple[bytes, int, int, int, int]]) -> None:
        """Register a pack this process just wrote (no need to read its index back)."""
        with self._lock:
            table = {d: (o, ln, s, c) for d, o, ln, s, c in records}
            self._loaded[name] = table
            self._claim(name, table)

    def find(self, digest: str, *, refresh: bool = True) -> Location | None:
        """Where object ``digest`` is (in a durable pack when one holds it), or None;
        refreshes once on a miss."""
        key = bytes.fromhex(digest)
        for attempt in (0, 1):
            name = self._where.get(key)
            if name is not None:
                table = self._loaded.get(name)
                if table is not None and key in table:
                    offset, length, size, codec = table[key]
                    return Location(name, offset, length, size, codec)
            if attempt == 0 and refresh:
                self.refresh()
            else:
                break
        return None

    def packs(self) -> dict[str, dict[bytes, tuple[int, int, int, int]]]:
        """Pack name -> its records, for gc and verify."""
        self.refresh()
        with self._lock:
            return {name: dict(table) for name, table in self._loaded.items()}

    def forget(self, name: str) -> None:
        with self._lock:
            self._loaded.pop(name, None)
            self.damaged.pop(name, None)
            self._maps.pop(name, None)
            self._rebuild_where()

    # --- reading ----------------------------------------------------------------------
    def path(self, name: str, suffix: str = ".pack") -> Path:
        return self.dir / f"{name}{suffix}"

    def _map(self, name: str) -> mmap.mmap:
        with self._lock:
            found = self._maps.get(name)
            if found is not None:
                self._maps.move_to_end(name)
                return found
        try:
            with open(self.path(name), "rb") as handle:
                mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except FileNotFoundError:
            raise PackGone(f"pack {_short(name)} is missing") from None
        except (OSError, ValueError) as exc:
            raise BlobError(f"pack {_short(name)} cannot be read: {exc}") from None
        with self._lock:
            self._maps[name] = mapped
            while len(self._maps) > _MAPS_KEPT:
                _, old = self._maps.popitem(last=False)
                with contextlib.suppress(BufferError):
                    old.close()
        return mapped

    def payload(self, where: Location) -> memoryview:
        """The stored bytes of an object (compressed if its codec says so), unchecked."""
        mapped = self._map(where.pack)
        if where.offset + where.length > len(mapped):
            raise BlobError(f"pack {_short(where.pack)} is truncated")
        return memoryview(mapped)[where.offset : where.offset + where.length]

    def private_payload(self, where: Location) -> memoryview:
        """An object's stored bytes as a writable copy-on-write map of its pack (pages are
        shared with the page cache until written): a big raw object loads without a copy,
        as a blob file does. Unchecked."""
        try:
            with open(self.path(where.pack), "rb") as handle:
                mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_COPY)
        except FileNotFoundError:
            raise PackGone(f"pack {_short(where.pack)} is missing") from None
        except (OSError, ValueError) as exc:
            raise BlobError(f"pack {_short(where.pack)} cannot be read: {exc}") from None
        if where.offset + where.length > len(mapped):
            mapped.close()
            raise BlobError(f"pack {_short(where.pack)} is truncated")
        with contextlib.suppress(AttributeError, OSError):
            mapped.madvise(mmap.MADV_WILLNEED)
        return memoryview(mapped)[where.offset : where.offset + where.length]


def _short(name: str) -> str:
    """A pack's name as messages show it: 12 hex digits of its hash."""
    return name.split("-", 1)[-1][:12]


_SETS: dict[Path, PackSet] = {}
_SETS_LOCK = threading.Lock()


def pack_set(directory: Path) -> PackSet:
    """The process-wide :class:`PackSet` of a pack directory."""
    key = directory.absolute()
    with _SETS_LOCK:
        found = _SETS.get(key)
        if found is None:
            found = _SETS[key] = PackSet(key)
        return found


class PackWriter:
    """Appends objects to new packs during one save; :meth:`finish` makes them durable
    (with ``durable=False``: volatile packs, never fsynced; see the module docstring).

    Call only while holding ``gc.lock`` shared. Thread-safe: hashing and compression happen
    on the caller's thread, only the append is serialized."""

    def __init__(self, packs: PackSet, *, durable: bool = True) -> None:
        self.packs = packs
        self.durable = durable
        self._lock = threading.Lock()
        self._handle: int | None = None
        self._tmp: Path | None = None
        self._hasher = blake3.blake3()
        self._size = 0
        self._records: list[tuple[bytes, int, int, int, int]] = []
        self._added: dict[bytes, tuple[int, int, int]] = {}  # digest -> (stored, size, codec)
        self.finished: list[str] = []
        self.written = 0

    def pending(self, digest: str) -> tuple[int, int, int] | None:
        """(stored, size, codec) of an object already added by this writer."""
        return self._added.get(bytes.fromhex(digest))

    def append(self, digest: str, codec: int, size: int, payload: bytes | memoryview) -> int:
        """Add one object (``payload`` already compressed per ``codec``); returns the bytes
        it takes in the pack. An object added before is not added again."""
        key = bytes.fromhex(digest)
        with self._lock:
            known = self._added.get(key)
            if known is not None:
                return known[0]
            if self._handle is not None and self._size + len(payload) > PACK_LIMIT:
                self._close_pack()
            if self._handle is None:
                self._open_pack()
            header = ENTRY.pack(key, codec, size, len(payload))
            offset = self._size + ENTRY.size
            try:
                self._write(header)
                self._write(payload)
            except OSError as exc:
                raise os_error(exc, "a pack") from None
            self._records.append((key, offset, len(payload), size, codec))
            stored = ENTRY.size + len(payload)
            self._added[key] = (stored, size, codec)
            self.written += stored
            return stored

    def _write(self, data: bytes | memoryview) -> None:
        assert self._handle is not None
        view = memoryview(data)
        self._hasher.update(view)
        while view:
            done = os.write(self._handle, view)
            view = view[done:]
        self._size += len(data)

    def _open_pack(self) -> None:
        ensure_dir(self.packs.dir)
        self._tmp = temp_path(self.packs.dir)
        try:
            self._handle = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        except OSError as exc:
            raise os_error(exc, "a pack") from None
        self._hasher = blake3.blake3()
        self._size = 0
        self._records = []
        self._write(PACK_HEADER.pack(PACK_MAGIC, 1))
        self.written += PACK_HEADER.size

    def _close_pack(self) -> None:
        """fsync and rename the current pack, then write its index (caller holds the lock)."""
        assert self._handle is not None and self._tmp is not None
        prefix = DURABLE_PREFIX if self.durable else VOLATILE_PREFIX
        name = f"{prefix}{self._hasher.hexdigest()}"
        target = self.packs.path(name)
        try:
            if self.durable:
                os.fsync(self._handle)
            os.close(self._handle)
            self._handle = None
            os.replace(self._tmp, target)
            self._tmp = None
            index = encode_index(self._records)
            _write_new(self.packs.path(name, ".idx"), index, durable=self.durable)
        except OSError as exc:
            raise os_error(exc, "a pack") from None
        self.written += len(index)
        self.packs.add(name, self._records)
        self.finished.append(name)

    def finish(self) -> list[str]:
        """Make every pack durable (pack, index, directory) and return their names."""
        with self._lock:
            if self._handle is not None:
                self._close_pack()
            if self.finished and self.durable:
                fsync_dir(self.packs.dir)
        return self.finished

    def abort(self) -> None:
        """Drop the pack being written (after an error); finished packs stay for gc."""
        with self._lock:
            if self._handle is not None:
                with contextlib.suppress(OSError):
                    os.close(self._handle)
                self._handle = None
            if self._tmp is not None:
                with contextlib.suppress(OSError):
                    self._tmp.unlink()
                self._tmp = None


def _write_new(path: Path, data: bytes, *, durable: bool = True) -> None:
    tmp = temp_path(path.parent)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
