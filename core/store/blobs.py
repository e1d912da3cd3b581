"""Content-addressed, write-once objects: blob files for big ones, packs for small ones.

Format (blob files, unchanged since store format 1)
---------------------------------------------------
An object is named by the blake3 hash (hex) of its *uncompressed* content. A big object
(``BIG_OBJECT`` bytes or more, see sessions.core.store.packs) lives at
``blobs/<first two hex chars>/<remaining 62 hex chars>``: a 16-byte header then the payload::

    magic  b"SBL1"   4 bytes
    codec  u8        0 = raw, 1 = zstd frame
    -      3 bytes   reserved, zero
    size   u64 LE    uncompressed size

Small objects written since store format 2 live in packs (sessions.core.store.packs); a store
written by format 1 has only blob files, and both are read the same way through
:class:`BlobStore`. Blobs are written once, atomically (temp file in the same dir, fsync,
rename) and never modified. Naming by the uncompressed hash makes dedup independent of the
compression choice, and lets ``verify`` re-hash after decompressing.

Integrity on read
~~~~~~~~~~~~~~~~~
Every packed object and every compressed blob is re-hashed when read, so a flipped byte is
caught before anything is unpickled. A big *raw* blob is mapped copy-on-write
(``MAP_PRIVATE``): the arrays a load makes are backed by the map, with no copy. It is hashed
from the map, which reads it once at memory speed (blake3 runs on several threads), so a
flipped byte fails the load of its group with "corrupt" just as for any other object.

Compression
~~~~~~~~~~~
Chosen per object from a throughput model (:func:`choose_codec`): a sample is compressed and
timed, and zstd is used only when writing the compressed bytes plus the time to compress them
beats writing the raw bytes at the disk speed measured in this process. Float noise and Arrow
buffers barely shrink, so they are stored raw; text and pickled objects compress.
"""

from __future__ import annotations

import contextlib
import io
import mmap
import os
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import blake3
import zstandard

from sessions.core.errors import BlobError
from sessions.core.progress import chunks
from sessions.core.store.atomic import FILE_MODE, ensure_dir, os_error, temp_path
from sessions.core.store.packs import (
    BIG_OBJECT,
    Location,
    PackGone,
    PackSet,
    PackWriter,
    pack_set,
    volatile,
)

MAGIC = b"SBL1"
HEADER = struct.Struct("<4sB3xQ")
RAW, ZSTD = 0, 1
CODECS = {RAW: "raw", ZSTD: "zstd"}

_SAMPLE = 64 * 1024
_MIN_COMPRESS = 512
_PARALLEL_HASH = 1 << 20
_MAX_RATIO = 33_000  # zstd cannot expand beyond this; a larger claimed size is corruption
_MAP_AT = 1 << 20  # raw blob files this big are mapped, smaller ones read
_PROGRESS_CHUNK = 32 << 20  # big objects are written and hashed in pieces this big


def hash_bytes(data: bytes | bytearray | memoryview) -> str:
    """The blake3 hex digest of ``data``, multi-threaded for large inputs (releases the GIL)."""
    threads = blake3.blake3.AUTO if len(data) >= _PARALLEL_HASH else 1
    return blake3.blake3(data, max_threads=threads).hexdigest()


@dataclass(frozen=True)
class BlobRef:
    """What a manifest records of one blob."""

    hash: str
    size: int  # uncompressed bytes
    stored: int  # bytes on disk, header included
    codec: str

    def to_dict(self) -> dict[str, object]:
        return {"hash": self.hash, "size": self.size, "stored": self.stored, "codec": self.codec}


class _DiskSpeed:
    """Bytes per second this process has seen the store's disk take (write + fsync)."""

    def __init__(self) -> None:
        self.bytes = 0
        self.seconds = 0.0
        self._lock = threading.Lock()

    def record(self, size: int, seconds: float) -> None:
        with self._lock:
            self.bytes += size
            self.seconds += seconds

    @property
    def rate(self) -> float:
        if self.bytes < (16 << 20) or self.seconds <= 0:
            return _DEFAULT_DISK
        return self.bytes / self.seconds


_DEFAULT_DISK = 1.0e9  # bytes/s until this process has measured its own
DISK = _DiskSpeed()
_LEVEL = 3


