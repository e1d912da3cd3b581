"""What a decoded manifest must be before anything reads it (DESIGN invariants 4, 7 and 8).

A manifest may come from a teammate's remote, a bundle, another build or a damaged disk, and
a valid signature only says who wrote it, not that it is sane. So every manifest is checked
here, whole, right after msgpack decoding and before any field is used: types, ranges,
sizes, nesting depth and the links between variables and groups. One that fails is
*damaged* — listed as such with a one-line reason by ``ls``, ``show``, ``verify``, the
daemon and the UI, refused by ``gc``, ``pull`` and ``import`` — and never half-used.

The rules (what readers of :class:`~sessions.core.store.manifest.Manifest` may assume):

- identity: ``id`` (and ``parent``/``source`` when set) are snapshot ids; ``name`` is a
  valid snapshot name; ``owner`` is empty or a valid owner name; ``version`` is 1 to
  :data:`MAX_COUNT`; ``created`` is a finite time between 1970 and the year 3000; ``pid``
  fits 32 bits.
- text: serializers and codecs are 1 to :data:`MAX_LINE` characters without control
  characters; paths (cwd, interpreter, origin) have no NUL; variable and import names are
  not empty. Everything else that is text (user, host, types, package and module names and
  versions, notes, tags, history, reasons, previews) may hold any characters, since it
  comes from the user's own values and environment: readers escape control characters
  wherever they show it, and msgpack's limits bound its length.
- sizes (``memory``, ``stored``, blob ``size``/``stored``) are 0 to :data:`MAX_COUNT`, and
  so are their sums over the manifest.
- variables: names unique; each names an existing group that lists it; no name is listed
  by two groups; blob hashes are 64 lowercase hex digits.
- previews: maps of at most :data:`MAX_PREVIEW_TEXT` chars of text in all, nested at most
  :data:`MAX_PREVIEW_DEPTH` deep, and the keys renderers use have their documented types
  (sessions.core.engine.preview); other keys are kept as they are.
- everything else, keys a newer minor adds included, nests at most :data:`MAX_DEPTH` deep
  and has text map keys only.

The limits are far beyond what this code writes (a preview is at most 16 KiB when saved),
so a manifest written by any version of sessions-tui passes.
"""

from __future__ import annotations

import math
import re
from typing import Any

from sessions.core.errors import FormatError

MAX_COUNT = 2**53 - 1  # versions and byte counts: exact in floats, JSON and SQLite
MAX_CREATED = 32_503_680_000.0  # 3000-01-01 UTC
MAX_PID = 2**32 - 1
MAX_LINE = 1_000
MAX_DEPTH = 16
MAX_PREVIEW_DEPTH = 8
MAX_PREVIEW_TEXT = 256 * 1024

