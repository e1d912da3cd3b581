"""Absurd manifests, made deterministically from one real manifest: every field given every
value of a pool of hostile ones (wrong types, out-of-range numbers, control characters, huge
strings, deep nesting, duplicates), each validly signed with the library's own signing code,
in either layout: schema 1 (one map, still read) or schema 2 (a signed head indexing
checksummed sections, sessions.core.store.manifest_index). Schema 2 adds its own: section
offsets and lengths out of range or overlapping, sections whose checksums match hostile
content, name buckets naming missing variables or groups, absurd head fields.

Each variant says what a reader must make of it: ``"damaged"`` (listed as damaged, never
used), ``"ok"`` (odd but valid: listed and shown like any snapshot), or None for the random
mutations, which only have to be treated alike by every reader. The expectations are the
manifest rules (sessions.core.store.manifest_check) stated again from the outside.
"""

from __future__ import annotations

import copy
import math
import random
import re
import zlib
from collections.abc import Callable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

import blake3
import msgpack

from sessions.core.errors import SessionsError
from sessions.core.sharing import identity, signing
from sessions.core.store import ids, manifest_index
from sessions.core.store.manifest import Manifest

ULID = object()  # a fresh snapshot id where it is used
_OWNER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def _nest(depth: int, leaf: Any = "x") -> Any:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def _nest_map(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = {"a": value}
    return value


POOL: dict[str, Any] = {
    "none": None,
    "true": True,
    "zero": 0,
    "one": 1,
    "neg": -1,
    "int63": 2**63 - 1,
    "nint63": -(2**63),
    "u64": 2**64 - 1,
    "half": 0.5,
    "tiny": 5e-324,
    "big": 1e300,
    "nbig": -1e300,
    "nan": math.nan,
    "inf": math.inf,
    "ninf": -math.inf,
    "empty": "",
    "word": "hello",
    "ctrl": "a\x1b]52;c;cHduZWQ=\x07b\x1b[2J",
    "newline": "line one\nline two",
    "nul": "a\x00b",
    "unicode": "\U0001d518\u202eevil\u200b",
    "huge": "x" * 300_000,
    "bytes": b"\x00\xff" * 16,
    "nolist": [],
    "strs": ["a", "b"],
    "mixed": [1, "a", None],
    "nested": [["a", "b"], ["c", "d"]],
    "sizes": [3, 4],
    "nomap": {},
    "map": {"a": 1},
    "strmap": {"a": "b"},
    "bytekey": {b"k": "v"},
    "deep10": _nest(10),
    "deep": _nest(40),
    "deepmap": _nest_map(40),
    "ulid": ULID,
    "hex64": "ab" * 32,
}

TEXT = frozenset({"empty", "word", "ctrl", "newline", "nul", "unicode", "huge", "ulid", "hex64"})
NUMBERS = {"zero", "one", "neg", "int63", "nint63", "u64", "half", "tiny", "big", "nbig"}
NUMBERS |= {"nan", "inf", "ninf"}

# field -> the pool values that are valid there (all others make the manifest damaged)
TOP_VALID: dict[str, AbstractSet[str]] = {
    "format": set(),
    "schema": set(),
    "id": {"ulid"},
    "name": {"word", "unicode"},
    "version": {"one"},
    "created": {"zero", "one", "half", "tiny"},
    "parent": {"none", "ulid"},
    "source": {"none", "ulid"},
    "user": TEXT,
    "host": TEXT,
    "pid": {"zero", "one"},
    "python": {"strmap", "nomap"},
    "origin": {"strmap", "nomap"},
    "packages": {"strmap", "nomap"},
    "cwd": TEXT - {"nul"},
    "note": TEXT,
    "tags": {"strs", "nolist"},
    "history": {"strs", "nolist"},
    "module": TEXT,
    "groups": set(),
    "variables": {"nolist"},
    "skipped": {"strmap", "nomap"},
    "secrets": {"strmap", "nomap"},
    "imports": {"nolist"},
    "owner": {"empty", "word"},
    "signature": {"none"},
    "zz_newer_minor": set(POOL) - {"deep", "deepmap", "bytekey"},
}
VARIABLE_VALID: dict[str, AbstractSet[str]] = {
    "name": TEXT - {"empty"},
    "type": TEXT,
    "memory": {"zero", "one"},
    "stored": {"zero", "one"},
    "group": set(),
    "preview": {"map", "strmap", "nomap"},
    "deps": {"strs", "nolist"},
    "modules": {"strmap", "nomap"},
    "data": {"none", "nomap", "map", "strmap"},
    "digest": {"none"},
}
_PREVIEW_TEXT = frozenset(TEXT - {"huge"})
PREVIEW_VALID: dict[str, AbstractSet[str]] = {
    **dict.fromkeys(
        ("kind", "repr", "dtype", "name", "signature", "source", "doc", "error"), _PREVIEW_TEXT
    ),
    **dict.fromkeys(
        ("head", "items", "columns", "dtypes", "index", "bases", "methods"),
        frozenset({"strs", "nolist"}),
    ),
    "shape": {"nolist", "sizes"},
    "rows": {"nolist", "nested"},
    **dict.fromkeys(("min", "max", "mean"), frozenset(NUMBERS | {"none"})),
    "len": {"zero", "one", "int63", "u64"},
    "attributes": {"strmap", "nomap"},
    "zz_newer": set(POOL) - {"deep", "deepmap", "bytekey", "huge", "deep10"},
}
GROUP_VALID: dict[str, AbstractSet[str]] = {
    "serializer": {"word", "unicode"},
    "names": set(),
    "stream": set(),
    "buffers": {"nolist"},
}
BLOB_VALID: dict[str, AbstractSet[str]] = {
    "hash": {"hex64"},
    "size": {"zero", "one"},
    "stored": {"zero", "one"},
    "codec": {"word", "unicode"},
}
IMPORT_VALID: dict[str, AbstractSet[str]] = {
    "name": TEXT - {"empty"},
    "module": TEXT - {"empty"},
    "attr": TEXT | {"none"},
}
SIGNATURE_VALID: dict[str, AbstractSet[str]] = {
    "alg": {"empty", "word", "ctrl", "newline", "nul", "unicode"},
    "key": {"bytes"},
    "sig": {"bytes"},
}


# a fresh id and 64 hex digits are plain words too: valid wherever a word is
for _valid in (TOP_VALID, VARIABLE_VALID, PREVIEW_VALID, GROUP_VALID, BLOB_VALID, IMPORT_VALID):
    for _field, _keys in _valid.items():
        if "word" in _keys:
            _valid[_field] = frozenset(_keys | {"ulid", "hex64"})
SIGNATURE_VALID["alg"] = frozenset(SIGNATURE_VALID["alg"] | {"ulid", "hex64"})


@dataclass
class Variant:
    """One manifest file to place: its bytes, where it goes and what readers must say."""

    label: str
    data: bytes
    expect: str | None  # "damaged", "ok", or None (random: readers must only agree)
    id: str  # the id in its file name
    version: int  # the version in its file name
    label_dir: str  # the snapshot label its dir is named for ("owner/name" or "name")
    owner: str  # where it goes on a remote: manifests/<owner>/<name>/<version>
    name: str
    placed: bool  # whether that place is the one its owner, name and version claim
    load: str = ""  # the variable a partial load asks for


def _value(key: str) -> Any:
    value = POOL[key]
    return ids.new_id() if value is ULID else copy.deepcopy(value)


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) and ids.is_id(value) and value[0] in "01234567"