def _compressor() -> zstandard.ZstdCompressor:
    local = _TLS.__dict__
    found = local.get("cctx")
    if found is None:
        found = local["cctx"] = zstandard.ZstdCompressor(level=_LEVEL)
    return found


_TLS = threading.local()


def _decompressor() -> zstandard.ZstdDecompressor:
    """This thread's decompression context, made once: a load of a thousand small packed
    objects would otherwise set one up per object."""
    local = _TLS.__dict__
    found = local.get("dctx")
    if found is None:
        found = local["dctx"] = zstandard.ZstdDecompressor()
    return found


def choose_codec(
    data: memoryview, *, threads: int = 1, packed: bool = False
) -> tuple[int, bytes | None]:
    """(codec, compressed bytes if already made) for ``data``, from a throughput model.

    Small objects are compressed whole (microseconds) and kept compressed when that saves at
    least 10 %. So are objects going into a pack (under ``BIG_OBJECT``; a millisecond or two)
    whose sample shrinks by 10 %: a pack is written once and kept, so its bytes count more
    than that time. Big ones are sampled (three 64 KiB pieces): with ratio r and zstd speed
    c on the sample, ``threads`` workers and disk speed d, compression pays when
    ``1/(c*threads) + r/d < 0.9/d``."""
    size = len(data)
    if size < _MIN_COMPRESS:
        return RAW, None
    cctx = _compressor()
    if size <= _SAMPLE:
        small = cctx.compress(data)
        return (ZSTD, small) if len(small) <= size * 0.9 else (RAW, None)
    if packed:
        if len(cctx.compress(data[:_SAMPLE])) > _SAMPLE * 0.9:
            return RAW, None
        whole = cctx.compress(data)
        return (ZSTD, whole) if len(whole) <= size * 0.9 else (RAW, None)
    total = shrunk = 0
    began = time.perf_counter()
    starts = {0, max(0, size // 2 - _SAMPLE // 2), max(0, size - _SAMPLE)}
    for start in sorted(starts):
        piece = data[start : start + _SAMPLE]
        total += len(piece)
        shrunk += len(cctx.compress(piece))
    elapsed = max(time.perf_counter() - began, 1e-6)
    ratio = shrunk / total
    speed = total / elapsed * max(1, threads)
    disk = DISK.rate
    return (ZSTD, None) if 1 / speed + ratio / disk < 0.9 / disk else (RAW, None)


def decode_framed(digest: str, framed: bytes, *, max_size: int) -> bytes:
    """The content of a blob file's bytes, checked: header, declared size at most
    ``max_size``, decompression bounded by the declared size, hash equal to ``digest``."""
    if len(framed) < HEADER.size:
        raise BlobError(f"blob {digest[:12]} is truncated")
    magic, codec, size = HEADER.unpack_from(framed)
    if magic != MAGIC or codec not in CODECS:
        raise BlobError(f"blob {digest[:12]} has a bad header")
    if size > max_size:
        raise BlobError(f"blob {digest[:12]} claims {size} bytes, over the {max_size} limit")
    payload = memoryview(framed)[HEADER.size :]
    if codec == RAW:
        if len(payload) != size:
            raise BlobError(f"blob {digest[:12]} is truncated or has extra bytes")
        content = bytes(payload)
    else:
        try:  # read at most one byte past the declared size: a bomb stops there
            reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(payload))
            parts, total = [], 0
            while total <= size:
                chunk = reader.read(min(1 << 24, size + 1 - total))
                if not chunk:
                    break
                parts.append(chunk)
                total += len(chunk)
            content = b"".join(parts)
        except zstandard.ZstdError as exc:
            raise BlobError(f"blob {digest[:12]} is corrupt: {exc}") from None
        if len(content) != size:
            raise BlobError(f"blob {digest[:12]} is corrupt: wrong decompressed size")
    if hash_bytes(content) != digest:
        raise BlobError(f"blob {digest[:12]} is corrupt: content does not match its hash")
    return content


OnBytes = Callable[[int], None]
"""Told how many bytes of an object were just handled (written, read or hashed), so a big
object's progress moves while it is worked on (sessions.core.progress.Reporter.add_bytes)."""


def _check(
    digest: str, content: bytes | bytearray | memoryview, on_bytes: OnBytes | None = None
) -> None:
    if on_bytes is None or len(content) <= _PROGRESS_CHUNK:
        matches = hash_bytes(content) == digest
        if on_bytes is not None:
            on_bytes(len(content))
    else:  # piece by piece, so progress moves while a big object is hashed
        hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
        view = memoryview(content).cast("B")
        for start, end in chunks(len(view), _PROGRESS_CHUNK):
            hasher.update(view[start:end])
            on_bytes(end - start)
        matches = hasher.hexdigest() == digest
    if not matches:
        raise BlobError(f"blob {digest[:12]} is corrupt: content does not match its hash")


def _decompress_into(
    digest: str, payload: memoryview, size: int, on_bytes: OnBytes | None = None
) -> bytearray:
    """Decompress one zstd frame into a buffer of exactly ``size`` bytes (bounded)."""
    buffer = bytearray(size)
    step = _PROGRESS_CHUNK if on_bytes is not None else max(size, 1)
    failure = None
    reader = _decompressor().stream_reader(payload)
    try:
        view = memoryview(buffer)
        filled = 0
        while filled < size:
            got = reader.readinto(view[filled : filled + step])
            if not got:
                break
            filled += got
            if on_bytes is not None:
                on_bytes(got)
        extra = reader.read(1)
    except zstandard.ZstdError as exc:
        failure = str(exc)
    finally:
        # the reader holds ``payload``, which the caller releases (a pack's map) next: drop
        # it here, not in a traceback that outlives this call
        del reader
    if failure is not None:
        raise BlobError(f"blob {digest[:12]} is corrupt: {failure}")
    if filled != size or extra:
        raise BlobError(f"blob {digest[:12]} is corrupt: wrong decompressed size")
    return buffer


class BlobStore:
    """The ``blobs/`` directory of a session dir: blob files and packs, read as one."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.packs: PackSet = pack_set(root / "pack")

    def path(self, digest: str) -> Path:
        """Where ``digest``'s blob file is (or would be)."""
        return self.root / digest[:2] / digest[2:]

    def locate(self, digest: str) -> Location | Path | None:
        """A pack location, a blob file's path, or None when the object is not stored."""
        where = self.packs.find(digest, refresh=False)
        if where is not None:
            return where
        path = self.path(digest)
        if path.exists():
            return path
        return self.packs.find(digest)

    def has(self, digest: str) -> bool:
        """Whether the object is stored now. A pack found in this process's map is checked
        to still exist (another process's gc may have removed or repacked it)."""
        where = self.locate(digest)
        if isinstance(where, Location) and not self.packs.path(where.pack, ".idx").exists():
            self.packs.refresh()
            where = self.locate(digest)
        return where is not None

    def writer(self, *, durable: bool = True) -> PackWriter:
        """A pack writer for one save (hold ``gc.lock`` shared until its manifest is in).
        ``durable=False``: for a cache entry — every object, big ones too, goes into a
        volatile pack, never fsynced (sessions.core.store.packs)."""
        self.packs.refresh()
        return PackWriter(self.packs, durable=durable)

    def put(
        self,
        data: bytes | bytearray | memoryview,
        digest: str | None = None,
        *,
        writer: PackWriter | None = None,
        on_bytes: OnBytes | None = None,
    ) -> tuple[BlobRef, bool]:
        """Store ``data`` unless an object with its hash exists; returns (ref, written).

        With a ``writer``, objects under ``BIG_OBJECT`` bytes go into its pack; others get a
        blob file, whose directory the caller fsyncs (``path(digest).parent``) before
        committing a manifest that refers to it. A volatile writer packs every object. An
        object found only in a volatile pack counts as absent: it is written again, so that
        nothing depends on an object that was never made durable. Safe to call from worker threads: hashing,
        compression and I/O release the GIL. ``on_bytes`` is told the object's size in
        pieces as it is written (all of it at once when it was already stored)."""
        view = memoryview(data).cast("B")
        digest = digest or hash_bytes(view)
        size = len(view)
        packed_here = writer is not None and (size < BIG_OBJECT or not writer.durable)
        if writer is not None and packed_here:
            pending = writer.pending(digest)
            if pending is not None:
                stored, _, codec = pending
                _told(on_bytes, size)
                return BlobRef(digest, size, stored, CODECS[codec]), False
        found = self._existing(digest, size)
        if found is not None:
            _told(on_bytes, size)
            return found, False
        if writer is not None and packed_here:
            codec, payload = self._encode(view)
            stored = writer.append(digest, codec, size, payload)
            _told(on_bytes, size)
            return BlobRef(digest, size, stored, CODECS[codec]), True
        return self._put_file(view, digest, on_bytes), True

    def _existing(self, digest: str, size: int) -> BlobRef | None:
        where = self.packs.find(digest, refresh=False)
        if where is not None and not volatile(where.pack):
            return BlobRef(digest, size, where.stored, CODECS.get(where.codec, "raw"))
        target = self.path(digest)
        try:
            existing = target.stat().st_size
        except FileNotFoundError:
            return None
        if existing < HEADER.size:
            return None
        return BlobRef(digest, size, existing, CODECS.get(self._codec_of(target), "raw"))

    @staticmethod
    def _encode(view: memoryview) -> tuple[int, bytes | memoryview]:
        """(codec, stored bytes) for an object, compressed when the model says it pays
        (big objects on several threads)."""
        threads = 4 if len(view) >= (8 << 20) else 1
        packed_whole = len(view) < BIG_OBJECT  # going into a pack: see choose_codec
        codec, packed = choose_codec(view, threads=threads, packed=packed_whole)
        if codec != ZSTD:
            return RAW, view
        if packed is None:
            many = zstandard.ZstdCompressor(level=_LEVEL, threads=-1) if threads > 1 else None
            packed = (many or _compressor()).compress(view)
        return (RAW, view) if len(packed) >= len(view) else (ZSTD, packed)

    def _put_file(self, view: memoryview, digest: str, on_bytes: OnBytes | None) -> BlobRef:
        codec, payload = self._encode(view)
        target = self.path(digest)
        ensure_dir(target.parent)
        tmp = temp_path(target.parent)
        began = time.perf_counter()
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            with os.fdopen(fd, "wb") as handle:
                handle.write(HEADER.pack(MAGIC, codec, len(view)))
                if on_bytes is None:
                    handle.write(payload)
                else:  # in pieces, telling how much of the object each one covers
                    piece, told = memoryview(payload), 0
                    for start, end in chunks(len(piece), _PROGRESS_CHUNK):
                        handle.write(piece[start:end])
                        covered = len(view) * end // len(piece)
                        on_bytes(covered - told)
                        told = covered
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise os_error(exc, f"blob {digest[:12]}") from None
        except BaseException:  # cancelled (or interrupted) midway: no temp file stays
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        DISK.record(HEADER.size + len(payload), time.perf_counter() - began)
        return BlobRef(digest, len(view), HEADER.size + len(payload), CODECS[codec])

    def framed(self, digest: str) -> bytes:
        """An object as a blob file's bytes (header and payload), to send elsewhere."""
        where = self.packs.find(digest, refresh=False)
        if where is not None:
            payload = self.packs.payload(where)
            return HEADER.pack(MAGIC, where.codec, where.size) + bytes(payload)
        try:
            return self.path(digest).read_bytes()
        except FileNotFoundError:
            where = self.packs.find(digest)
            if where is not None:
                return self.framed(digest)
            raise BlobError(f"blob {digest[:12]} is missing") from None
        except OSError as exc:
            raise BlobError(f"blob {digest[:12]} cannot be read: {exc.strerror}") from None

    @staticmethod
    def _codec_of(path: Path) -> int:
        with open(path, "rb") as handle:
            head = handle.read(HEADER.size)
        if len(head) < HEADER.size:
            return RAW
        return HEADER.unpack(head)[1]

    def read(
        self, digest: str, *, verify: bool = True, on_bytes: OnBytes | None = None
    ) -> bytearray | memoryview:
        """The uncompressed content of an object, writable and hash-checked: a fresh buffer,
        or for a big raw blob a copy-on-write map of its file. ``on_bytes`` is told its size,
        in pieces as a big one is decompressed or hashed."""
        where = self.locate(digest)
        if where is None:
            raise BlobError(f"blob {digest[:12]} is missing")
        if isinstance(where, Location):
            try:
                content = self._read_packed(digest, where, verify)
            except PackGone:  # removed or repacked by another process's gc: look again
                self.packs.refresh()
                where = self.locate(digest)
                if where is None:
                    raise BlobError(f"blob {digest[:12]} is missing") from None
                if not isinstance(where, Location):
                    return self._read_file(digest, where, verify, on_bytes)
                content = self._read_packed(digest, where, verify)
            _told(on_bytes, len(content))
            return content
        return self._read_file(digest, where, verify, on_bytes)

    def _read_packed(self, digest: str, where: Location, verify: bool) -> bytearray | memoryview:
        if where.codec == RAW and where.size >= _MAP_AT:  # big (a cache entry's): mapped
            mapped = self.packs.private_payload(where)
            if verify:
                _check(digest, mapped)
            return mapped
        payload = self.packs.payload(where)
        content: bytearray | memoryview
        try:
            if where.codec == RAW:
                if len(payload) != where.size:
                    raise BlobError(f"blob {digest[:12]} is truncated or has extra bytes")
                content = bytearray(payload)
            elif where.codec == ZSTD:
                if where.size > len(payload) * _MAX_RATIO + (1 << 20):
                    raise BlobError(f"blob {digest[:12]} claims an impossible size")
                content = _decompress_into(digest, payload, where.size)
            else:
                raise BlobError(f"blob {digest[:12]} has an unknown codec")
        finally:
            payload.release()
        if verify:
            _check(digest, content)
        return content

    def _read_file(
        self, digest: str, path: Path, verify: bool, on_bytes: OnBytes | None = None
    ) -> bytearray | memoryview:
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            raise BlobError(f"blob {digest[:12]} is missing") from None
        except OSError as exc:
            raise BlobError(f"blob {digest[:12]} cannot be read: {exc.strerror}") from None
        with handle:
            head = handle.read(HEADER.size)
            if len(head) < HEADER.size:
                raise BlobError(f"blob {digest[:12]} is truncated")
            magic, codec, size = HEADER.unpack(head)
            if magic != MAGIC or codec not in CODECS:
                raise BlobError(f"blob {digest[:12]} has a bad header")
            file_size = os.fstat(handle.fileno()).st_size
            if codec == RAW and file_size - HEADER.size != size:
                raise BlobError(f"blob {digest[:12]} is truncated or has extra bytes")
            if codec == ZSTD and size > (file_size - HEADER.size) * _MAX_RATIO + (1 << 20):
                raise BlobError(f"blob {digest[:12]} claims an impossible size")
            if codec == RAW and size >= _MAP_AT:
                content: bytearray | memoryview = self._map(digest, handle)
            elif codec == RAW:
                content = bytearray(size)
                if handle.readinto(content) != size:
                    raise BlobError(f"blob {digest[:12]} is truncated")
            else:
                with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                    payload = memoryview(mapped)[HEADER.size :]
                    try:
                        content = _decompress_into(digest, payload, size, on_bytes)
                    finally:
                        payload.release()
                on_bytes = None  # told while decompressing
        if verify:
            _check(digest, content, on_bytes)  # a mapped raw blob is read as it is hashed
        else:
            _told(on_bytes, size)
        return content

    @staticmethod
    def _map(digest: str, handle: io.BufferedReader) -> memoryview:
        """A copy-on-write map of a raw blob's payload: pages are shared with the page cache
        until written, and arrays unpickled from it are backed by it."""
        try:
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_COPY)
        except (OSError, ValueError) as exc:
            raise BlobError(f"blob {digest[:12]} cannot be mapped: {exc}") from None
        with contextlib.suppress(AttributeError, OSError):
            mapped.madvise(mmap.MADV_WILLNEED)
        return memoryview(mapped)[HEADER.size :]

    def check(self, digest: str, on_bytes: OnBytes | None = None) -> str | None:
        """None when the object is intact, else why not (used by ``verify``)."""
        try:
            content = self.read(digest, verify=True, on_bytes=on_bytes)
            if isinstance(content, memoryview):
                content.release()
        except BlobError as exc:
            return str(exc)
        return None

    def loose_digests(self) -> set[str]:
        """Every blob file currently on disk (temp files and packs excluded)."""
        found: set[str] = set()
        if not self.root.is_dir():
            return found
        for sub in self.root.iterdir():
            if len(sub.name) != 2 or not sub.is_dir():
                continue
            for entry in sub.iterdir():
                if not entry.name.startswith("."):
                    found.add(sub.name + entry.name)
        return found


def _told(on_bytes: OnBytes | None, size: int) -> None:
    if on_bytes is not None:
        on_bytes(size)
