"""Content-addressed, write-once blobs.

Format (version 1)
------------------
A blob is named by the blake3 hash (hex) of its *uncompressed* content and lives at
``blobs/<first two hex chars>/<remaining 62 hex chars>``. The file is a 16-byte header then
the payload::

    magic  b"SBL1"   4 bytes
    codec  u8        0 = raw, 1 = zstd frame
    -      3 bytes   reserved, zero
    size   u64 LE    uncompressed size

Blobs are written once, atomically (temp file in the same dir, fsync, rename) and never
modified. Naming by the uncompressed hash makes dedup independent of the compression choice,
and lets ``verify`` re-hash after decompressing. Reads always re-hash, so a flipped byte is
caught before anything is unpickled.
"""

from __future__ import annotations

import contextlib
import io
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import blake3
import zstandard

from sessions.core.errors import BlobError
from sessions.core.store.atomic import FILE_MODE, ensure_dir, os_error, temp_path

MAGIC = b"SBL1"
HEADER = struct.Struct("<4sB3xQ")
RAW, ZSTD = 0, 1
CODECS = {RAW: "raw", ZSTD: "zstd"}

# Compression is tried on samples first: float noise does not compress, strings do.
_SAMPLE = 64 * 1024
_MIN_COMPRESS = 4 * 1024
_WORTH_IT = 0.85  # compress when a sample shrinks to at most 85 %
_PARALLEL_HASH = 1 << 20
_MAX_RATIO = 33_000  # zstd cannot expand beyond this; a larger claimed size is corruption


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


def _worth_compressing(data: memoryview) -> bool:
    if len(data) < _MIN_COMPRESS:
        return False
    cctx = zstandard.ZstdCompressor(level=1)
    total = packed = 0
    starts = {0, max(0, len(data) // 2 - _SAMPLE // 2), max(0, len(data) - _SAMPLE)}
    for start in sorted(starts):
        piece = data[start : start + _SAMPLE]
        total += len(piece)
        packed += len(cctx.compress(piece))
    return packed <= total * _WORTH_IT


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


class BlobStore:
    """The ``blobs/`` directory of a session dir."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest[2:]

    def has(self, digest: str) -> bool:
        return self.path(digest).exists()

    def put(self, data: bytes | memoryview, digest: str | None = None) -> tuple[BlobRef, bool]:
        """Store ``data`` unless a blob with its hash exists; returns (ref, written).

        The caller fsyncs the blob's directory (``dirs_of``) before committing a manifest
        that refers to it. Safe to call from worker threads: hashing, compression and I/O
        release the GIL.
        """
        view = memoryview(data).cast("B") if not isinstance(data, bytes) else memoryview(data)
        digest = digest or hash_bytes(view)
        target = self.path(digest)
        try:
            existing = target.stat().st_size
        except FileNotFoundError:
            existing = -1
        if existing >= HEADER.size:
            codec = self._codec_of(target)
            return BlobRef(digest, len(view), existing, CODECS.get(codec, "raw")), False
        codec = ZSTD if _worth_compressing(view) else RAW
        payload: bytes | memoryview = view
        if codec == ZSTD:
            threads = -1 if len(view) >= (8 << 20) else 0
            payload = zstandard.ZstdCompressor(level=3, threads=threads).compress(view)
            if len(payload) >= len(view):
                codec, payload = RAW, view
        ensure_dir(target.parent)
        tmp = temp_path(target.parent)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            with os.fdopen(fd, "wb") as handle:
                handle.write(HEADER.pack(MAGIC, codec, len(view)))
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise os_error(exc, f"blob {digest[:12]}") from None
        return BlobRef(digest, len(view), HEADER.size + len(payload), CODECS[codec]), True

    def framed(self, digest: str) -> bytes:
        """A blob's file as stored (header and payload), to send elsewhere."""
        try:
            return self.path(digest).read_bytes()
        except FileNotFoundError:
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

    def read(self, digest: str, *, verify: bool = True) -> bytearray:
        """The uncompressed content of a blob, in a fresh writable buffer, hash-checked."""
        path = self.path(digest)
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
            buffer = bytearray(size)
            if codec == RAW:
                got = handle.readinto(buffer)
                if got != size:
                    raise BlobError(f"blob {digest[:12]} is truncated")
            else:
                try:
                    reader = zstandard.ZstdDecompressor().stream_reader(handle)
                    view = memoryview(buffer)
                    filled = 0
                    while filled < size:
                        got = reader.readinto(view[filled:])
                        if not got:
                            break
                        filled += got
                    extra = reader.read(1)
                except zstandard.ZstdError as exc:
                    raise BlobError(f"blob {digest[:12]} is corrupt: {exc}") from None
                if filled != size or extra:
                    raise BlobError(f"blob {digest[:12]} is corrupt: wrong decompressed size")
        if verify and hash_bytes(buffer) != digest:
            raise BlobError(f"blob {digest[:12]} is corrupt: content does not match its hash")
        return buffer

    def check(self, digest: str) -> str | None:
        """None when the blob is intact, else why not (used by ``verify``)."""
        try:
            self.read(digest, verify=True)
        except BlobError as exc:
            return str(exc)
        return None

    def all_digests(self) -> set[str]:
        """Every blob currently on disk (temp files excluded)."""
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
