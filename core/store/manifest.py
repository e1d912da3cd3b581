"""Snapshot manifests: what a snapshot holds.

This module holds the manifest's contents (:class:`Manifest`, its groups and variables) and
the checks every field passes when read. Since store format 3 a manifest is written in
schema 2.0: the same keys, split into a signed head and checksummed sections so that a load
reads only what it needs (layout in sessions.core.store.manifest_index). Schema 1.x, below,
is how manifests were written before; they are still read, and their signatures checked,
as they were.

Format (schema 1.2)
-------------------
A manifest is a msgpack map whose ``format`` is ``"sessions.manifest"`` and whose ``schema``
is ``[major, minor]``. Readers accept any minor of a major they know (minors only add keys)
and refuse a newer major with a plain message. The keys are those of :meth:`Manifest.to_dict`:

- identity: ``id`` (ULID), ``name``, ``version`` (1, 2, … within the name), ``created``
  (epoch seconds), ``parent`` (id of the previous version, if any);
- provenance: ``user``, ``host``, ``pid``, ``python`` (version, implementation, executable,
  platform), ``cwd``, ``origin`` (kind, path, notebook, kernel_id), ``packages`` (installed
  versions of the distributions the session had imported);
- user text: ``note``, ``tags``;
- contents: ``module`` (the ``__name__`` of the saved namespace, how pickles refer to it),
  ``groups`` (serializer, member names, stream blob, out-of-band buffer blobs), ``variables``
  (name, qualified type, memory and stored size, group index, preview, deps, modules),
  ``skipped`` (name -> reason), ``imports`` (name, module, attr), ``history`` (IPython inputs);
- sharing (1.1): ``owner`` (who published it; empty for the user's own snapshots), ``source``
  (id of the local snapshot a shared copy was made from), ``secrets`` (name -> why it looks
  like a credential), per variable ``data`` (a pickle-free form: ``{"format": "npy",
  "header": <.npy header bytes>}``, the array's bytes being its group's one buffer blob), and
  ``signature`` (``{"alg": "ed25519", "key": <32 bytes>, "sig": <64 bytes>}`` over the
  manifest encoded without it, see sessions.core.sharing.signing).

- caches and checkpoints (1.2), only in the snapshots they describe: ``cache`` (a cached
  call or cell, see sessions.core.engine.cache: ``kind``, ``key``, ``function``, ``args``
  previews, ``seconds`` it took, …) and ``run`` (a checkpoint of ``sessions-tui run`` or
  ``%sessions resume``, see sessions.core.engine.checkpoint: the script, the cell it follows
  and the digests of the cells before). Readers of 1.1 keep them as unknown keys.

Keys a newer minor adds are kept as they are (``extra``), so re-encoding a manifest gives back
the bytes that were signed.

A manifest is written last, atomically, after every blob it names is durable: it is the
commit point of a snapshot. Manifests are never modified; annotations that change later
(pins, edited notes) live beside them.

Manifests can come from elsewhere (bundles, remotes, a damaged disk), so decoding is
bounded (size, string, array and map limits) and every decoded manifest is checked whole
by sessions.core.store.manifest_check (types, ranges, depth, uniqueness) before any field is
used: one that fails is damaged, never half-read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgpack

from sessions.core.errors import FormatError, NewerFormatError
from sessions.core.store.blobs import BlobRef
from sessions.core.store.manifest_check import check_manifest

FORMAT = "sessions.manifest"
SCHEMA = (2, 0)  # what this version writes: the indexed layout of .manifest_index
SCHEMA_1 = (1, 2)  # the single-map layout described above, still read (and re-encoded as it was)
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
_LIMITS = {
    "max_str_len": 16 * 1024 * 1024,
    "max_bin_len": 16 * 1024 * 1024,
    "max_array_len": 1_000_000,
    "max_map_len": 1_000_000,
    "max_ext_len": 0,
}


@dataclass(frozen=True)
class Group:
    """Variables pickled together because they share objects: loading one loads all. Or,
    when ``independent``, small values that share nothing, pickled together only to save
    per-stream costs: loading one unpickles the group and keeps only what was asked for."""

    serializer: str  # "pickle" (C pickler) or "dill"
    names: tuple[str, ...]
    stream: BlobRef
    buffers: tuple[BlobRef, ...] = ()
    independent: bool = False
    # when not empty, the stream's out-of-band buffers in order, as (index into ``buffers``,
    # offset, length): small buffers are stored joined (sessions.core.engine.serialize)
    slices: tuple[tuple[int, int, int], ...] = ()

    @property
    def blobs(self) -> tuple[BlobRef, ...]:
        return (self.stream, *self.buffers)

    @property
    def size(self) -> int:
        return sum(b.size for b in self.blobs)

    @property
    def stored(self) -> int:
        return sum(b.stored for b in self.blobs)


@dataclass(frozen=True, slots=True)
class Variable:
    """One saved variable."""

    name: str
    type: str
    memory: int
    stored: int
    group: int
    preview: dict[str, Any] = field(default_factory=dict)
    deps: tuple[str, ...] = ()
    modules: dict[str, str] = field(default_factory=dict)
    data: dict[str, Any] | None = None
    # blake3 (32 hex chars) of the value pickled alone, for a value saved in a batch: its
    # group's hashes change with any member, this one only with the value
    digest: str | None = None


@dataclass(frozen=True)
class ImportRecord:
    """A name restored by importing, not unpickling: ``import module as name`` or
    ``from module import attr as name`` (``attr`` may be dotted)."""

    name: str
    module: str
    attr: str | None = None

    def statement(self) -> str:
        if self.attr is None:
            if self.name == self.module:
                return f"import {self.module}"
            return f"import {self.module} as {self.name}"
        if "." in self.attr:
            return f"from {self.module} import {self.attr.split('.')[0]}  # .{self.attr}"
        if self.attr == self.name:
            return f"from {self.module} import {self.attr}"
        return f"from {self.module} import {self.attr} as {self.name}"


@dataclass(frozen=True)
class Manifest:
    """Everything known about one snapshot without unpickling anything."""

    id: str
    name: str
    version: int
    created: float
    user: str = ""
    host: str = ""
    pid: int = 0
    python: dict[str, str] = field(default_factory=dict)
    cwd: str = ""
    origin: dict[str, str] = field(default_factory=dict)
    note: str = ""
    tags: tuple[str, ...] = ()
    module: str = "__main__"
    groups: tuple[Group, ...] = ()
    variables: tuple[Variable, ...] = ()
    skipped: dict[str, str] = field(default_factory=dict)
    imports: tuple[ImportRecord, ...] = ()
    history: tuple[str, ...] = ()
    packages: dict[str, str] = field(default_factory=dict)
    parent: str | None = None
    owner: str = ""
    source: str | None = None
    secrets: dict[str, str] = field(default_factory=dict)
    signature: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    schema: tuple[int, int] = SCHEMA
    # (head, body) as encoded or read, schema 2 only: what was signed is never re-encoded
    _parts: tuple[bytes, bytes | None] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def cache_parts(self, head: bytes, body: bytes | None) -> None:
        """Remember this manifest's encoded head and body (schema 2), as read or written."""
        object.__setattr__(self, "_parts", (head, body))

    def head_bytes(self) -> bytes:
        """The encoded head of a schema-2 manifest: what its signature covers."""
        if self._parts is None:
            from sessions.core.store import manifest_index

            self.cache_parts(*manifest_index.encode_parts(self))
        assert self._parts is not None
        return self._parts[0]

    @property
    def label(self) -> str:
        """The name a user refers to it by: ``name``, or ``owner/name`` for a shared copy."""
        return f"{self.owner}/{self.name}" if self.owner else self.name

    @property
    def ref(self) -> str:
        return f"{self.label}@{self.version}"

    @property
    def stored(self) -> int:
        """Bytes on disk of every blob the snapshot names (shared blobs counted once)."""
        return sum(blob.stored for blob in self.all_blobs().values())

    @property
    def memory(self) -> int:
        return sum(v.memory for v in self.variables)

    def variable(self, name: str) -> Variable | None:
        for var in self.variables:
            if var.name == name:
                return var
        return None

    def data_blobs(self) -> list[tuple[str, BlobRef]]:
        """(variable, blob) of pickle-free forms kept in blobs of their own (Arrow IPC)."""
        out = []
        for var in self.variables:
            if var.data and isinstance(var.data.get("blob"), dict):
                out.append((var.name, _blob(var.data["blob"])))
        return out

    def all_blobs(self) -> dict[str, BlobRef]:
        """Every blob the snapshot names (groups and pickle-free forms), by hash."""
        found = {blob.hash: blob for group in self.groups for blob in group.blobs}
        for _, blob in self.data_blobs():
            found.setdefault(blob.hash, blob)
        return found

    def blob_hashes(self) -> set[str]:
        return set(self.all_blobs())

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": FORMAT,
            "schema": list(self.schema),
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "created": self.created,
            "parent": self.parent,
            "user": self.user,
            "host": self.host,
            "pid": self.pid,
            "python": dict(self.python),
            "cwd": self.cwd,
            "origin": dict(self.origin),
            "packages": dict(self.packages),
            "note": self.note,
            "tags": list(self.tags),
            "module": self.module,
            "groups": [
                {
                    "serializer": g.serializer,
                    "names": list(g.names),
                    "stream": g.stream.to_dict(),
                    "buffers": [b.to_dict() for b in g.buffers],
                    **({"independent": True} if g.independent else {}),
                    **({"slices": [list(x) for x in g.slices]} if g.slices else {}),
                }
                for g in self.groups
            ],
            "variables": [
                {
                    "name": v.name,
                    "type": v.type,
                    "memory": v.memory,
                    "stored": v.stored,
                    "group": v.group,
                    "preview": v.preview,
                    "deps": list(v.deps),
                    "modules": dict(v.modules),
                    **({"data": v.data} if v.data else {}),
                    **({"digest": v.digest} if v.digest else {}),
                }
                for v in self.variables
            ],
            "skipped": dict(self.skipped),
            "imports": [{"name": i.name, "module": i.module, "attr": i.attr} for i in self.imports],
            "history": list(self.history),
            "owner": self.owner,
            "source": self.source,
            "secrets": dict(self.secrets),
        }
        for key, value in self.extra.items():
            out.setdefault(key, value)
        out["signature"] = self.signature
        return out

    def encode(self) -> bytes:
        """The manifest's file bytes: schema 2 from its (cached) parts, schema 1 as one map."""
        if self.schema[0] < 2:
            return msgpack.packb(self.to_dict(), use_bin_type=True)
        from sessions.core.store import manifest_index

        if self._parts is None or self._parts[1] is None:
            self.cache_parts(*manifest_index.encode_parts(self))
        assert self._parts is not None and self._parts[1] is not None
        return manifest_index.encode(self._parts[0], self._parts[1], self.signature)

    @classmethod
    def decode(cls, data: bytes) -> Manifest:
        """Parse and validate manifest bytes; raises FormatError with a one-line reason."""
        if len(data) > MAX_MANIFEST_BYTES:
            raise FormatError(f"manifest is {len(data)} bytes, over the {MAX_MANIFEST_BYTES} limit")
        if not data:
            raise FormatError("manifest is empty")
        try:
            raw = msgpack.unpackb(
                data, raw=False, strict_map_key=True, **{**_LIMITS, "max_bin_len": len(data)}
            )
        except msgpack.ExtraData:
            raise FormatError("manifest is corrupt: extra bytes after its end") from None
        except Exception as exc:  # msgpack raises several unrelated types on bad input
            text = str(exc).lower()
            if "incomplete" in text:
                raise FormatError("manifest is truncated") from None
            if type(exc).__name__ == "StackError" or isinstance(exc, RecursionError):
                raise FormatError("manifest nests too deeply") from None
            if "exceeds" in text or "max_" in text:
                raise FormatError("manifest claims a size over the limits") from None
            raise FormatError(f"manifest is not valid msgpack ({type(exc).__name__})") from None
        if isinstance(raw, dict) and raw.get("format") == FORMAT:
            schema = raw.get("schema")
            if isinstance(schema, list) and schema and schema[0] == 2:
                from sessions.core.store import manifest_index

                return manifest_index.decode(raw)
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: Any) -> Manifest:
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise FormatError("not a sessions manifest")
        schema = raw.get("schema")
        if (
            not isinstance(schema, list)
            or len(schema) != 2
            or not all(isinstance(x, int) for x in schema)
        ):
            raise FormatError("manifest has no valid schema version")
        if schema[0] > SCHEMA[0]:
            raise NewerFormatError(
                f"manifest schema {schema[0]}.{schema[1]} is newer than this sessions-tui "
                f"understands ({SCHEMA[0]}.x); upgrade sessions-tui to read it"
            )
        if schema[0] < 1 or schema[1] < 0:
            raise FormatError(f"manifest schema {schema[0]}.{schema[1]} is not supported")
        check_manifest(raw)
        try:
            groups = tuple(_group(g) for g in _list(raw, "groups"))
            variables = tuple(_variable(v, len(groups)) for v in _list(raw, "variables"))
            return cls(
                id=_str(raw, "id"),
                name=_str(raw, "name"),
                version=_int(raw, "version"),
                created=float(_num(raw, "created")),
                parent=raw.get("parent") if isinstance(raw.get("parent"), str) else None,
                user=_str(raw, "user", ""),
                host=_str(raw, "host", ""),
                pid=_int(raw, "pid", 0),
                python=_str_map(raw, "python"),
                cwd=_str(raw, "cwd", ""),
                origin=_str_map(raw, "origin"),
                packages=_str_map(raw, "packages"),
                note=_str(raw, "note", ""),
                tags=tuple(_strs(raw, "tags")),
                module=_str(raw, "module", "__main__"),
                groups=groups,
                variables=variables,
                skipped=_str_map(raw, "skipped"),
                imports=tuple(
                    ImportRecord(
                        _str(i, "name"),
                        _str(i, "module"),
                        i.get("attr") if isinstance(i.get("attr"), str) else None,
                    )
                    for i in _list(raw, "imports")
                    if isinstance(i, dict)
                ),
                history=tuple(_strs(raw, "history")),
                owner=_str(raw, "owner", ""),
                source=raw.get("source") if isinstance(raw.get("source"), str) else None,
                secrets=_str_map(raw, "secrets"),
                signature=_signature(raw.get("signature")),
                extra={k: v for k, v in raw.items() if k not in _KNOWN},
                schema=(schema[0], schema[1]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise FormatError(f"manifest field is malformed: {exc}") from None


_KNOWN = {
    "format", "schema", "id", "name", "version", "created", "parent", "user", "host", "pid",
    "python", "cwd", "origin", "packages", "note", "tags", "module", "groups", "variables",
    "skipped", "imports", "history", "owner", "source", "secrets", "signature",
}  # fmt: skip


def _signature(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    if (
        not isinstance(raw, dict)
        or not isinstance(raw.get("alg"), str)
        or not isinstance(raw.get("key"), bytes)
        or not isinstance(raw.get("sig"), bytes)
    ):
        raise TypeError("'signature' should be a map of alg, key and sig")
    return {"alg": raw["alg"], "key": raw["key"], "sig": raw["sig"]}


_TEXT = frozenset({str})


def _str(raw: dict[str, Any], key: str, default: str | None = None) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str):
        raise TypeError(f"'{key}' should be text")
    return value


def _int(raw: dict[str, Any], key: str, default: int | None = None) -> int:
    value = raw.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"'{key}' should be an integer")
    return value


def _num(raw: dict[str, Any], key: str) -> float:
    value = raw.get(key)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"'{key}' should be a number")
    return value