Tweak = Callable[[dict[str, Any], bytearray], Any]


def _blob_v2(raw: Any) -> Any:
    """A blob reference as schema 2 stores it, hostile parts kept as they are."""
    if not isinstance(raw, dict):
        return raw
    digest, codec = raw.get("hash"), raw.get("codec", "raw")
    if isinstance(digest, str) and re.fullmatch(r"[0-9a-f]{64}", digest):
        digest = bytes.fromhex(digest)
    if isinstance(codec, str) and codec in ("raw", "zstd"):
        codec = ("raw", "zstd").index(codec)
    return [digest, raw.get("size"), raw.get("stored"), codec]


def _list(group: dict[str, Any]) -> list[Any]:
    buffers = group.get("buffers", [])
    return buffers if isinstance(buffers, list) else []


def _data(var: dict[str, Any]) -> bool:
    return isinstance(var.get("data"), dict)


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def encode_v2(
    raw: dict[str, Any],
    who: identity.Identity,
    *,
    resign: bool = True,
    tweak: Tweak | None = None,
) -> bytes:
    """Schema-2 file bytes of a logical manifest map, absurd ones too: laid out as
    sessions.core.store.manifest_index writes them (one chunk per kind unless ``tweak``
    changes the head or the body), the head signed with ``who`` over the library's domain."""
    groups, variables = raw.get("groups"), raw.get("variables")
    glist = groups if isinstance(groups, list) else []
    vlist = variables if isinstance(variables, list) else []
    modules: list[Any] = [{} for _ in glist]
    deps: list[dict[Any, Any]] = [{} for _ in glist]
    for var in vlist:
        g = var.get("group") if isinstance(var, dict) else None
        if type(g) is not int or not 0 <= g < len(glist):
            continue
        mods = var.get("modules")
        if mods and isinstance(mods, dict) and isinstance(modules[g], dict):
            modules[g].update(mods)
        elif mods:
            modules[g] = mods
        name, needs = var.get("name"), var.get("deps")
        if needs and _hashable(name):  # as the library writes: empty deps are left out
            deps[g][name] = needs
    records: Any = groups
    if isinstance(groups, list):
        records = [
            [
                g.get("serializer"),
                g.get("names"),
                _blob_v2(g.get("stream")),
                [_blob_v2(b) for b in g["buffers"]]
                if isinstance(g.get("buffers", []), list) and "buffers" in g
                else g.get("buffers", []),
                modules[i],
                deps[i],
                g.get("independent", False),
                g.get("slices") or [],
            ]
            if isinstance(g, dict)
            else g
            for i, g in enumerate(groups)
        ]
    vrecords: Any = variables
    if isinstance(variables, list):
        vrecords = [
            [
                v.get("name"),
                v.get("type"),
                v.get("memory", 0),
                v.get("stored", 0),
                v.get("group"),
                v.get("preview", {}),
                v.get("data"),
                v.get("digest"),
            ]
            if isinstance(v, dict)
            else v
            for v in variables
        ]
    buckets: list[list[Any]] = [[] for _ in range(max(1, -(-len(vlist) // manifest_index.CHUNK)))]
    for index, var in enumerate(vlist):
        if isinstance(var, dict):
            name = var.get("name")
            at = zlib.crc32(name.encode()) % len(buckets) if isinstance(name, str) else 0
            buckets[at].extend((name, index, var.get("group")))
    body = bytearray()
    table: dict[str, list[list[Any]]] = {"groups": [], "variables": [], "names": []}
    for kind, parts in (("groups", [records]), ("variables", [vrecords]), ("names", buckets)):
        for part in parts:
            data = msgpack.packb(part, use_bin_type=True)
            table[kind].append([len(body), len(data), blake3.blake3(data).digest()])
            body.extend(data)
    table["groups"][0].append(0)
    head = {k: v for k, v in raw.items() if k not in _OUTER}
    memory = [v.get("memory", 0) for v in vlist if isinstance(v, dict)]
    stored: dict[Any, Any] = {}  # as Manifest.stored counts: each blob once
    blobs = [b for g in glist if isinstance(g, dict) for b in (g.get("stream"), *_list(g))]
    blobs += [v["data"].get("blob") for v in vlist if isinstance(v, dict) and _data(v)]
    for blob in blobs:
        if isinstance(blob, dict) and _hashable(blob.get("hash")):
            stored.setdefault(blob.get("hash"), blob.get("stored"))
    head["summary"] = {
        "variables": len(vlist),
        "groups": len(glist),
        "memory": min(sum(memory), 2**64 - 1) if set(map(type, memory)) <= {int} else 0,
        "stored": min(sum(x for x in stored.values() if type(x) is int and x >= 0), 2**64 - 1),
    }
    head["sections"] = table
    if tweak is not None:
        tweak(head, body)
    head_bytes = msgpack.packb(head, use_bin_type=True)
    signature = raw.get("signature")
    if resign:
        signature = {
            "alg": signing.ALG,
            "key": who.public_raw,
            "sig": who.sign(signing.DOMAIN_V2 + head_bytes),
        }
    if raw.get("format") == "sessions.manifest" and raw.get("schema") == [2, 0]:
        return manifest_index.encode(head_bytes, bytes(body), signature)
    outer = {
        "format": raw.get("format"),
        "schema": raw.get("schema"),
        "head": head_bytes,
        "signature": signature,
        "body": bytes(body),
    }
    return msgpack.packb(outer, use_bin_type=True)


_OUTER = frozenset({"format", "schema", "groups", "variables", "signature"})


class Maker:
    """Turns a base manifest (as a dict, in ``Manifest.to_dict`` order) into variants, in
    the layout of ``schema`` (1 or 2)."""

    def __init__(self, base: dict[str, Any], who: identity.Identity, schema: int = 2) -> None:
        self.base = copy.deepcopy(base)
        self.base["schema"] = [2, 0] if schema == 2 else [1, 2]
        self.schema = schema
        self.who = who
        self.count = 0
        self.used: set[tuple[str, str, int]] = set()

    def _fresh(self) -> dict[str, Any]:
        raw = copy.deepcopy(self.base)
        self.count += 1
        raw["id"] = ids.new_id()
        raw["version"] = 1000 + self.count  # a place of its own in its name's dir
        return raw

    def _signed(self, raw: dict[str, Any], resign: bool, tweak: Tweak | None = None) -> bytes:
        """The file bytes: through the library's signing code (``signing.sign`` when the
        library can decode it, else the same signature over the same bytes by hand)."""
        if self.schema == 2 and (tweak is not None or not resign):
            return encode_v2(raw, self.who, resign=resign, tweak=tweak)
        if not resign:
            return msgpack.packb(raw, use_bin_type=True)
        try:
            manifest = Manifest.from_dict(copy.deepcopy(raw))
        except SessionsError:
            manifest = None
        if manifest is not None:
            return signing.sign(manifest, self.who).encode()
        if self.schema == 2:
            return encode_v2(raw, self.who)
        unsigned = {**raw, "signature": None}
        try:
            body = msgpack.packb(unsigned, use_bin_type=True)
        except (ValueError, OverflowError, TypeError):
            return msgpack.packb(raw, use_bin_type=True, strict_types=False)
        signature = self.who.sign(signing.DOMAIN + body)
        raw = {
            **raw,
            "signature": {"alg": signing.ALG, "key": self.who.public_raw, "sig": signature},
        }
        return msgpack.packb(raw, use_bin_type=True)

    def variant(
        self,
        label: str,
        mutate: Callable[[dict[str, Any]], None],
        expect: str | None,
        *,
        resign: bool = True,
        data: bytes | None = None,
        tweak: Tweak | None = None,
        post: Callable[[bytes], bytes] | None = None,
    ) -> Variant:
        raw = self._fresh()
        file_id, file_version = raw["id"], raw["version"]
        mutate(raw)
        if _valid_id(raw.get("id")):
            file_id = raw["id"]
        version = raw.get("version")
        if type(version) is int and 1 <= version < 2**53:
            file_version = version
        name = raw.get("name")
        if not isinstance(name, str) or not name or "/" in name or len(name) > 200:
            name = "broken"
        owner = raw.get("owner")
        owner = owner if isinstance(owner, str) and _OWNER.match(owner) else ""
        if (owner, name, file_version) in self.used:  # a place another variant took
            file_version = 1000 + self.count
        self.used.add((owner, name, file_version))
        placed = bool(owner) and name == raw.get("name") and file_version == raw.get("version")
        if data is None:
            data = self._signed(raw, resign, tweak)
            if post is not None:  # the file's bytes changed after signing
                data = post(data)
        return Variant(
            label=label,
            data=data,
            expect=expect,
            id=file_id,
            version=file_version,
            label_dir=f"{owner}/{name}" if owner else name,
            owner=owner or "mallory",
            name=name,
            placed=placed,
            load=self._load_name(raw),
        )

    def _load_name(self, raw: dict[str, Any]) -> str:
        """The variable a one-variable load of this variant asks for: the chosen one."""
        variables = raw.get("variables")
        at = self.chosen_index
        if isinstance(variables, list) and len(variables) > at and isinstance(variables[at], dict):
            name = variables[at].get("name")
            if isinstance(name, str) and name:
                return name
        return self.chosen

    chosen = ""
    chosen_index = 0


def _set(path: Callable[[dict[str, Any]], Any], key: str, value_key: str) -> Callable:
    def mutate(raw: dict[str, Any]) -> None:
        path(raw)[key] = _value(value_key)

    return mutate


def variants(
    base: dict[str, Any], who: identity.Identity, *, seed: int = 10, schema: int = 2
) -> Iterator[Variant]:
    """Every variant of ``base`` (a real manifest with several preview kinds, an import and
    at least three groups), deterministically, in the layout of ``schema`` (1 or 2)."""
    maker = Maker(base, who, schema)
    base = maker.base

    def expect(valid: AbstractSet[str], key: str) -> str:
        return "ok" if key in valid else "damaged"

    variable_valid, blob_valid = VARIABLE_VALID, BLOB_VALID
    if schema == 2:  # what schema 2 cannot say differently: empty deps and modules are left
        # out, a blob's hash is 32 bytes and its codec a number (0 raw, 1 zstd)
        falsy = {"none", "zero", "empty", "nolist", "nomap"}
        variable_valid = {
            **VARIABLE_VALID,
            "deps": VARIABLE_VALID["deps"] | falsy,
            "modules": VARIABLE_VALID["modules"] | falsy,
        }
        blob_valid = {
            **BLOB_VALID,
            "hash": BLOB_VALID["hash"] | {"bytes"},
            "codec": BLOB_VALID["codec"] | {"zero", "one"},
        }

    # the chosen variable: the last one alone in a group that is not the first
    vi = max(
        i
        for i, v in enumerate(base["variables"])
        if v["group"] > 0 and base["groups"][v["group"]]["names"] == [v["name"]]
    )
    gi = base["variables"][vi]["group"]
    maker.chosen, maker.chosen_index = base["variables"][vi]["name"], vi

    def var(raw: dict[str, Any]) -> dict[str, Any]:
        return raw["variables"][vi]

    def group(raw: dict[str, Any]) -> dict[str, Any]:
        return raw["groups"][gi]

    for key in POOL:
        for field, valid in TOP_VALID.items():
            yield maker.variant(
                f"top {field}={key}",
                _set(lambda r: r, field, key),
                expect(valid, key),
                resign=field != "signature",
            )
        for field, valid in variable_valid.items():
            if field == "name":

                def rename(raw: dict[str, Any], key: str = key) -> None:
                    value = _value(key)
                    var(raw)["name"] = value
                    group(raw)["names"] = [value]

                yield maker.variant(f"variable name={key}", rename, expect(valid, key))
            else:
                yield maker.variant(
                    f"variable {field}={key}", _set(var, field, key), expect(valid, key)
                )
        for field, valid in PREVIEW_VALID.items():
            target = next(
                (i for i, v in enumerate(base["variables"]) if field in v.get("preview", {})), vi
            )

            def preview(raw: dict[str, Any], target: int = target) -> dict[str, Any]:
                return raw["variables"][target]["preview"]

            yield maker.variant(
                f"preview {field}={key}", _set(preview, field, key), expect(valid, key)
            )
        for field, valid in GROUP_VALID.items():
            yield maker.variant(f"group {field}={key}", _set(group, field, key), expect(valid, key))
        for field, valid in blob_valid.items():
            stream = lambda raw: group(raw)["stream"]  # noqa: E731
            yield maker.variant(f"blob {field}={key}", _set(stream, field, key), expect(valid, key))
        for field, valid in IMPORT_VALID.items():
            first = lambda raw: raw["imports"][0]  # noqa: E731
            yield maker.variant(
                f"import {field}={key}", _set(first, field, key), expect(valid, key)
            )
        for field, valid in SIGNATURE_VALID.items():
            sig = lambda raw: raw["signature"]  # noqa: E731
            yield maker.variant(
                f"signature {field}={key}", _set(sig, field, key), expect(valid, key), resign=False
            )
    yield from _structural(maker, base, vi, gi)
    if schema == 2:
        yield from _sections(maker, base, vi, gi)
    yield from _random(maker, base, random.Random(seed), 400)


def _structural(maker: Maker, base: dict[str, Any], vi: int, gi: int) -> Iterator[Variant]:
    def twice(raw: dict[str, Any]) -> None:
        raw["variables"].append(copy.deepcopy(raw["variables"][vi]))

    yield maker.variant("duplicate variable", twice, "damaged")

    def two_groups(raw: dict[str, Any]) -> None:
        raw["groups"][0]["names"].append(raw["variables"][vi]["name"])

    yield maker.variant("variable listed by two groups", two_groups, "damaged")

    def ghost(raw: dict[str, Any]) -> None:
        raw["groups"][gi]["names"].append("ghost")

    yield maker.variant("group lists a name that is not a variable", ghost, "ok")

    def unlisted(raw: dict[str, Any]) -> None:
        raw["variables"][vi]["group"] = 0

    yield maker.variant("variable not listed by its group", unlisted, "damaged")

    def overflow(raw: dict[str, Any]) -> None:
        for v in raw["variables"][:2]:
            v["memory"] = 2**52 + 1

    yield maker.variant("sizes add up past any disk", overflow, "damaged")

    def bytes_key(raw: dict[str, Any]) -> None:
        raw[b"zz"] = 1  # type: ignore[index]

    yield maker.variant("top-level key that is bytes", bytes_key, "damaged")
    for depth, outcome in ((15, "ok"), (17, "damaged"), (200, "damaged")):
        yield maker.variant(
            f"newer-minor key {depth} deep",
            _setter(lambda r: r, "zz_nested", _nest(depth)),
            outcome,
        )
    for depth, outcome in ((6, "ok"), (8, "damaged")):
        yield maker.variant(
            f"preview key {depth} deep",
            _setter(lambda r: r["variables"][vi]["preview"], "zz_nested", _nest(depth)),
            outcome,
        )
    yield maker.variant("100,000 tags", _setter(lambda r: r, "tags", ["t"] * 100_000), "ok")
    major = maker.schema
    yield maker.variant("newer minor schema", _setter(lambda r: r, "schema", [major, 2**31]), "ok")
    yield maker.variant("newer major schema", _setter(lambda r: r, "schema", [3, 0]), "damaged")
    if major == 1:
        one_map = copy.deepcopy(maker.base)
        one_map["schema"] = [2, 0]
        yield maker.variant(
            "schema 2 claimed by a one-map manifest",
            lambda r: None,
            "damaged",
            data=msgpack.packb(one_map, use_bin_type=True),
        )
    if major == 2:
        yield maker.variant(
            "schema 1 claimed",
            _setter(lambda r: r, "schema", [1, 2]),
            "damaged",
            tweak=lambda head, body: None,
        )
    yield maker.variant("older major schema", _setter(lambda r: r, "schema", [0, 9]), "damaged")
    yield maker.variant("negative minor schema", _setter(lambda r: r, "schema", [1, -1]), "damaged")
    yield maker.variant("unsigned", _setter(lambda r: r, "signature", None), "ok", resign=False)
    yield maker.variant("a map, not a manifest", lambda r: None, "damaged", data=msgpack.packb({}))
    yield maker.variant("a list", lambda r: None, "damaged", data=msgpack.packb([1, 2]))
    yield maker.variant(
        "nested 1,100 deep", lambda r: None, "damaged", data=b"\x91" * 1100 + b"\xc0"
    )
    yield maker.variant(
        "integer map key",
        lambda r: None,
        "damaged",
        data=b"\x81\x01\x01",  # {1: 1}: msgpack refuses non-text keys
    )


def _sections(maker: Maker, base: dict[str, Any], vi: int, gi: int) -> Iterator[Variant]:
    """Schema 2's own: the section table, the sections' bytes and checksums, the name
    buckets and the head, each made absurd with the head validly signed."""
    keep = lambda raw: None  # noqa: E731
    name = base["variables"][vi]["name"]

    def table(kind: str, index: int, value: Any, at: int = 0) -> Tweak:
        def tweak(head: dict[str, Any], body: bytearray) -> None:
            head["sections"][kind][at][index] = value

        return tweak

    def section(kind: str, content: Any, *, raw: bytes | None = None) -> Tweak:
        """Replace a kind's first chunk by other content, its checksum matching."""

        def tweak(head: dict[str, Any], body: bytearray) -> None:
            data = raw if raw is not None else msgpack.packb(content, use_bin_type=True)
            head["sections"][kind][0][0] = len(body)
            head["sections"][kind][0][1] = len(data)
            head["sections"][kind][0][2] = blake3.blake3(data).digest()
            body.extend(data)

        return tweak

    def edit_bucket(change: Callable[[list[Any]], Any]) -> Tweak:
        def tweak(head: dict[str, Any], body: bytearray) -> None:
            offset, length, _ = head["sections"]["names"][0]
            flat = msgpack.unpackb(bytes(body[offset : offset + length]))
            change(flat)
            section("names", flat)(head, body)

        return tweak

    def tweaked(label: str, tweak: Tweak, expect: str = "damaged") -> Variant:
        return maker.variant(label, keep, expect, tweak=tweak)

    # the section table: offsets and lengths out of range, malformed chunks
    for kind in ("groups", "variables", "names"):
        for field, label, value in (
            (0, "offset past the end", 10**6),
            (0, "negative offset", -1),
            (0, "offset near 2^63", 2**63 - 1),
            (0, "offset 2^64-1", 2**64 - 1),
            (1, "negative length", -5),
            (1, "length past the end", 10**6),
            (1, "zero length", 0),
            (0, "float offset", 0.0),
            (0, "nan offset", math.nan),
            (1, "bool length", True),
            (0, "text offset", "0"),
            (2, "digest of 31 bytes", b"\x00" * 31),
            (2, "digest as text", "ab" * 16),
            (2, "digest of other bytes", b"\x00" * 32),
        ):
            yield tweaked(f"section {kind} {label}", table(kind, field, value))

        def drop(head: dict[str, Any], body: bytearray, kind: str = kind) -> None:
            del head["sections"][kind]

        yield tweaked(f"section table without {kind}", drop)

        def empty(head: dict[str, Any], body: bytearray, kind: str = kind) -> None:
            head["sections"][kind] = []

        yield tweaked(f"section {kind} with no chunks", empty)

        def short(head: dict[str, Any], body: bytearray, kind: str = kind) -> None:
            head["sections"][kind][0] = head["sections"][kind][0][:2]

        yield tweaked(f"section {kind} chunk too short", short)

        def long(head: dict[str, Any], body: bytearray, kind: str = kind) -> None:
            head["sections"][kind][0] = [*head["sections"][kind][0], 0, 0]

        yield tweaked(f"section {kind} chunk too long", long)

        def twice(head: dict[str, Any], body: bytearray, kind: str = kind) -> None:
            head["sections"][kind].append(list(head["sections"][kind][0]))

        yield tweaked(f"section {kind} chunk listed twice", twice)

        def many(head: dict[str, Any], body: bytearray, kind: str = kind) -> None:
            head["sections"][kind] = [list(head["sections"][kind][0])] * 200_000

        yield tweaked(f"section {kind} chunk listed 200,000 times", many)

        def flipped(head: dict[str, Any], body: bytearray, kind: str = kind) -> None:
            offset = head["sections"][kind][0][0]
            body[offset] ^= 0x01

        yield tweaked(f"section {kind} byte flipped", flipped)
        for label, content in (
            ("text", "not a list"),
            ("a map", {"a": 1}),
            ("none", None),
            ("deep", _nest(40)),
            ("list of none", [None]),
            ("list of numbers", [1, 2, 3]),
            ("huge string", ["x" * 300_000]),
        ):
            yield tweaked(
                f"section {kind} holds {label} (checksum matching)", section(kind, content)
            )
        for label, data in (
            ("nested 1,100 deep", b"\x91" * 1100 + b"\xc0"),
            ("an integer map key", b"\x81\x01\x01"),
            ("an array claiming 2^32-1 items", b"\xdd\xff\xff\xff\xff"),
            ("a string claiming 4 GiB", b"\xdb\xff\xff\xff\xf0abc"),
            ("an ext type", b"\xd4\x01\x00"),
            ("garbage", bytes(range(256))),
            ("two values", b"\x90\x90"),
        ):
            yield tweaked(
                f"section {kind} holds {label} (checksum matching)", section(kind, None, raw=data)
            )

    def swap(head: dict[str, Any], body: bytearray) -> None:
        head["sections"]["variables"][0] = list(head["sections"]["groups"][0][:3])

    yield tweaked("variables chunk points at the groups chunk", swap)

    def swap_back(head: dict[str, Any], body: bytearray) -> None:
        head["sections"]["groups"][0][:3] = head["sections"]["variables"][0]

    yield tweaked("groups chunk points at the variables chunk", swap_back)

    def overlap(head: dict[str, Any], body: bytearray) -> None:
        offset, length, _ = head["sections"]["groups"][0][:3]
        data = bytes(body[offset + 1 : offset + length])
        head["sections"]["names"].append([offset + 1, len(data), blake3.blake3(data).digest()])

    yield tweaked("a names chunk overlapping the groups chunk", overlap)

    def tail_chunk(head: dict[str, Any], body: bytearray) -> None:
        data = msgpack.packb([])
        head["sections"]["names"].append([len(body), len(data), blake3.blake3(data).digest()])
        body.extend(data)

    yield tweaked("an extra empty name bucket", tail_chunk)

    def gap(head: dict[str, Any], body: bytearray) -> None:
        body.extend(b"\x00" * 64)  # bytes no section covers

    yield tweaked("bytes no section covers", gap, "ok")

    for label, start in (("1", 1), ("-1", -1), ("true", True), ("0.0", 0.0), ("none", None)):
        yield tweaked(f"groups chunk starts at {label}", table("groups", 3, start))

    # group starts out of order over two chunks
    def two_chunks(head: dict[str, Any], body: bytearray) -> None:
        head["sections"]["groups"].append(list(head["sections"]["groups"][0]))
        head["sections"]["groups"][1][3] = 0

    yield tweaked("two groups chunks both starting at group 0", two_chunks)

    # name buckets: entries naming missing variables or groups, wrong shapes
    for label, change in (
        ("a name that is no variable", lambda f: f.extend(("ghost", 0, 0))),
        ("the chosen name twice", lambda f: f.extend((name, vi, gi))),
        ("a position past the last variable", lambda f: f.extend(("ghost", 10**6, 0))),
        ("a group past the last group", lambda f: f.extend(("ghost", 0, 10**6))),
        ("a negative position", lambda f: f.extend(("ghost", -1, 0))),
        ("a negative group", lambda f: f.extend(("ghost", 0, -1))),
        ("a float position", lambda f: f.extend(("ghost", 0.0, 0))),
        ("a nan group", lambda f: f.extend(("ghost", 0, math.nan))),
        ("a bool group", lambda f: f.extend(("ghost", 0, True))),
        ("a name that is bytes", lambda f: f.extend((b"ghost", 0, 0))),
        ("a name that is a number", lambda f: f.extend((7, 0, 0))),
        ("a dangling name", lambda f: f.append("ghost")),
        ("a list entry", lambda f: f.append([name, vi, gi])),
        ("the chosen name pointing at group 0", lambda f: f.__setitem__(f.index(name) + 2, 0)),
        ("the chosen name pointing at position 0", lambda f: f.__setitem__(f.index(name) + 1, 0)),
        (
            "the chosen name missing",
            lambda f: f.__delitem__(slice(f.index(name), f.index(name) + 3)),
        ),
        ("the chosen name renamed", lambda f: f.__setitem__(f.index(name), "ghost")),
        ("every entry removed", lambda f: f.clear()),
        ("a huge name", lambda f: f.extend(("x" * 300_000, 0, 0))),
    ):
        yield tweaked(f"name bucket with {label}", edit_bucket(change))

    # the head: absurd summary and structure
    for key in ("variables", "groups", "memory", "stored"):
        for label, value in (
            ("2^62", 2**62),
            ("-1", -1),
            ("nan", math.nan),
            ("1.5", 1.5),
            ("text", "1"),
            ("none", None),
            ("one more", "more"),
        ):

            def summary(head: dict[str, Any], body: bytearray, key: str = key, v: Any = value):
                s = head["summary"]
                s[key] = s[key] + 1 if v == "more" else v

            yield tweaked(f"summary {key}={label}", summary)

        def no_key(head: dict[str, Any], body: bytearray, key: str = key) -> None:
            del head["summary"][key]

        yield tweaked(f"summary without {key}", no_key)
    for label, change in (
        ("no summary", lambda h: h.pop("summary")),
        ("summary a list", lambda h: h.__setitem__("summary", [1, 2, 3, 4])),
        ("no section table", lambda h: h.pop("sections")),
        ("section table a list", lambda h: h.__setitem__("sections", [[0, 1, b"x" * 32]])),
        ("section table of text", lambda h: h.__setitem__("sections", "everything")),
        ("groups in the head", lambda h: h.__setitem__("groups", [])),
        ("variables in the head", lambda h: h.__setitem__("variables", [])),
        ("a signature in the head", lambda h: h.__setitem__("signature", None)),
        ("a format in the head", lambda h: h.__setitem__("format", "other")),
        ("a schema in the head", lambda h: h.__setitem__("schema", [9, 9])),
        ("a newer section kind", lambda h: h["sections"].__setitem__("zz", [])),
    ):
        expect = "ok" if label == "a newer section kind" else "damaged"
        yield tweaked(f"head with {label}", lambda h, b, change=change: change(h), expect)

    # the file around the head: not in canonical layout, or not a schema-2 file at all
    head_at = len(manifest_index._PREFIX)
    for label, cut in (
        ("truncated in the head", lambda d: d[: head_at + 10]),
        ("truncated in the body", lambda d: d[:-3]),
        ("bytes after the body", lambda d: d + b"\x00"),
        ("a head length past the end", lambda d: d[:head_at] + b"\xc6\xff\xff\xff\xf0"),
        ("only the prefix", lambda d: d[:head_at]),
    ):
        yield maker.variant(f"file {label}", keep, "damaged", post=cut)

    def outer(change: Callable[[dict[str, Any]], Any]) -> Callable[[bytes], bytes]:
        def post(data: bytes) -> bytes:
            decoded = msgpack.unpackb(data, raw=False)
            decoded = change(decoded) or decoded
            return msgpack.packb(decoded, use_bin_type=True)

        return post

    for label, change, outcome in (
        ("with an extra key", lambda o: o.__setitem__("zz", 1), "damaged"),
        ("without its body", lambda o: o.pop("body") and None, "damaged"),
        ("without its head", lambda o: o.pop("head") and None, "damaged"),
        ("head as text", lambda o: o.__setitem__("head", "text"), "damaged"),
        ("body as a list", lambda o: o.__setitem__("body", ["x"]), "damaged"),
        ("head a list", lambda o: o.__setitem__("head", msgpack.packb([1])), "damaged"),
        (
            "with a 2 KB signature key",
            lambda o: o.__setitem__(
                "signature", {"alg": "ed25519", "key": b"k" * 2000, "sig": b""}
            ),
            "damaged",
        ),
        (
            "head nested 40 deep",
            lambda o: o.__setitem__("head", msgpack.packb(_nest_map(40))),
            "damaged",
        ),
        (
            "keys in another order (still signed)",
            lambda o: dict(reversed(list(o.items()))),
            "ok",
        ),
    ):
        yield maker.variant(f"outer {label}", keep, outcome, post=outer(change))


def _setter(path: Callable[[dict[str, Any]], Any], key: str, value: Any) -> Callable:
    def mutate(raw: dict[str, Any]) -> None:
        path(raw)[key] = copy.deepcopy(value)

    return mutate


def _random(
    maker: Maker, base: dict[str, Any], rng: random.Random, count: int
) -> Iterator[Variant]:
    """``count`` mutations at random places: one value anywhere replaced by a pool value."""
    keys = sorted(POOL)
    for n in range(count):
        picks = [rng.random() for _ in range(12)]
        key = keys[int(picks[0] * len(keys))]

        def mutate(raw: dict[str, Any], picks: list[float] = picks, key: str = key) -> None:
            node: Any = raw
            for pick in picks[1:]:
                if isinstance(node, dict) and node:
                    k = sorted(node, key=str)[int(pick * len(node))]
                    if not isinstance(node[k], (dict, list)) or not node[k] or pick < 0.3:
                        node[k] = _value(key)
                        return
                    node = node[k]
                elif isinstance(node, list) and node:
                    i = int(pick * len(node))
                    if not isinstance(node[i], (dict, list)) or not node[i] or pick < 0.3:
                        node[i] = _value(key)
                        return
                    node = node[i]
                else:
                    return

        yield maker.variant(f"random {n} ={key}", mutate, None)
