"""Manifest schema 2: a small signed head that indexes the manifest's sections.

Why
---
A schema-1 manifest is one msgpack map: reading any part of it decodes all of it, and its
signature is checked by re-encoding all of it. At 100,000 variables that is 25 MB and half a
second before a one-variable load can start. Schema 2 splits the manifest into a head and
checksummed sections, signs the head's bytes as they are written (encoded and signed once,
never re-encoded to check), and lets a reader decode only the sections it needs.

Format (schema 2.0)
-------------------
The file is one msgpack map, written in this canonical order::

    {"format": "sessions.manifest", "schema": [2, 0],
     "head": <bin32: the head, a msgpack map>,
     "signature": {"alg": "ed25519", "key": <32 bytes>, "sig": <64 bytes>} or nil,
     "body": <bin32: the sections, back to back>}

so a schema-1 reader decodes it and refuses schema 2 plainly, and a schema-2 reader finds the
head at a fixed offset without parsing the body.

- ``head`` holds every schema-1 field except ``groups``, ``variables`` and ``signature``
  (identity, provenance, note, tags, module, skipped, imports, history, packages, owner,
  source, secrets, and keys a newer minor adds), plus ``summary`` (``variables``,
  ``groups``, ``memory``, ``stored``: what listings show) and ``sections``: for each kind
  (``groups``, ``variables``, ``names``) a list of chunks ``[offset, length, blake3]``, the
  offset counted from the start of ``body`` and the digest 32 bytes.
- ``groups`` chunks: msgpack arrays of group records, in group order, each chunk holding at
  most ``CHUNK`` groups or ``CHUNK`` member names (a one-variable load decodes one chunk);
  their table entries carry a fourth item, the index of the chunk's first group:
  ``[serializer, [names], blob, [buffer blobs], {module: version}, {name: [deps]},
  independent, [[buffer, offset, length], ...]]`` (independent: the members share nothing;
  the last, buffer slices, empty unless small buffers are stored joined; see ``Group``), a blob
  being ``[hash (32 bytes), size, stored, codec]`` with codec 0 = raw, 1 = zstd. Module
  versions and dependencies live with the group, which is what a load reads.
- ``variables`` chunks: up to ``CHUNK`` records in save order:
  ``[name, type, memory, stored, group, preview, data or nil, digest or nil]`` (what
  listings, previews and comparisons need, and a load never reads; digest: of a batch
  member's value alone, see ``Variable``).
- ``names`` buckets: variable ``i`` named ``n`` with group ``g`` is listed as ``n, i, g`` (a
  flat array) in bucket ``crc32(utf-8 n) % len(buckets)``; there is one bucket per ``CHUNK``
  variables. Finding one variable reads one bucket.

The signature is Ed25519 over ``DOMAIN_V2 + head`` (the head's bytes, exactly as stored).
The head names every section by its blake3 digest, and every section is re-hashed before it
is decoded, so the signature covers every byte a reader uses; a flipped byte in a section
fails that section ("corrupt"), never an unchecked read. Decoding is bounded like schema 1:
the file's size, msgpack limits on each part, every record type-checked (through the same
field checks as schema 1), and every offset within the body.
"""

from __future__ import annotations

import bisect
import mmap
import operator
import os
import struct
import zlib
from dataclasses import replace
from itertools import chain
from pathlib import Path
from typing import Any

import blake3
import msgpack

from sessions.core.errors import FormatError
from sessions.core.store import manifest as m
from sessions.core.store.blobs import BlobRef
from sessions.core.store.manifest_check import MAX_COUNT