def _list(raw: dict[str, Any], key: str) -> list[Any]:
    value = raw.get(key, [])
    if not isinstance(value, list):
        raise TypeError(f"'{key}' should be a list")
    return value


def _strs(raw: dict[str, Any], key: str) -> list[str]:
    values = _list(raw, key)
    if not set(map(type, values)) <= _TEXT:  # exact str, as msgpack makes (C speed)
        raise TypeError(f"'{key}' should be a list of text")
    return values


def _str_map(raw: dict[str, Any], key: str) -> dict[str, str]:
    value = raw.get(key) or {}
    if not isinstance(value, dict):
        raise TypeError(f"'{key}' should be a map")
    return {str(k): str(v) for k, v in value.items() if v is not None}


def _blob(raw: Any) -> BlobRef:
    if not isinstance(raw, dict):
        raise TypeError("blob entry should be a map")
    digest = _str(raw, "hash")
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError("blob hash is not 64 hex digits")
    return BlobRef(digest, _int(raw, "size"), _int(raw, "stored"), _str(raw, "codec", "raw"))


def _group(raw: Any) -> Group:
    if not isinstance(raw, dict):
        raise TypeError("group entry should be a map")
    buffers = tuple(_blob(b) for b in _list(raw, "buffers"))
    return Group(
        serializer=_str(raw, "serializer"),
        names=tuple(_strs(raw, "names")),
        stream=_blob(raw.get("stream")),
        buffers=buffers,
        independent=raw.get("independent") is True,
        slices=_slices(raw.get("slices"), buffers),
    )


