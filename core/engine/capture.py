"""Deciding what a save takes from a namespace, and how to group it.

- Names: IPython/ipykernel internals are never taken; names starting with ``_`` only when
  asked (``private=True`` or an include pattern that names them); then the user's
  include/exclude glob patterns.
- Modules and importable functions/classes become import records: restored by import.
- The rest are values. Values that share mutable objects are grouped so that one pickler
  sees them all and they come back sharing. Sharing is found by a bounded walk of each
  value's containers; beyond the bound, sharing is not detected (values still save).
- Dependencies: session-defined names a value needs (by-name references made while
  pickling, global names its functions use, its class).
"""

from __future__ import annotations

import contextlib
import dis
import fnmatch
import re
import sys
import types
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sessions.core.engine.serialize import Context, importable
from sessions.core.store.manifest import ImportRecord

_IPYTHON_NAMES = frozenset(
    {"In", "Out", "_", "__", "___", "_i", "_ii", "_iii", "_oh", "_ih", "_dh", "_sh"}
    | {"exit", "quit", "get_ipython"}
)
_IPYTHON_RE = re.compile(r"^_(i\d*|ii|iii|\d+)$")
_INTERNAL_MODULES = ("IPython", "ipykernel", "zmq", "jupyter_client")
_WALK_BUDGET = 20_000
_ATOMS = (str, bytes, int, float, complex, bool, type(None), range)
_PLAIN = frozenset(_ATOMS)
# a list, set, tuple or frozenset of at most _FLAT_ITEMS atoms holds no object to share but
# itself (and a tuple or frozenset not even that): no walk needed
_FLAT = frozenset({list, tuple, set, frozenset})
_FLAT_ITEMS = 64
_BUILTIN_CONTAINERS = frozenset({list, tuple, set, frozenset, dict})
_DATA = _PLAIN | _BUILTIN_CONTAINERS  # builtin data: never code, an import or IPython's own


@dataclass
class Plan:
    """What a save will write."""

    ctx: Context
    values: dict[str, Any] = field(default_factory=dict)
    imports: list[ImportRecord] = field(default_factory=list)
    groups: list[list[str]] = field(default_factory=list)
    code_deps: dict[str, set[str]] = field(default_factory=dict)


def _is(value: Any, kinds: type | tuple[type, ...]) -> bool:
    """``isinstance`` by the value's real type: a weak proxy answers ``isinstance`` for its
    referent, and raises ReferenceError once that is gone."""
    return issubclass(type(value), kinds)


def is_ipython_name(name: str) -> bool:
    """A name IPython keeps in the user namespace for itself (``In``, ``_3``, ``_i``…)."""
    return name in _IPYTHON_NAMES or _IPYTHON_RE.match(name) is not None


def _is_internal(name: str, value: Any) -> bool:
    if name in _IPYTHON_NAMES:
        return True
    if _IPYTHON_RE.match(name):
        return True
    module = getattr(type(value), "__module__", "") or ""
    if module.split(".")[0] in _INTERNAL_MODULES:
        return True
    if _is(value, (types.FunctionType, types.BuiltinFunctionType, type)):
        owner = getattr(value, "__module__", "") or ""
        if type(value) is types.FunctionType:  # e.g. the wrapped `open` ipykernel injects
            owner = str(value.__globals__.get("__name__", owner))
        return owner.split(".")[0] in _INTERNAL_MODULES
    return False