SCHEMA_2 = (2, 0)
CHUNK = 1024
_CODECS = {"raw": 0, "zstd": 1}
_CODEC_NAMES = {0: "raw", 1: "zstd"}
_KINDS = ("groups", "variables", "names")
_HEAD_ONLY = {"format", "schema", "groups", "variables", "signature"}
_SIGNATURE_MAX = 1024
_TEXT = frozenset({str})
_COUNT = frozenset({int})
_LIST = frozenset({list})
_THREE = frozenset({3})
# The canonical prefix: map of 5, "format": "sessions.manifest", "schema": [2, 0], "head" key.
_PREFIX = (
    b"\x85"
    + msgpack.packb("format")
    + msgpack.packb(m.FORMAT)
    + msgpack.packb("schema")
    + msgpack.packb([2, 0])
    + msgpack.packb("head")
)
_BIN32 = struct.Struct(">BI")
_SIGNATURE_KEY = msgpack.packb("signature")
_BODY_KEY = msgpack.packb("body")


def is_indexed(data: bytes | memoryview) -> bool:
    """Whether ``data`` starts like a schema-2 manifest in its canonical layout."""
    return bytes(data[: len(_PREFIX)]) == _PREFIX


# --- encoding -------------------------------------------------------------------------------


def _blob(ref: BlobRef) -> list[Any]:
    return [bytes.fromhex(ref.hash), ref.size, ref.stored, _CODECS.get(ref.codec, 0)]


