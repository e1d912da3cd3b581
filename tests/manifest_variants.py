"""Absurd manifests, made deterministically from one real manifest: every field given every
value of a pool of hostile ones (wrong types, out-of-range numbers, control characters, huge
strings, deep nesting, duplicates), each validly signed with the library's own signing code.

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
from collections.abc import Callable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

import msgpack

from sessions.core.errors import SessionsError
from sessions.core.sharing import identity, signing
from sessions.core.store import ids
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


def _value(key: str) -> Any:
    value = POOL[key]
    return ids.new_id() if value is ULID else copy.deepcopy(value)


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) and ids.is_id(value) and value[0] in "01234567"


class Maker:
    """Turns a base manifest (as a dict, in ``Manifest.to_dict`` order) into variants."""

    def __init__(self, base: dict[str, Any], who: identity.Identity) -> None:
        self.base = base
        self.who = who
        self.count = 0

    def _fresh(self) -> dict[str, Any]:
        raw = copy.deepcopy(self.base)
        self.count += 1
        raw["id"] = ids.new_id()
        raw["version"] = 1000 + self.count  # a place of its own in its name's dir
        return raw

    def _signed(self, raw: dict[str, Any], resign: bool) -> bytes:
        """The file bytes: through the library's signing code (``signing.sign`` when the
        library can decode it, else the same signature over the same bytes by hand)."""
        if not resign:
            return msgpack.packb(raw, use_bin_type=True)
        try:
            manifest = Manifest.from_dict(copy.deepcopy(raw))
        except SessionsError:
            manifest = None
        if manifest is not None:
            return signing.sign(manifest, self.who).encode()
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
        placed = bool(owner) and name == raw.get("name") and file_version == raw.get("version")
        return Variant(
            label=label,
            data=data if data is not None else self._signed(raw, resign),
            expect=expect,
            id=file_id,
            version=file_version,
            label_dir=f"{owner}/{name}" if owner else name,
            owner=owner or "mallory",
            name=name,
            placed=placed,
        )


def _set(path: Callable[[dict[str, Any]], Any], key: str, value_key: str) -> Callable:
    def mutate(raw: dict[str, Any]) -> None:
        path(raw)[key] = _value(value_key)

    return mutate


def variants(base: dict[str, Any], who: identity.Identity, *, seed: int = 10) -> Iterator[Variant]:
    """Every variant of ``base`` (a real manifest with several preview kinds, an import and
    at least three groups), deterministically."""
    maker = Maker(base, who)

    def expect(valid: set[str], key: str) -> str:
        return "ok" if key in valid else "damaged"

    # the chosen variable: the last one, in a group of its own that is not the first
    vi = len(base["variables"]) - 1
    gi = base["variables"][vi]["group"]
    assert gi > 0 and base["groups"][gi]["names"] == [base["variables"][vi]["name"]]

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
        for field, valid in VARIABLE_VALID.items():
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
        for field, valid in BLOB_VALID.items():
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
    yield maker.variant("newer minor schema", _setter(lambda r: r, "schema", [1, 2**31]), "ok")
    yield maker.variant("newer major schema", _setter(lambda r: r, "schema", [2, 0]), "damaged")
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