def _matches(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def _patterns(patterns: Iterable[str] | str | None) -> list[str]:
    return [patterns] if isinstance(patterns, str) else list(patterns or [])


def select_names(
    namespace: dict[str, Any],
    include: Iterable[str] | str | None,
    exclude: Iterable[str] | str | None,
    private: bool,
) -> list[str]:
    """The names a save takes, in namespace order."""
    include = _patterns(include)
    exclude = _patterns(exclude)
    chosen = []
    for name, value in list(namespace.items()):
        if type(name) is not str:
            if not isinstance(name, str):
                continue
        elif not include and not exclude and type(value) in _DATA and name[:1] != "_":
            # the common case, answered first: a public name holding builtin data is never
            # IPython's own (its private names start with "_"; the others hold code)
            if name not in _IPYTHON_NAMES:
                chosen.append(name)
            continue
        if name == "__builtins__":
            continue
        if _is_internal(name, value):
            continue
        explicitly = bool(include) and _matches(name, include)
        if name.startswith("_") and not (private or explicitly):
            continue
        if include and not explicitly:
            continue
        if exclude and _matches(name, exclude):
            continue
        chosen.append(name)
    return chosen


def as_import(name: str, value: Any, ctx: Context) -> ImportRecord | None:
    """An import record when ``value`` is a module or an importable function/class."""
    if _is(value, types.ModuleType):
        module_name = getattr(value, "__name__", None)
        if module_name and sys.modules.get(module_name) is value:
            return ImportRecord(name, module_name)
        return None
    if _is(value, (types.FunctionType, types.BuiltinFunctionType, type)):
        if ctx.is_session_object(value):
            return None
        if importable(value):
            return ImportRecord(name, value.__module__, value.__qualname__)
    return None


class _Walked:
    """What the walks of earlier values found: which value first reached each object, and
    which walks ran out of budget (below their objects, not everything was seen)."""

    def __init__(self) -> None:
        self.owner: dict[int, str] = {}
        self.cut: set[str] = set()

    def explored(self, key: int) -> bool:
        first = self.owner.get(key)
        return first is not None and first not in self.cut


def _walk_ids(
    value: Any,
    ctx: Context,
    numpy: Any,
    reads: set[str],
    walked: _Walked | None = None,
    name: str = "",
) -> set[int]:
    """Ids of the mutable objects reachable from ``value`` (bounded). Adds to ``reads`` the
    global names read by session code found on the way (functions and classes not bound to
    a saved name, which are pickled by value with it). Below an object an earlier complete
    walk explored (``walked``), the walk does not go again: the ids it would find are that
    walk's, so sharing it is already known (an axes variable does not walk its figure again
    for each of its sibling axes)."""
    seen: set[int] = set()
    torch = sys.modules.get("torch")
    stack = [value]
    budget = _WALK_BUDGET
    while stack and budget > 0:
        obj = stack.pop()
        budget -= 1
        cls = type(obj)  # by type: a weak proxy answers isinstance for its referent
        if cls in _PLAIN or issubclass(cls, _ATOMS):
            continue
        key = id(obj)
        if key in seen:
            continue
        if cls is types.ModuleType or cls is types.BuiltinFunctionType:
            continue
        if walked is not None and walked.explored(key):
            seen.add(key)
            continue
        if (cls is types.FunctionType or issubclass(cls, type)) and (
            key in ctx.bound or not ctx.is_session_object(obj)
        ):
            continue  # pickled by name or by import: identity survives without grouping
        if cls is tuple or cls is frozenset:
            stack.extend(obj)
            continue
        seen.add(key)
        if cls is list or cls is set:
            stack.extend(obj)
        elif cls is dict:
            stack.extend(obj.values())
            if len(obj) <= _WALK_BUDGET:
                stack.extend(obj)  # keys: objects and weak references can be keys too
        elif numpy is not None and issubclass(cls, numpy.ndarray):
            if obj.dtype == object and obj.size <= 1000:
                stack.extend(obj.ravel().tolist())
        elif torch is not None and issubclass(cls, torch.Tensor):
            # views of one storage are grouped so they share it again after loading
            with contextlib.suppress(Exception):  # sparse and meta tensors have no storage
                seen.add(obj.untyped_storage()._cdata)
        elif cls is types.FunctionType:
            if obj.__globals__ is ctx.ns:
                reads |= code_names(obj.__code__)
            for cell in obj.__closure__ or ():
                with contextlib.suppress(ValueError):  # an empty cell
                    stack.append(cell.cell_contents)
            stack.extend(obj.__defaults__ or ())
        elif issubclass(cls, type):  # a session class bound to no saved name
            reads |= class_code_names(obj)
        elif issubclass(cls, weakref.ref):  # its referent comes in the same group, or it dies
            stack.append(obj())
        elif issubclass(cls, weakref.ProxyTypes):
            referent = _proxy_referent(obj)
            if referent is not None:
                seen.add(referent)
        else:
            if ctx.is_session_object(cls) and id(cls) not in ctx.bound:
                stack.append(cls)
            attrs = getattr(obj, "__dict__", None)
            if isinstance(attrs, dict) and not cls.__module__.startswith("pandas"):
                stack.extend(attrs.values())
    if stack and walked is not None:
        walked.cut.add(name)
    return seen


_PROXY_TO = re.compile(r" to .* at (0x[0-9a-f]+)>$")


def _proxy_referent(proxy: Any) -> int | None:
    """The id of a live weak proxy's referent (CPython's repr shows its address); asking the
    proxy itself would answer for the referent, or raise once it is gone."""
    found = _PROXY_TO.search(repr(proxy))
    return int(found.group(1), 16) if found else None


_GLOBAL_OPS = frozenset(
    {"LOAD_GLOBAL", "LOAD_NAME", "STORE_GLOBAL", "DELETE_GLOBAL", "LOAD_FROM_DICT_OR_GLOBALS"}
)


def code_names(code: types.CodeType) -> set[str]:
    """Global names a code object (and the code nested in it) reads or writes; attribute
    names, which share ``co_names``, are left out."""
    names = {str(ins.argval) for ins in dis.get_instructions(code) if ins.opname in _GLOBAL_OPS}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= code_names(const)
    return names


def class_code_names(cls: type) -> set[str]:
    """Global names the methods (plain, static, class, property) of ``cls`` read or write."""
    names: set[str] = set()
    for attr in vars(cls).values():
        if isinstance(attr, (staticmethod, classmethod)):
            funcs: tuple[Any, ...] = (attr.__func__,)
        elif isinstance(attr, property):
            funcs = (attr.fget, attr.fset, attr.fdel)
        else:
            funcs = (attr,)
        for func in funcs:
            if type(func) is types.FunctionType:
                names |= code_names(func.__code__)
    return names


def _direct_reads(value: Any, namespace: dict[str, Any], module: str) -> set[str]:
    """Global names read by ``value`` when it is a function or class of the session."""
    if type(value) is types.FunctionType and value.__globals__ is namespace:
        return code_names(value.__code__)
    if _is(value, type) and value.__module__ == module:
        return class_code_names(value)
    return set()


def _is_dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def _brought_along(
    namespace: dict[str, Any], chosen: set[str], reads: Iterable[str], exclude: list[str]
) -> list[str]:
    """Private names (``_helper``, ``_CACHE``) that saved code reads and the selection left
    out: they come with it. Dunders (``__file__``, ``__name__``, ``__builtins__``...) never
    do — they describe the saving process, and loading must not overwrite the loader's."""
    out = []
    for name in reads:
        if name in chosen or name not in namespace or not name.startswith("_"):
            continue
        if _is_dunder(name) or _is_internal(name, namespace[name]):
            continue
        if exclude and _matches(name, exclude):
            continue
        out.append(name)
    return out


def _code_deps(value: Any, ctx: Context, saved: set[str], own: str) -> set[str]:
    deps: set[str] = set()
    if type(value) is types.FunctionType and value.__globals__ is ctx.ns:
        deps = code_names(value.__code__) & saved
    elif _is(value, type) and ctx.is_session_object(value):
        deps = class_code_names(value) & saved
        for base in value.__mro__[1:]:
            name = ctx.bound.get(id(base))
            if name:
                deps.add(name)
    else:
        name = ctx.bound.get(id(type(value)))
        if name:
            deps.add(name)
    deps.discard(own)
    return deps


def _is_session_code(value: Any, ctx: Context) -> bool:
    return (type(value) is types.FunctionType and value.__globals__ is ctx.ns) or (
        _is(value, type) and (value.__module__ == ctx.module or not importable(value))
    )


def _classify(names: list[str], namespace: dict[str, Any], ctx: Context, result: Plan) -> None:
    """Sort ``names`` into imports and values; bind session code to its name."""
    values = result.values
    others = []
    for name in names:
        value = values[name] = namespace[name]  # in namespace order; imports leave below
        if type(value) in _DATA:  # neither code nor an import: the common case, first
            continue
        others.append(name)
        if _is_session_code(value, ctx):
            ctx.bound.setdefault(id(value), name)
    for name in others:
        value = namespace[name]
        record = as_import(name, value, ctx)
        if record is not None:
            del values[name]
            result.imports.append(record)
            # a bound name whose value turned out to be an import is not session code
            if ctx.bound.get(id(value)) == name:
                del ctx.bound[id(value)]


class _UnionFind:
    def __init__(self, names: Iterable[str]) -> None:
        self.parent = {n: n for n in names}

    def find(self, name: str) -> str:
        while self.parent[name] != name:
            self.parent[name] = self.parent[self.parent[name]]
            name = self.parent[name]
        return name

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


def plan(
    namespace: dict[str, Any],
    *,
    include: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
    private: bool = False,
    values: dict[str, Any] | None = None,
    refer: bool = False,
) -> Plan:
    """Classify and group what a save takes from ``namespace``.

    ``values`` saves those values instead of the namespace's variables, with ``namespace``
    still the session whose code they refer to (a cached result). With ``refer``, session
    functions and classes of ``namespace`` that are not saved are pickled by name, to be
    found in the namespace a load goes into (an instance comes back as an instance of the
    live class); nothing is brought along for saved code to read."""
    module = namespace.get("__name__")
    ctx = Context(ns=namespace, module=module if isinstance(module, str) else "__main__")
    excluded = _patterns(exclude)
    source = namespace if values is None else values
    names = select_names(namespace, include, excluded, private) if values is None else list(values)
    chosen = set(names)
    todo = [] if refer else list(names)
    while todo:  # private helpers that saved code reads, and the helpers those read
        reads: set[str] = set()
        for name in todo:
            value = namespace[name]
            if type(value) is types.FunctionType or issubclass(type(value), type):
                reads |= _direct_reads(value, namespace, ctx.module)
        todo = _brought_along(namespace, chosen, reads, excluded)
        chosen.update(todo)
    result = Plan(ctx=ctx)
    numpy = sys.modules.get("numpy")
    walked = _Walked()
    owner = walked.owner
    union = _UnionFind([])
    batch = list(values) if values is not None else [n for n in namespace if n in chosen]
    if refer:
        _classify(batch, source, ctx, Plan(ctx=ctx))  # the saved names are bound first
        for name, value in list(namespace.items()):
            if isinstance(name, str) and _is_session_code(value, ctx):
                ctx.bound.setdefault(id(value), name)
    taken = result.values
    parent = union.parent
    while batch:  # more private names may turn up in code found inside values
        _classify(batch, source, ctx, result)
        reads = set()
        for name in batch:
            if name not in taken:
                continue
            parent[name] = name
            value = taken[name]
            cls = type(value)
            if cls in _PLAIN:
                continue  # no mutable object, no code: nothing to share or to read
            if cls in _FLAT and len(value) <= _FLAT_ITEMS and set(map(type, value)) <= _PLAIN:
                found: Iterable[int] = (id(value),) if cls is list or cls is set else ()
            else:
                found = _walk_ids(value, ctx, numpy, reads, walked, name)
            for key in found:
                first = owner.setdefault(key, name)
                if first != name:
                    union.union(first, name)
        batch = [] if refer else _brought_along(namespace, chosen, reads, excluded)
        chosen.update(batch)
    groups: dict[str, list[str]] = {}
    for name in taken:
        root = parent[name]
        if root != name:
            root = union.find(name)
        found_group = groups.get(root)
        if found_group is None:
            groups[root] = [name]
        else:
            found_group.append(name)
    result.groups = list(groups.values())
    saved = set(taken) | {record.name for record in result.imports}
    for name, value in taken.items():
        # a value of a builtin type needs no one: its class is no session code
        if type(value) not in _PLAIN and type(value) not in _BUILTIN_CONTAINERS:
            result.code_deps[name] = _code_deps(value, ctx, saved, name)
    return result
