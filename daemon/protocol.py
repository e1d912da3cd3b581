"""The daemon's wire protocol (version 1).

Frames: a 4-byte big-endian length, then that many bytes of one msgpack map (at most
16 MiB). A client sends requests ``{"id": n, "op": name, ...args}``; the daemon answers
``{"id": n, "ok": true, "result": ...}`` or ``{"id": n, "ok": false, "error": "one line"}``.
After ``{"op": "subscribe"}`` is answered, the daemon also pushes events on that connection:
``{"event": "added" | "changed" | "removed" | "index_error", "entry": {...}, "path": ...}``.

Ops: ``status`` (includes ``protocol``: clients speaking another version fall back to
reading the catalog), ``subscribe``, ``query`` (text, limit, group), ``reindex``,
``retention`` (apply the policy now), ``stop``.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

import msgpack

PROTOCOL = 1
MAX_FRAME = 16 * 1024 * 1024
_HEADER = struct.Struct(">I")


class ProtocolError(Exception):
    """A frame that is too large or not msgpack."""


def encode(message: dict[str, Any]) -> bytes:
    body = msgpack.packb(message, use_bin_type=True, default=str)
    if len(body) > MAX_FRAME:
        raise ProtocolError("message too large")
    return _HEADER.pack(len(body)) + body


def decode(body: bytes) -> dict[str, Any]:
    try:
        message = msgpack.unpackb(body, raw=False, strict_map_key=True)
    except Exception:
        raise ProtocolError("frame is not msgpack") from None
    if not isinstance(message, dict):
        raise ProtocolError("frame is not a map")
    return message


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks = []
    while size:
        chunk = sock.recv(min(size, 1 << 20))
        if not chunk:
            raise ConnectionError("daemon closed the connection")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def recv(sock: socket.socket) -> dict[str, Any]:
    """Read one frame from a blocking socket."""
    (size,) = _HEADER.unpack(_recv_exact(sock, _HEADER.size))
    if size > MAX_FRAME:
        raise ProtocolError("frame too large")
    return decode(_recv_exact(sock, size))


def header_size(header: bytes) -> int:
    (size,) = _HEADER.unpack(header)
    if size > MAX_FRAME:
        raise ProtocolError("frame too large")
    return size
