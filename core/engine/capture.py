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


@dataclass
class Plan:
    """What a save will write."""

    ctx: Context
    values: dict[str, Any] = field(default_factory=dict)
    imports: list[ImportRecord] = field(default_factory=list)
    groups: list[list[str]] = field(default_factory=list)
    code_deps: dict[str, set[str]] = field(default_factory=dict)


def _is_internal(name: str, value: Any) -> bool:
    if name in _IPYTHON_NAMES:
        return True
    if _IPYTHON_RE.match(name):
        return True
    module = getattr(type(value), "__module__", "") or ""
    if module.split(".")[0] in _INTERNAL_MODULES:
        return True
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, type)):
        owner = getattr(value, "__module__", "") or ""
        if type(value) is types.FunctionType:  # e.g. the wrapped `open` ipykernel injects
            owner = str(value.__globals__.get("__name__", owner))
        return owner.split(".")[0] in _INTERNAL_MODULES
    return False


def _matches(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def select_names(
    namespace: dict[str, Any],
    include: Iterable[str] | None,
    exclude: Iterable[str] | None,
    private: bool,
) -> list[str]:
    """The names a save takes, in namespace order."""
    include = [include] if isinstance(include, str) else list(include or [])
    exclude = [exclude] if isinstance(exclude, str) else list(exclude or [])
    chosen = []
    for name, value in list(namespace.items()):
        if not isinstance(name, str) or name == "__builtins__":
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
    if isinstance(value, types.ModuleType):
        module_name = getattr(value, "__name__", None)
        if module_name and sys.modules.get(module_name) is value:
            return ImportRecord(name, module_name)
        return None
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, type)):
        if ctx.is_session_object(value):
            return None
        if importable(value):
            return ImportRecord(name, value.__module__, value.__qualname__)
    return None


def _walk_ids(value: Any, ctx: Context, numpy: Any) -> set[int]:
    """Ids of the mutable objects reachable from ``value`` (bounded)."""
    seen: set[int] = set()
    stack = [value]
    budget = _WALK_BUDGET
    while stack and budget > 0:
        obj = stack.pop()
        budget -= 1
        if isinstance(obj, _ATOMS):
            continue
        key = id(obj)
        if key in seen:
            continue
        cls = type(obj)
        if cls is types.ModuleType or cls is types.BuiltinFunctionType:
            continue
        if (cls is types.FunctionType or isinstance(obj, type)) and (
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
        elif numpy is not None and isinstance(obj, numpy.ndarray):
            if obj.dtype == object and obj.size <= 1000:
                stack.extend(obj.ravel().tolist())
        elif cls is types.FunctionType:
            for cell in obj.__closure__ or ():
                with contextlib.suppress(ValueError):  # an empty cell
                    stack.append(cell.cell_contents)
            stack.extend(obj.__defaults__ or ())
        else:
            attrs = getattr(obj, "__dict__", None)
            if isinstance(attrs, dict) and not cls.__module__.startswith("pandas"):
                stack.extend(attrs.values())
    return seen


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


def _code_deps(value: Any, ctx: Context, saved: set[str], own: str) -> set[str]:
    deps: set[str] = set()
    if type(value) is types.FunctionType and value.__globals__ is ctx.ns:
        deps = code_names(value.__code__) & saved
    elif isinstance(value, type) and ctx.is_session_object(value):
        for attr in vars(value).values():
            func = attr.__func__ if isinstance(attr, (staticmethod, classmethod)) else attr
            if type(func) is types.FunctionType:
                deps |= code_names(func.__code__) & saved
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
) -> Plan:
    """Classify and group what a save takes from ``namespace``."""
    module = namespace.get("__name__")
    ctx = Context(ns=namespace, module=module if isinstance(module, str) else "__main__")
    names = select_names(namespace, include, exclude, private)
    result = Plan(ctx=ctx)
    for name in names:
        value = namespace[name]
        if (type(value) is types.FunctionType and value.__globals__ is namespace) or (
            isinstance(value, type) and (value.__module__ == ctx.module or not importable(value))
        ):
            ctx.bound.setdefault(id(value), name)
    for name in names:
        value = namespace[name]
        record = as_import(name, value, ctx)
        if record is not None:
            result.imports.append(record)
        else:
            result.values[name] = value
    # a bound name whose value turned out to be an import is not session code
    value_ids = {id(v) for v in result.values.values()}
    ctx.bound = {k: v for k, v in ctx.bound.items() if k in value_ids}
    numpy = sys.modules.get("numpy")
    union = _UnionFind(result.values)
    owner: dict[int, str] = {}
    for name, value in result.values.items():
        for key in _walk_ids(value, ctx, numpy):
            first = owner.setdefault(key, name)
            if first != name:
                union.union(first, name)
    groups: dict[str, list[str]] = {}
    for name in result.values:
        groups.setdefault(union.find(name), []).append(name)
    result.groups = list(groups.values())
    saved = set(result.values) | {record.name for record in result.imports}
    for name, value in result.values.items():
        result.code_deps[name] = _code_deps(value, ctx, saved, name)
    return result