def encode_parts(manifest: m.Manifest) -> tuple[bytes, bytes]:
    """(head, body) of ``manifest`` in schema 2; the head is what gets signed."""
    packer = msgpack.Packer(use_bin_type=True)
    body = bytearray()
    table: dict[str, list[list[Any]]] = {kind: [] for kind in _KINDS}

    def add(kind: str, records: list[Any]) -> None:
        data = packer.pack(records)
        table[kind].append([len(body), len(data), blake3.blake3(data).digest()])
        body.extend(data)

    groups = manifest.groups
    modules: list[dict[str, str]] = [{} for _ in groups]
    deps: list[dict[str, list[str]]] = [{} for _ in groups]
    for var in manifest.variables:
        if var.modules:
            modules[var.group].update(var.modules)
        if var.deps:
            deps[var.group][var.name] = list(var.deps)
    records: list[Any] = [
        [
            g.serializer,
            list(g.names),
            _blob(g.stream),
            [_blob(b) for b in g.buffers],
            mods,
            dep,
            g.independent,
            [list(x) for x in g.slices],
        ]
        for g, mods, dep in zip(groups, modules, deps)
    ]
    start = names = 0
    for end, group in enumerate(groups, 1):  # chunks of at most CHUNK groups or names
        names += len(group.names)
        if end - start >= CHUNK or names >= CHUNK or end == len(groups):
            add("groups", records[start:end])
            table["groups"][-1].append(start)
            start, names = end, 0
    variables = manifest.variables
    for start in range(0, len(variables), CHUNK):  # records made a chunk at a time: less held
        add(
            "variables",
            [
                [v.name, v.type, v.memory, v.stored, v.group, v.preview, v.data, v.digest]
                for v in variables[start : start + CHUNK]
            ],
        )
    buckets: list[list[Any]] = [[] for _ in range(max(1, -(-len(variables) // CHUNK)))]
    for index, var in enumerate(variables):
        buckets[zlib.crc32(var.name.encode()) % len(buckets)].extend((var.name, index, var.group))
    for bucket in buckets:
        add("names", bucket)
    head = replace(manifest, groups=(), variables=()).to_dict()
    for key in _HEAD_ONLY:
        head.pop(key, None)
    head["summary"] = {
        "variables": len(variables),
        "groups": len(groups),
        "memory": manifest.memory,
        "stored": manifest.stored,
    }
    head["sections"] = table
    return packer.pack(head), bytes(body)


def encode(head: bytes, body: bytes, signature: dict[str, Any] | None) -> bytes:
    """The file bytes of a schema-2 manifest from its parts."""
    return b"".join(
        (
            _PREFIX,
            _BIN32.pack(0xC6, len(head)),
            head,
            _SIGNATURE_KEY,
            msgpack.packb(signature, use_bin_type=True),
            _BODY_KEY,
            _BIN32.pack(0xC6, len(body)),
            body,
        )
    )


# --- decoding -------------------------------------------------------------------------------


def _unpack(data: bytes | memoryview, what: str) -> Any:
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=True, **m._LIMITS)
    except Exception as exc:  # msgpack raises several unrelated types on bad input
        raise FormatError(f"manifest {what} is not valid msgpack ({type(exc).__name__})") from None


def _sections(head: dict[str, Any], body_len: int) -> dict[str, list[tuple[int, int, bytes]]]:
    """The section table of a head, checked: every chunk inside the body, digests 32 bytes."""
    raw = head.get("sections")
    if not isinstance(raw, dict):
        raise FormatError("manifest head has no section table")
    out: dict[str, list[tuple[int, int, bytes]]] = {}
    for kind in _KINDS:
        chunks = raw.get(kind)
        if not isinstance(chunks, list):
            raise FormatError(f"manifest section table lacks '{kind}'")
        checked = []
        width = 4 if kind == "groups" else 3
        for chunk in chunks:
            if (
                not isinstance(chunk, list)
                or len(chunk) != width
                or not all(isinstance(x, int) and not isinstance(x, bool) for x in chunk[:2])
                or not isinstance(chunk[2], bytes)
                or len(chunk[2]) != 32
            ):
                raise FormatError(f"manifest section table has a malformed '{kind}' chunk")
            offset, length, digest = chunk[:3]
            if offset < 0 or length < 0 or offset + length > body_len:
                raise FormatError(f"manifest '{kind}' chunk lies outside the file")
            checked.append((offset, length, digest))
        out[kind] = checked
    starts = [c[3] for c in raw["groups"]]
    if (
        any(not isinstance(x, int) or isinstance(x, bool) or x < 0 for x in starts)
        or starts != sorted(set(starts))
        or (starts and starts[0] != 0)
    ):
        raise FormatError("manifest section table has malformed group starts")
    out["starts"] = starts  # type: ignore[assignment]
    if not out["names"]:
        raise FormatError("manifest has no name buckets")
    _check_layout(out)
    return out


def _check_layout(sections: dict[str, list[tuple[int, int, bytes]]]) -> None:
    """No two chunks share a byte: every byte of the body is hashed and decoded at most
    once, whatever the table says (a chunk listed 200,000 times is refused, not re-read)."""
    chunks = sorted((c[0], c[1]) for kind in _KINDS for c in sections[kind])
    end = 0
    for offset, length in chunks:
        if offset < end:
            raise FormatError("manifest sections overlap")
        end = offset + length


def _check_counts(summary: dict[str, int], sections: dict[str, Any], body_len: int) -> None:
    """The summary's counts agree with the section table as this format lays it out
    (chunks of at most CHUNK records, one name bucket per CHUNK variables), so nothing
    sized by the summary can be larger than the file."""
    groups, variables = summary["groups"], summary["variables"]
    starts = sections["starts"]
    if (
        groups > min(body_len, CHUNK * len(starts))
        or variables > min(body_len, CHUNK * len(sections["variables"]))
        or (starts and starts[-1] >= max(groups, 1))
        or len(sections["names"]) != max(1, -(-variables // CHUNK))
    ):
        raise FormatError("manifest summary does not match its section table")
    if max(summary["memory"], summary["stored"]) > MAX_COUNT:
        raise FormatError("manifest summary claims sizes over any disk")


def _check_buckets(
    body: bytes | memoryview, sections: dict[str, Any], variables: list[Any]
) -> None:
    """The name buckets are exactly those of the variables (what a one-variable load
    trusts): each variable once, in its bucket, with its position and group."""
    buckets: list[list[Any]] = [[] for _ in sections["names"]]
    for index, var in enumerate(variables):
        name = var["name"]
        buckets[zlib.crc32(name.encode()) % len(buckets)].extend((name, index, var["group"]))
    for where, expected in zip(sections["names"], buckets):
        if _chunk(body, where, "names") != expected:
            raise FormatError("manifest name buckets do not match its variables")


def _summary(head: dict[str, Any]) -> dict[str, int]:
    raw = head.get("summary")
    if not isinstance(raw, dict):
        raise FormatError("manifest head has no summary")
    out = {}
    for key in ("variables", "groups", "memory", "stored"):
        value = raw.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise FormatError(f"manifest summary '{key}' is not a count")
        out[key] = value
    return out


def _chunk(body: bytes | memoryview, where: tuple[int, int, bytes], kind: str) -> list[Any]:
    offset, length, digest = where
    data = body[offset : offset + length]
    if blake3.blake3(data).digest() != digest:
        raise FormatError(f"manifest is corrupt: a '{kind}' section does not match its checksum")
    records = _unpack(data, f"'{kind}' section")
    if not isinstance(records, list):
        raise FormatError(f"manifest '{kind}' section is not a list")
    return records


def _blob_ref(raw: Any) -> BlobRef:
    """A group record's blob entry ``[hash (32 bytes), size, stored, codec]``, checked and
    built directly (a load reads one per group and buffer)."""
    if type(raw) is not list or len(raw) != 4:
        raise TypeError("blob entry should be [hash, size, stored, codec]")
    digest, size, stored, codec = raw
    if type(digest) is not bytes:
        raise TypeError("blob entry should be [hash, size, stored, codec]")
    if len(digest) != 32:
        raise ValueError("blob hash is not 32 bytes")
    if type(size) is not int or type(stored) is not int:
        raise TypeError("'size' should be an integer")
    if size < 0 or stored < 0:
        raise ValueError("a blob size is negative")
    name = _CODEC_NAMES.get(codec) if type(codec) is int else None
    if name is None:
        raise ValueError("blob codec is unknown")
    return BlobRef(digest.hex(), size, stored, name)


def _slices(raw: Any, buffers: tuple[BlobRef, ...]) -> tuple[tuple[int, int, int], ...]:
    """A group's buffer slices ``[[buffer, offset, length], ...]``, each inside the buffer
    blob it names: schema 1's checks, made in C over whole columns (a batch of 1,000 tiny
    arrays has 1,000 slices)."""
    if not raw:
        if raw is None or raw == []:
            return ()
        raise TypeError("'slices' should be a list")
    if type(raw) is not list:
        raise TypeError("'slices' should be a list")
    if not set(map(type, raw)) <= _LIST or not set(map(len, raw)) <= _THREE:
        raise TypeError("a buffer slice should be three counts")
    flat = list(chain.from_iterable(raw))
    if not set(map(type, flat)) <= _COUNT or min(flat) < 0:
        raise TypeError("a buffer slice should be three counts")
    index, offset, length = flat[0::3], flat[1::3], flat[2::3]
    if max(index) >= len(buffers):
        raise ValueError("a buffer slice lies outside its blob")
    sizes = [b.size for b in buffers]
    if not all(map(operator.le, map(operator.add, offset, length), map(sizes.__getitem__, index))):
        raise ValueError("a buffer slice lies outside its blob")
    return tuple(zip(index, offset, length))


def _group_parts(raw: Any) -> tuple[m.Group, dict[str, str], dict[str, list[str]]]:
    """A group record, every field checked as schema 1's field checks do; (group, modules,
    deps). Built directly, without schema 1's intermediate maps: a full load of 100,000
    small variables reads hundreds of these."""
    if type(raw) is not list or len(raw) != 8:
        raise TypeError("group entry should be a list of 8")
    serializer, names, stream, buffers, modules, deps, independent, slices = raw
    if type(serializer) is not str:
        raise TypeError("'serializer' should be text")
    if type(names) is not list or not set(map(type, names)) <= _TEXT:
        raise TypeError("'names' should be a list of text")
    if type(buffers) is not list:
        raise TypeError("'buffers' should be a list")
    refs = tuple(map(_blob_ref, buffers))
    group = m.Group(
        serializer=serializer,
        names=tuple(names),
        stream=_blob_ref(stream),
        buffers=refs,
        independent=independent is True,
        slices=_slices(slices, refs),
    )
    if not isinstance(deps, dict) or not set(map(type, deps)) <= _TEXT:
        raise TypeError("'deps' should map names to lists of names")
    checked_deps = {name: m._strs({"deps": value}, "deps") for name, value in deps.items()}
    if (
        not isinstance(modules, dict)
        or not set(map(type, modules)) <= _TEXT
        or not set(map(type, modules.values())) <= _TEXT
    ):
        raise TypeError("'modules' should map names to versions")
    return group, modules, checked_deps


def _variable_dict(
    raw: Any, parts: list[tuple[m.Group, dict[str, str], dict[str, list[str]]]]
) -> dict[str, Any]:
    if not isinstance(raw, list) or len(raw) != 8:
        raise TypeError("variable entry should be a list of 8")
    name, kind, memory, stored, group, preview, data, digest = raw
    if not isinstance(group, int) or isinstance(group, bool) or not 0 <= group < len(parts):
        raise ValueError(f"variable group {group} does not exist")
    _, modules, deps = parts[group]
    out = {
        "name": name,
        "type": kind,
        "memory": memory,
        "stored": stored,
        "group": group,
        "preview": preview,
        "deps": deps.get(name, []) if isinstance(name, str) else [],
        "modules": modules,
    }
    if data is not None:
        out["data"] = data
    if digest is not None:
        out["digest"] = digest
    return out


def _head_dict(head_bytes: bytes | memoryview) -> dict[str, Any]:
    head = _unpack(head_bytes, "head")
    if not isinstance(head, dict):
        raise FormatError("manifest head is not a map")
    reserved = _HEAD_ONLY.intersection(head)
    if reserved:  # they live in the outer map or the sections; a head holding one is forged
        raise FormatError(f"manifest head holds '{min(reserved)}', which belongs elsewhere")
    return head


def _logical(head: dict[str, Any], signature: Any, schema: Any) -> dict[str, Any]:
    """The schema-1-shaped map of a head, without groups and variables."""
    raw = {k: v for k, v in head.items() if k not in ("summary", "sections")}
    raw["format"] = m.FORMAT
    raw["schema"] = schema
    raw["signature"] = signature
    return raw


def decode(outer: dict[str, Any]) -> m.Manifest:
    """A whole schema-2 manifest from its decoded outer map: every section checked."""
    head_bytes, body, signature = outer.get("head"), outer.get("body"), outer.get("signature")
    if not isinstance(head_bytes, bytes) or not isinstance(body, bytes):
        raise FormatError("manifest of schema 2 lacks its head or body")
    if set(outer) != {"format", "schema", "head", "signature", "body"}:
        raise FormatError("manifest of schema 2 has unexpected keys")
    head = _head_dict(head_bytes)
    sections = _sections(head, len(body))
    summary = _summary(head)
    try:
        parts = [_group_parts(r) for c in sections["groups"] for r in _chunk(body, c, "groups")]
        variables = [
            _variable_dict(r, parts)
            for c in sections["variables"]
            for r in _chunk(body, c, "variables")
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError(f"manifest field is malformed: {exc}") from None
    _check_counts(summary, sections, len(body))
    if summary["groups"] != len(parts) or summary["variables"] != len(variables):
        raise FormatError("manifest summary does not match its sections")
    raw = _logical(head, signature, outer.get("schema"))
    raw["groups"] = [
        {
            "serializer": g.serializer,
            "names": list(g.names),
            "stream": g.stream.to_dict(),
            "buffers": [b.to_dict() for b in g.buffers],
            **({"independent": True} if g.independent else {}),
            **({"slices": [list(x) for x in g.slices]} if g.slices else {}),
        }
        for g, _, _ in parts
    ]
    raw["variables"] = variables
    manifest = m.Manifest.from_dict(raw)
    _check_buckets(body, sections, variables)
    if summary["memory"] != manifest.memory or summary["stored"] != manifest.stored:
        raise FormatError("manifest summary does not match its sections")
    manifest.cache_parts(head_bytes, body)
    return manifest


class ManifestIndex:
    """A schema-2 manifest read lazily: the head decoded and checked at once, each section
    hash-checked and decoded the first time something in it is asked for.

    ``head`` is a :class:`Manifest` with every head field and no groups or variables; it
    carries the stored head bytes, so its signature checks exactly what was signed."""

    def __init__(
        self, head: m.Manifest, body: memoryview, sections: dict[str, Any], summary: dict[str, int]
    ):
        self.head = head
        self._body = body
        self._sections = sections
        self.summary = summary
        self._groups: dict[int, list[Any]] = {}
        self._buckets: dict[int, dict[str, tuple[int, int]]] = {}
        self._lists: dict[int, tuple[list[str], list[int], list[int]]] = {}

    @classmethod
    def open(cls, path: Path) -> ManifestIndex:
        """Map the manifest at ``path`` and read its head (FormatError when damaged)."""
        try:
            with open(path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if size > m.MAX_MANIFEST_BYTES:
                    raise FormatError(
                        f"manifest is {size} bytes, over the {m.MAX_MANIFEST_BYTES} limit"
                    )
                if size == 0:
                    raise FormatError("manifest is empty")
                mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except FileNotFoundError:
            raise FormatError("manifest disappeared") from None
        except (OSError, ValueError) as exc:
            raise FormatError(f"manifest cannot be read: {exc}") from None
        return cls.parse(memoryview(mapped))

    @classmethod
    def parse(cls, data: memoryview) -> ManifestIndex:
        """The index of canonical schema-2 manifest bytes; FormatError otherwise."""
        if not is_indexed(data):
            raise FormatError("not an indexed manifest")
        at = len(_PREFIX)
        head_bytes, at = _bin32(data, at, "head")
        if bytes(data[at : at + len(_SIGNATURE_KEY)]) != _SIGNATURE_KEY:
            raise FormatError("manifest of schema 2 is not in its canonical layout")
        at += len(_SIGNATURE_KEY)
        unpacker = msgpack.Unpacker(
            raw=False, strict_map_key=True, max_buffer_size=_SIGNATURE_MAX, **m._LIMITS
        )
        unpacker.feed(bytes(data[at : at + _SIGNATURE_MAX]))
        try:
            signature = unpacker.unpack()
        except Exception:
            raise FormatError("manifest signature is malformed") from None
        at += unpacker.tell()
        if bytes(data[at : at + len(_BODY_KEY)]) != _BODY_KEY:
            raise FormatError("manifest of schema 2 is not in its canonical layout")
        body, end = _bin32(data, at + len(_BODY_KEY), "body")
        if end != len(data):
            raise FormatError("manifest is corrupt: extra bytes after its end")
        head_dict = _head_dict(head_bytes)
        sections = _sections(head_dict, len(body))
        summary = _summary(head_dict)
        _check_counts(summary, sections, len(body))
        raw = _logical(head_dict, signature, list(SCHEMA_2))
        raw["groups"], raw["variables"] = [], []
        head = m.Manifest.from_dict(raw)
        head.cache_parts(bytes(head_bytes), None)
        return cls(head, body, sections, summary)

    @classmethod
    def of(cls, manifest: m.Manifest) -> ManifestIndex:
        """The same lookups over a manifest already decoded whole (schema 1, or one in memory)."""
        return _Decoded(manifest)

    # --- lookups ------------------------------------------------------------------------
    def _flat(self, index: int) -> tuple[list[str], list[int], list[int]]:
        """(names, positions, groups) of name bucket ``index``, hash-checked and validated."""
        found = self._lists.get(index)
        if found is None:
            flat = _chunk(self._body, self._sections["names"][index], "names")
            names, positions, groups = flat[0::3], flat[1::3], flat[2::3]
            if len(flat) % 3 or not (
                set(map(type, names)) <= _TEXT
                and set(map(type, positions)) <= _COUNT
                and set(map(type, groups)) <= _COUNT
                and (not flat or (min(positions) >= 0 and min(groups) >= 0))
                and (not flat or max(positions) < self.summary["variables"])
                and (not flat or max(groups) < self.summary["groups"])
            ):
                raise FormatError("manifest name bucket is malformed")
            found = self._lists[index] = (names, positions, groups)
        return found

    def _bucket(self, index: int) -> dict[str, tuple[int, int]]:
        found = self._buckets.get(index)
        if found is None:
            names, positions, groups = self._flat(index)
            # first entry wins for a repeated name: built in C from the reversed lists
            found = dict(zip(names[::-1], zip(positions[::-1], groups[::-1])))
            self._buckets[index] = found
        return found

    def find(self, name: str) -> tuple[int, int] | None:
        """(position in save order, group index) of variable ``name``, or None."""
        buckets = self._sections["names"]
        return self._bucket(zlib.crc32(name.encode()) % len(buckets)).get(name)

    def positions(self) -> dict[str, int]:
        """Every variable name with its position in save order (reads every bucket)."""
        out: dict[str, int] = {}
        for index in range(len(self._sections["names"])):
            names, positions, _ = self._flat(index)
            out.update(zip(names[::-1], positions[::-1]))  # first entry wins, as in find
        return out

    def names(self) -> list[str]:
        """Every variable name, in save order (reads every bucket)."""
        found = self.positions()
        return sorted(found, key=found.__getitem__)

    def group(self, index: int) -> tuple[m.Group, dict[str, str], dict[str, list[str]]]:
        """(group, module versions, {member: deps}) of group ``index``."""
        if not 0 <= index < self.summary["groups"]:
            raise FormatError(f"manifest has no group {index}")
        chunk = bisect.bisect_right(self._sections["starts"], index) - 1
        offset = index - self._sections["starts"][chunk]
        records = self._groups.get(chunk)
        if records is None:
            try:
                records = [
                    _group_parts(r)
                    for r in _chunk(self._body, self._sections["groups"][chunk], "groups")
                ]
            except (KeyError, TypeError, ValueError) as exc:
                raise FormatError(f"manifest field is malformed: {exc}") from None
            self._groups[chunk] = records
        if offset >= len(records):
            raise FormatError(f"manifest has no group {index}")
        return records[offset]

    def release(self) -> None:
        """Let go of the mapped file (the index cannot be read afterwards)."""
        self._body.release()


def _bin32(data: memoryview, at: int, what: str) -> tuple[memoryview, int]:
    if len(data) < at + _BIN32.size:
        raise FormatError("manifest is truncated")
    marker, length = _BIN32.unpack_from(data, at)
    if marker != 0xC6:
        raise FormatError(f"manifest {what} is not in its canonical layout")
    start = at + _BIN32.size
    if start + length > len(data):
        raise FormatError("manifest is truncated")
    return data[start : start + length], start + length


class _Decoded(ManifestIndex):
    """:class:`ManifestIndex` over a whole :class:`Manifest` (nothing left to read)."""

    def __init__(self, manifest: m.Manifest) -> None:
        self.head = manifest
        self.summary = {
            "variables": len(manifest.variables),
            "groups": len(manifest.groups),
            "memory": manifest.memory,
            "stored": manifest.stored,
        }
        self._where: dict[str, tuple[int, int]] | None = None
        self._parts: dict[int, tuple[m.Group, dict[str, str], dict[str, list[str]]]] = {}

    def find(self, name: str) -> tuple[int, int] | None:
        if self._where is None:
            self._where = {}
            for position, var in enumerate(self.head.variables):
                self._where.setdefault(var.name, (position, var.group))
        return self._where.get(name)

    def names(self) -> list[str]:
        return [var.name for var in self.head.variables]

    def positions(self) -> dict[str, int]:
        return {var.name: position for position, var in enumerate(self.head.variables)}

    def group(self, index: int) -> tuple[m.Group, dict[str, str], dict[str, list[str]]]:
        if not self._parts:
            groups = self.head.groups
            for i, group in enumerate(groups):
                self._parts[i] = (group, {}, {})
            for var in self.head.variables:
                _, modules, deps = self._parts[var.group]
                modules.update(var.modules)
                if var.deps:
                    deps[var.name] = list(var.deps)
        found = self._parts.get(index)
        if found is None:
            raise FormatError(f"manifest has no group {index}")
        return found

    def release(self) -> None:
        pass
