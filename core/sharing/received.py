"""Blob files received from elsewhere (a bundle, a remote), checked in bounded steps.

A received blob file is in the store's blob format (sessions.core.store.blobs: 16-byte header,
then the raw or zstd payload). Its header claims an uncompressed size; the sender's manifest
claims one too. Both are only claims, so neither is allocated up front: the content is
decompressed in chunks of at most :data:`CHUNK` bytes, hashed as it streams, and stopped one
byte past the smaller of the two claims and :data:`MAX_CONTENT_BYTES`. A zstd payload also
cannot honestly expand beyond :data:`MAX_RATIO` to one, so a larger claim is refused before any
work. Checking (:func:`check`) holds one chunk in memory; :func:`content` materializes only
after the check passed, in one buffer of the verified size; :func:`chunks` checks, then
streams the verified content (to a file).
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import blake3
import zstandard

from sessions.core.errors import BlobError
from sessions.core.store.blobs import HEADER, MAGIC, RAW, ZSTD

CHUNK = 4 << 20
MAX_CONTENT_BYTES = 16 * 1024**3  # a hard cap, whatever a manifest claims
MAX_RATIO = 33_000  # zstd's best case is about 32 000 : 1


def _parse(digest: str, framed: bytes | memoryview, max_size: int) -> tuple[int, int]:
    """(codec, claimed size), after checking the header and every bound."""
    if len(framed) < HEADER.size:
        raise BlobError(f"blob {digest[:12]} is truncated")
    magic, codec, size = HEADER.unpack_from(framed)
    if magic != MAGIC or codec not in (RAW, ZSTD):
        raise BlobError(f"blob {digest[:12]} has a bad header")
    limit = min(max_size, MAX_CONTENT_BYTES)
    if size > limit:
        raise BlobError(f"blob {digest[:12]} claims {size} bytes, over the {limit} limit")
    payload = len(framed) - HEADER.size
    if codec == RAW and payload != size:
        raise BlobError(f"blob {digest[:12]} is truncated or has extra bytes")
    if codec == ZSTD and size > payload * MAX_RATIO + (1 << 20):
        raise BlobError(f"blob {digest[:12]} claims an impossible size ({size} bytes)")
    return codec, size


def _stream(digest: str, framed: bytes | memoryview, size: int) -> Iterator[bytes]:
    """The zstd payload's content in chunks; raises once it passes ``size``."""
    payload = memoryview(framed)[HEADER.size :]
    total = 0
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(payload))
        while True:
            chunk = reader.read(min(CHUNK, size + 1 - total))
            if not chunk:
                break
            total += len(chunk)
            if total > size:
                break
            yield chunk
    except zstandard.ZstdError as exc:
        raise BlobError(f"blob {digest[:12]} is corrupt: {exc}") from None
    if total != size:
        raise BlobError(f"blob {digest[:12]} is corrupt: wrong decompressed size")


def claimed(digest: str, framed: bytes | memoryview, *, max_size: int) -> int:
    """The size ``framed`` claims, after checking its header and bounds (not its hash)."""
    return _parse(digest, framed, max_size)[1]


def check(digest: str, framed: bytes | memoryview, *, max_size: int) -> int:
    """Raise BlobError unless ``framed`` is a well-formed blob whose content hashes to
    ``digest`` and is at most ``max_size`` bytes; its size. Memory: one chunk."""
    codec, size = _parse(digest, framed, max_size)
    hasher = blake3.blake3(max_threads=blake3.blake3.AUTO if size >= CHUNK else 1)
    if codec == RAW:
        hasher.update(memoryview(framed)[HEADER.size :])
    else:
        for chunk in _stream(digest, framed, size):
            hasher.update(chunk)
    if hasher.hexdigest() != digest:
        raise BlobError(f"blob {digest[:12]} is corrupt: content does not match its hash")
    return size


def content(digest: str, framed: bytes | memoryview, *, max_size: int) -> memoryview:
    """The checked content of ``framed``: a view of it when stored raw, else one writable
    buffer of the verified size (decompressed after the check, so a lie costs no memory)."""
    size = check(digest, framed, max_size=max_size)
    codec = HEADER.unpack_from(framed)[1]
    if codec == RAW:
        return memoryview(framed)[HEADER.size :]
    buffer = bytearray(size)
    filled = 0
    for chunk in _stream(digest, framed, size):
        buffer[filled : filled + len(chunk)] = chunk
        filled += len(chunk)
    return memoryview(buffer)


def chunks(digest: str, framed: bytes | memoryview, *, max_size: int) -> Iterator[memoryview]:
    """The checked content of ``framed`` in chunks of at most :data:`CHUNK` bytes."""
    size = check(digest, framed, max_size=max_size)
    if HEADER.unpack_from(framed)[1] == RAW:
        view = memoryview(framed)[HEADER.size :]
        for start in range(0, size, CHUNK):
            yield view[start : start + CHUNK]
        return
    for chunk in _stream(digest, framed, size):
        yield memoryview(chunk)