_ID_RE = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")
_HASH_RE = re.compile(r"^[0-9a-f]{64}$")
_OWNER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_NAME_BAD = re.compile(r"[/\\@\x00-\x1f\x7f]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

# preview keys the CLI and the UI read, with the type each must have
_PREVIEW_TEXT = frozenset(("kind", "repr", "dtype", "name", "signature", "source", "doc", "error"))
_PREVIEW_LISTS = frozenset(
    ("head", "items", "columns", "dtypes", "index", "bases", "methods", "shape", "rows")
)
_PREVIEW_NUMBERS = frozenset(("min", "max", "mean"))
_PREVIEW_OTHER = _PREVIEW_LISTS | _PREVIEW_NUMBERS | {"len", "attributes"}
_TEXT = {str}
_HEX = "0123456789abcdef"
_SERIALIZERS = frozenset(("pickle", "dill"))  # fast path; other one-line names pass too
_CODECS = frozenset(("raw", "zstd"))


class _Bad(Exception):
    """One rule broken: the field's path and why."""


def check_manifest(raw: dict[str, Any]) -> None:
    """Raise FormatError naming the first field of ``raw`` (a decoded manifest map whose
    format and schema major were already checked) that breaks the rules above."""
    try:
        _check(raw)
    except _Bad as exc:
        raise FormatError(f"manifest is malformed: {exc}") from None


def _check(raw: dict[str, Any]) -> None:
    _keys(raw, "manifest")
    _ulid(raw.get("id"), "id")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise _Bad("'name' should be a snapshot name of 1 to 200 characters")
    if _NAME_BAD.search(name) or name.startswith("."):
        raise _Bad("'name' has '/', '\\', '@', a control character or a leading '.'")
    _count(raw.get("version"), "version", low=1)
    created = raw.get("created")
    if (
        not isinstance(created, (int, float))
        or isinstance(created, bool)
        or not math.isfinite(created)
        or not 0 <= created <= MAX_CREATED
    ):
        raise _Bad("'created' should be a time between 1970 and the year 3000")
    for key in ("parent", "source"):
        if raw.get(key) is not None:
            _ulid(raw[key], key)
    owner = raw.get("owner", "")
    if not isinstance(owner, str) or (owner and not _OWNER_RE.match(owner)):
        raise _Bad("'owner' should be empty or letters, digits, '.', '_' or '-' (at most 64)")
    for key in ("user", "host", "module", "note"):
        _text(raw.get(key, ""), key)
    _path(raw.get("cwd", ""), "cwd")
    pid = raw.get("pid", 0)
    if not _is_int(pid) or not 0 <= pid <= MAX_PID:
        raise _Bad("'pid' should be a process id")
    for key in ("tags", "history"):
        if not _all_text(_list(raw.get(key, []), key)):
            raise _Bad(f"'{key}' should be a list of text")
    for key, check in (("python", _path), ("origin", _path), ("packages", _text)):
        for k, v in _map(raw.get(key, {}), key).items():
            if v is not None:  # None values are dropped (written by early versions)
                check(v, f"{key}[{k!r}]")
    for key in ("skipped", "secrets"):
        for k, v in _map(raw.get(key, {}), key).items():
            _variable_name(k, f"{key} key")
            _text(v, f"{key}[{k!r}]")
    for i, record in enumerate(_list(raw.get("imports", []), "imports")):
        where = f"imports[{i}]"
        record = _map(record, where)
        _variable_name(record.get("name"), f"{where}.name")
        _variable_name(record.get("module"), f"{where}.module")
        if record.get("attr") is not None:
            _text(record["attr"], f"{where}.attr")
    _signature(raw.get("signature"))
    groups = _list(raw.get("groups", []), "groups")
    variables = _list(raw.get("variables", []), "variables")
    _contents(groups, variables)
    known = _KNOWN
    for key, value in raw.items():
        if key not in known:
            _plain(value, key, MAX_DEPTH)


_KNOWN = frozenset(
    {
        "format", "schema", "id", "name", "version", "created", "parent", "user", "host",
        "pid", "python", "cwd", "origin", "packages", "note", "tags", "module", "groups",
        "variables", "skipped", "imports", "history", "owner", "source", "secrets",
        "signature",
    }
)  # fmt: skip


def _contents(groups: list[Any], variables: list[Any]) -> None:
    """Groups, variables, their blobs and previews, and how they point at each other.

    Written for speed (every ``ls`` checks every manifest): exact type tests (msgpack makes
    no subclasses) and messages built only when a rule is broken."""
    listed: dict[str, int] = {}
    total = 0
    for i, group in enumerate(groups):
        if type(group) is not dict:
            raise _Bad(f"'groups[{i}]' should be a map")
        serializer = group.get("serializer")
        if type(serializer) is not str or serializer not in _SERIALIZERS:
            _line(serializer, f"groups[{i}].serializer", empty=False)
        names = group.get("names", [])
        if type(names) is not list or not _all_text(names):
            raise _Bad(f"'groups[{i}].names' should be a list of names")
        for name in names:
            if not name:
                _variable_name(name, f"groups[{i}].names")
            if name in listed:
                raise _Bad(f"variable {name!r} is listed by two groups")
            listed[name] = i
        buffers = group.get("buffers", [])
        if type(buffers) is not list:
            raise _Bad(f"'groups[{i}].buffers' should be a list")
        for j, blob in enumerate((group.get("stream"), *buffers)):
            stored = _blob_stored(blob)
            if stored is None:
                where = f"groups[{i}].stream" if j == 0 else f"groups[{i}].buffers[{j - 1}]"
                stored = _blob(blob, where)
            total += stored
    memory = 0
    seen: set[str] = set()
    ngroups = len(groups)
    for i, var in enumerate(variables):
        if type(var) is not dict or not _text_keys(var):
            raise _Bad(f"'variables[{i}]' should be a map with text keys")
        name = var.get("name")
        if type(name) is not str or not name:
            _variable_name(name, f"variables[{i}].name")
        if name in seen:
            raise _Bad(f"variable {name!r} appears twice")
        seen.add(name)
        if type(var.get("type")) is not str:
            raise _Bad(f"variable {name!r}: 'type' should be text")
        size, stored = var.get("memory", 0), var.get("stored", 0)
        if type(size) is not int or type(stored) is not int or size < 0 or stored < 0:
            _count(size, f"variable {name!r}: memory")
            _count(stored, f"variable {name!r}: stored")
        memory += size
        total += stored
        group = var.get("group")
        if type(group) is not int or not 0 <= group < ngroups:
            raise _Bad(f"variable {name!r}: group {group!r} does not exist")
        if listed.get(name) != group:
            raise _Bad(f"variable {name!r} is not listed by its group {group}")
        if "preview" in var:
            _preview(var["preview"], name)
        deps = var.get("deps", [])
        if type(deps) is not list or not _all_text(deps):
            raise _Bad(f"variable {name!r}: 'deps' should be a list of names")
        modules = var.get("modules", {})
        if type(modules) is not dict or not all(
            type(k) is str and type(v) is str for k, v in modules.items()
        ):
            raise _Bad(f"variable {name!r}: 'modules' should map names to versions")
        data = var.get("data")
        if data is not None:
            data = _map(data, f"variable {name!r}: data")
            _plain(data, f"variable {name!r}: data", 4)
            if "blob" in data:
                total += _blob(data["blob"], f"variable {name!r}: data blob")
    if memory > MAX_COUNT or total > MAX_COUNT:
        raise _Bad("the sizes it records add up to more than any disk holds")


def _preview(preview: Any, name: str) -> None:
    """One variable's preview: known keys typed, everything bounded (module doc)."""
    if type(preview) is not dict or not _text_keys(preview):
        raise _Bad(f"variable {name!r}: 'preview' should be a map with text keys")
    size = 0
    for key, value in preview.items():
        kind = type(value)
        if kind is str and key not in _PREVIEW_OTHER:
            size += len(value)
            continue
        if key in _PREVIEW_TEXT:
            raise _Bad(f"variable {name!r}: preview '{key}' should be text")
        if kind is list and key in _PREVIEW_LISTS:
            if key == "shape":
                ok = all(type(n) is int and n >= 0 for n in value)
            elif key == "rows":
                ok = all(type(row) is list and _all_text(row) for row in value)
                size += sum(len(c) for row in value for c in row) if ok else 0
            else:
                ok = _all_text(value)
                size += sum(map(len, value)) if ok else 0
            if not ok:
                raise _Bad(f"variable {name!r}: preview '{key}' has the wrong type")
        elif key in _PREVIEW_LISTS:
            raise _Bad(f"variable {name!r}: preview '{key}' should be a list")
        elif key in _PREVIEW_NUMBERS:
            if value is not None and kind is not int and kind is not float:
                raise _Bad(f"variable {name!r}: preview '{key}' should be a number")
        elif key == "len":
            if kind is not int or value < 0:
                raise _Bad(f"variable {name!r}: preview 'len' should be a size")
        elif key == "attributes":
            if kind is not dict or not all(
                type(k) is str and type(v) is str for k, v in value.items()
            ):
                raise _Bad(f"variable {name!r}: preview 'attributes' should map names to text")
            size += sum(len(k) + len(v) for k, v in value.items())
        else:  # a key this version does not read: only bounded
            size += _plain(value, f"variable {name!r}: preview", MAX_PREVIEW_DEPTH - 1)
    if size > MAX_PREVIEW_TEXT:
        raise _Bad(f"variable {name!r}: preview is over {MAX_PREVIEW_TEXT // 1024} KiB")


# --- single values ------------------------------------------------------------------------
def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _count(value: Any, where: str, *, low: int = 0) -> int:
    if not _is_int(value) or not low <= value <= MAX_COUNT:
        raise _Bad(f"'{where}' should be a whole number from {low} to {MAX_COUNT}")
    return int(value)


def _ulid(value: Any, where: str) -> None:
    if not isinstance(value, str) or not _ID_RE.match(value):
        raise _Bad(f"'{where}' should be a snapshot id")


def _is_line(value: str) -> bool:
    return 0 < len(value) <= MAX_LINE and not _CONTROL.search(value)


def _line(value: Any, where: str, *, empty: bool = True) -> None:
    if not isinstance(value, str):
        raise _Bad(f"'{where}' should be text")
    if len(value) > MAX_LINE or (not empty and not value):
        raise _Bad(f"'{where}' should be 1 to {MAX_LINE} characters")
    if _CONTROL.search(value):
        raise _Bad(f"'{where}' has a control character")


def _path(value: Any, where: str) -> None:
    if not isinstance(value, str) or "\x00" in value:
        raise _Bad(f"'{where}' should be a path (text without NUL)")


def _variable_name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise _Bad(f"'{where}' should be a name (text, not empty)")
    return value


def _text(value: Any, where: str) -> None:
    if not isinstance(value, str):
        raise _Bad(f"'{where}' should be text")


def _all_text(values: list[Any]) -> bool:
    return set(map(type, values)) <= _TEXT


def _text_keys(value: dict[Any, Any]) -> bool:
    return set(map(type, value)) <= _TEXT


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise _Bad(f"'{where}' should be a list")
    return value


def _map(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Bad(f"'{where}' should be a map")
    _keys(value, where)
    return value


def _keys(value: dict[Any, Any], where: str) -> None:
    if not _text_keys(value):
        raise _Bad(f"'{where}' has a key that is not text")


def _blob_stored(raw: Any) -> int | None:
    """A valid blob reference's stored size, else None (fast: one per blob of a manifest)."""
    if type(raw) is not dict:
        return None
    digest, size, stored = raw.get("hash"), raw.get("size"), raw.get("stored")
    codec = raw.get("codec", "raw")
    if (
        type(digest) is str
        and len(digest) == 64
        and not digest.strip(_HEX)
        and type(size) is int
        and 0 <= size <= MAX_COUNT
        and type(stored) is int
        and 0 <= stored <= MAX_COUNT
        and type(codec) is str
        and (codec in _CODECS or _is_line(codec))
    ):
        return stored
    return None


def _blob(raw: Any, where: str) -> int:
    """Check a blob reference, saying what is wrong with it; its stored size."""
    if type(raw) is not dict:
        raise _Bad(f"'{where}' should be a map")
    if not isinstance(raw.get("hash"), str) or not _HASH_RE.match(raw["hash"]):
        raise _Bad(f"'{where}' hash should be 64 lowercase hex digits")
    _count(raw.get("size"), f"{where}.size")
    _line(raw.get("codec", "raw"), f"{where}.codec", empty=False)
    return _count(raw.get("stored"), f"{where}.stored")


def _signature(raw: Any) -> None:
    if raw is None:
        return
    if (
        not isinstance(raw, dict)
        or set(raw) != {"alg", "key", "sig"}
        or not isinstance(raw["alg"], str)
        or len(raw["alg"]) > 64
        or not isinstance(raw["key"], bytes)
        or not isinstance(raw["sig"], bytes)
        or len(raw["key"]) > 1024
        or len(raw["sig"]) > 1024
    ):
        raise _Bad("'signature' should be a map of alg, key and sig")


def _plain(value: Any, where: str, depth: int) -> int:
    """Check that ``value`` nests at most ``depth`` deep with text keys; its text size."""
    if isinstance(value, (str, bytes)):
        return len(value)
    if isinstance(value, (list, tuple)):
        if depth <= 0:
            raise _Bad(f"'{where}' nests too deeply")
        return sum(_plain(v, where, depth - 1) for v in value) + len(value)
    if isinstance(value, dict):
        if depth <= 0:
            raise _Bad(f"'{where}' nests too deeply")
        _keys(value, where)
        return sum(len(k) + _plain(v, where, depth - 1) for k, v in value.items()) + len(value)
    return 8
