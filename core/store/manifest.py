"""Snapshot manifests: what a snapshot holds, as one msgpack map.

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
bounded: size, string, array and map limits, and every field is type-checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgpack

from sessions.core.errors import FormatError, NewerFormatError
from sessions.core.store.blobs import BlobRef

FORMAT = "sessions.manifest"
SCHEMA = (1, 2)
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
    """Variables pickled together because they share objects; loading one loads all."""

    serializer: str  # "pickle" (C pickler) or "dill"
    names: tuple[str, ...]
    stream: BlobRef
    buffers: tuple[BlobRef, ...] = ()

    @property
    def blobs(self) -> tuple[BlobRef, ...]:
        return (self.stream, *self.buffers)

    @property
    def size(self) -> int:
        return sum(b.size for b in self.blobs)

    @property
    def stored(self) -> int:
        return sum(b.stored for b in self.blobs)


@dataclass(frozen=True)
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
        return msgpack.packb(self.to_dict(), use_bin_type=True)

    @classmethod
    def decode(cls, data: bytes) -> Manifest:
        """Parse and validate manifest bytes; raises FormatError with a one-line reason."""
        if len(data) > MAX_MANIFEST_BYTES:
            raise FormatError(f"manifest is {len(data)} bytes, over the {MAX_MANIFEST_BYTES} limit")
        if not data:
            raise FormatError("manifest is empty")
        try:
            raw = msgpack.unpackb(data, raw=False, strict_map_key=True, **_LIMITS)
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
        if schema[0] < 1:
            raise FormatError(f"manifest schema {schema[0]} is not supported")
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
    if not all(isinstance(v, str) for v in values):
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
    return Group(
        serializer=_str(raw, "serializer"),
        names=tuple(_strs(raw, "names")),
        stream=_blob(raw.get("stream")),
        buffers=tuple(_blob(b) for b in _list(raw, "buffers")),
    )


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
    )


def _data(raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        return None
    if "blob" in raw:
        _blob(raw["blob"])  # checked now, so a bad one is a damaged manifest, not a crash later
    return raw
