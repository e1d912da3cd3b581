"""Snapshot ids: ULIDs — 26 Crockford base32 chars, 48 bits of milliseconds then 80 random bits.

They sort by creation time as plain strings, which the store and the catalog rely on.
"""

from __future__ import annotations

import os
import re
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ID_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


def new_id(now: float | None = None) -> str:
    """A new time-sortable id."""
    millis = int((time.time() if now is None else now) * 1000)
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def is_id(text: str) -> bool:
    """Whether ``text`` has the shape of a full snapshot id."""
    return bool(ID_RE.match(text))


def id_time(snapshot_id: str) -> float:
    """The creation time (seconds since the epoch) encoded in an id."""
    value = 0
    for char in snapshot_id[:10]:
        value = value * 32 + _ALPHABET.index(char)
    return value / 1000.0