def _slices(raw: Any, buffers: tuple[BlobRef, ...]) -> tuple[tuple[int, int, int], ...]:
    """A group's buffer slices, each inside the buffer blob it names."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise TypeError("'slices' should be a list")
    out = []
    for item in raw:
        if (
            not isinstance(item, list)
            or len(item) != 3
            or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in item)
        ):
            raise TypeError("a buffer slice should be three counts")
        index, offset, length = item
        if index >= len(buffers) or offset + length > buffers[index].size:
            raise ValueError("a buffer slice lies outside its blob")
        out.append((index, offset, length))
    return tuple(out)


def _variable(raw: Any, ngroups: int) -> Variable:
    if not isinstance(raw, dict):
        raise TypeError("variable entry should be a map")
    group = _int(raw, "group")
    if not 0 <= group < ngroups:
        raise ValueError(f"variable group {group} does not exist")
    preview = raw.get("preview") or {}
    if not isinstance(preview, dict):
        raise TypeError("'preview' should be a map")
    return Variable(
        name=_str(raw, "name"),
        type=_str(raw, "type"),
        memory=_int(raw, "memory", 0),
        stored=_int(raw, "stored", 0),
        group=group,
        preview=preview,
        deps=tuple(_strs(raw, "deps")),
        modules=_str_map(raw, "modules"),
        data=_data(raw.get("data")),
        digest=_digest(raw.get("digest")),
    )


def _digest(raw: Any) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or len(raw) != 32 or raw.strip("0123456789abcdef"):
        raise ValueError("a variable digest should be 32 hex digits")
    return raw


def _data(raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        return None
    if "blob" in raw:
        _blob(raw["blob"])  # checked now, so a bad one is a damaged manifest, not a crash later
    return raw
