"""Deep, stable fingerprints of Python values: is the variable loaded in another process the
same as the one that was saved?

A fingerprint is a digest of a structural walk, so it must never call two different things
equal (that would hide a round-trip bug) nor two equal things different (that would accuse a
tool falsely). What the walk looks at:

- Atoms (None, bool, int, float, complex, str, bytes) by type and exact value (floats by
  ``repr``, so ``-0.0`` and ``nan`` are themselves).
- Mutable objects are identity-tracked: the second time the walk meets one it records a
  back-reference to the first visit, so cycles terminate and sharing (``kids[1] is c``) is
  part of the fingerprint.
- Containers by content: lists, tuples and dicts in order (order is what a user sees); sets
  by their elements' sorted digests (their order is per-process hash order).
- numpy arrays by class, dtype, shape and bytes (object arrays element by element); pandas
  frames, series, indexes and extension arrays by their labels, dtypes and values.
- Functions, classes and code defined in ``__main__`` (or nowhere importable) by value: code
  (bytecode, constants, names, flags; not file names or line numbers), defaults, closures,
  attributes, and for every global name the code reads whether it resolves. Functions and
  classes importable from a module other than ``__main__`` by their qualified name.
- Every other object by what pickling it takes: ``__reduce_ex__(4)`` (the callable by name,
  its arguments, its state with keys sorted, its list and dict items).

A few fields are per-process bookkeeping rather than state, and are left out (``IGNORED``):
matplotlib's transform back-references keyed by ``id()``, the caches its transforms fill on
first use (a ``repr`` of a figure fills some), its callback-id counter (which ``__getstate__``
advances on every call), the number pyplot gave a figure in this process, and a scikit-learn ``Bunch``'s warning table (its
``__setstate__`` drops it, so nothing can restore it). A masked array's fill value is compared as
it applies to the array (cast to its dtype, as ``filled()`` and numpy's unpickling do). A ``functools.partial`` whose
``__dict__`` was merely looked at (which creates an empty one) is the same partial. ``__slotnames__`` (a cache pickling adds to
classes) and ``_abc_impl`` (ABC caches) are left out of class bodies.

``fingerprint(value)`` returns the digest and the digests of the first levels of paths
(``model.coef_``, ``fig.axes[0]``), so that a difference can be located.
"""

from __future__ import annotations

import builtins
import dis
import functools
import hashlib
import importlib
import math
import sys
import threading
import types
import weakref
from typing import Any

ATOMS = (type(None), bool, int, float, complex, str, bytes)
PATH_DEPTH = 4
MAX_PATHS = 3000
# (qualified class name in the object's MRO, state key): per-process bookkeeping and lazily
# computed caches, not state
IGNORED = {
    ("matplotlib.transforms.TransformNode", "_parents"),  # back-references keyed by id()
    ("matplotlib.transforms.TransformNode", "_invalid"),  # cache validity
    ("matplotlib.transforms.AffineBase", "_inverted"),  # the inverse, computed on demand
    ("matplotlib.transforms.Affine2DBase", "_mtx"),  # derived matrices (not Affine2D's own)
    ("matplotlib.transforms.TransformedBbox", "_points"),  # computed from bbox and transform
    ("matplotlib.transforms.LockableBbox", "_points"),
    ("matplotlib.cbook.CallbackRegistry", "_cid_gen"),  # advanced by every __getstate__
    ("matplotlib.figure.Figure", "_number"),  # pyplot's number for it, given out per process
    # Bunch.__setstate__ discards the instance dict by design: no pickler brings it back
    ("sklearn.utils._bunch.Bunch", "_deprecated_key_to_warnings"),
}
KEPT = {("matplotlib.transforms.Affine2D", "_mtx")}  # state, where a class above caches it
_CLASS_SKIP = {"__dict__", "__weakref__", "__slotnames__", "_abc_impl"}
_GLOBAL_OPS = frozenset({"LOAD_GLOBAL", "LOAD_NAME", "STORE_GLOBAL", "DELETE_GLOBAL"})


def _h(*parts: bytes | str) -> bytes:
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        data = part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.digest()


def _qualified(obj: Any) -> str:
    return f"{getattr(obj, '__module__', None)}.{getattr(obj, '__qualname__', None)}"


def _importable(obj: Any) -> bool:
    """Whether ``obj`` is found again by importing its module (other than ``__main__``) and
    walking its qualified name."""
    module_name = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not isinstance(module_name, str) or not isinstance(qualname, str):
        return False
    if module_name == "__main__" or "<locals>" in qualname or "<lambda>" in qualname:
        return False
    module = sys.modules.get(module_name)
    if module is None:
        try:
            module = importlib.import_module(module_name)
        except Exception:
            return False
    found: Any = module
    for part in qualname.split("."):
        found = getattr(found, part, None)
        if found is None:
            return False
    return found is obj


def _global_names(code: types.CodeType) -> set[str]:
    names = {str(i.argval) for i in dis.get_instructions(code) if i.opname in _GLOBAL_OPS}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


class _Walk:
    def __init__(self, record_paths: bool = True) -> None:
        self.memo: dict[int, int] = {}
        self.keep: list[Any] = []  # keeps every visited object alive, so no id is reused
        self.paths: dict[str, str] = {}
        self.record = record_paths
        self._np = sys.modules.get("numpy")
        self._pd = sys.modules.get("pandas")
        self._main = getattr(sys.modules.get("__main__"), "__dict__", None)

    # -- entry --------------------------------------------------------------------------

    def fp(self, obj: Any, path: str = "", depth: int = 0) -> bytes:
        digest = self._fp(obj, path, depth)
        if self.record and depth <= PATH_DEPTH and len(self.paths) < MAX_PATHS:
            self.paths.setdefault(path or "<value>", digest.hex())
        return digest

    def _child(self, obj: Any, path: str, depth: int) -> bytes:
        return self.fp(obj, path, depth + 1)

    def _fp(self, obj: Any, path: str, depth: int) -> bytes:
        cls = type(obj)
        if cls in ATOMS:
            if cls is float:
                return _h("float", repr(obj) if not math.isnan(obj) else "nan")
            if cls is complex:
                return _h("complex", repr(obj))
            if cls is bytes:
                return _h("bytes", obj)
            return _h(cls.__name__, repr(obj) if cls is not str else obj)
        if obj is Ellipsis or obj is NotImplemented:
            return _h("singleton", repr(obj))
        if cls is tuple:
            return _h("tuple", *(self._child(v, f"{path}[{i}]", depth) for i, v in enumerate(obj)))
        if cls is frozenset:
            return _h("frozenset", *self._set_items(obj))
        key = id(obj)
        if key in self.memo:
            return _h("ref", str(self.memo[key]))
        self.memo[key] = len(self.memo)
        self.keep.append(obj)
        return self._mutable(obj, cls, path, depth)

    def _set_items(self, items: Any) -> list[bytes]:
        """Element digests of a set in an order that does not depend on hash order: each
        element's own fingerprint decides where it is walked."""
        elements = list(items)
        if all(type(e) in ATOMS or type(e) is tuple for e in elements):
            return sorted(_Walk(record_paths=False).fp(e) for e in elements)
        order = sorted(range(len(elements)), key=lambda i: _Walk(False).fp(elements[i]))
        return [self.fp(elements[i], "", PATH_DEPTH + 1) for i in order]

    # -- identity-bearing objects ---------------------------------------------------------

    def _mutable(self, obj: Any, cls: type, path: str, depth: int) -> bytes:
        np, pd = self._np, self._pd
        if cls is list:
            return _h("list", *(self._child(v, f"{path}[{i}]", depth) for i, v in enumerate(obj)))
        if cls is dict:
            return self._dict("dict", obj, path, depth)
        if cls is set:
            return _h("set", *self._set_items(obj))
        if cls is bytearray:
            return _h("bytearray", bytes(obj))
        if isinstance(obj, type):
            return self._class(obj, path, depth)
        if cls is types.FunctionType:
            return self._function(obj, path, depth)
        if cls is types.ModuleType:
            return _h("module", obj.__name__)
        if cls is types.CodeType:
            return self._code(obj)
        if cls is types.MethodType:
            return _h(
                "method",
                self._child(obj.__func__, f"{path}.__func__", depth),
                self._child(obj.__self__, f"{path}.__self__", depth),
            )
        if cls in (types.BuiltinFunctionType, types.MethodWrapperType, types.WrapperDescriptorType):
            owner = getattr(obj, "__self__", None)
            if owner is None or isinstance(owner, types.ModuleType):
                return _h("builtin", str(getattr(obj, "__module__", None)), obj.__qualname__)
            return _h("builtin-method", obj.__name__, self._child(owner, f"{path}.__self__", depth))
        if cls is types.CellType:
            try:
                return _h("cell", self._child(obj.cell_contents, path, depth))
            except ValueError:
                return _h("cell-empty")
        if cls in (staticmethod, classmethod):
            return _h(cls.__name__, self._child(obj.__func__, path, depth))
        if cls is property:
            return _h(
                "property",
                *(self._child(f, f"{path}.{n}", depth) for n, f in _accessors(obj)),
                self._child(obj.__doc__, f"{path}.__doc__", depth),
            )
        if isinstance(obj, weakref.ref) and cls is weakref.ref:
            target = obj()
            return _h("weakref", b"dead" if target is None else self._child(target, path, depth))
        if cls is functools.partial:
            return _h(
                "partial",
                self._child(obj.func, f"{path}.func", depth),
                self._child(obj.args, f"{path}.args", depth),
                self._child(obj.keywords, f"{path}.keywords", depth),
                self._child(dict(vars(obj)), f"{path}.__dict__", depth),
            )
        if np is not None:
            if isinstance(obj, np.ndarray):
                return self._ndarray(obj, path, depth)
            if isinstance(obj, np.generic):
                return _h("npscalar", obj.dtype.str, repr(obj.dtype), obj.tobytes())
            if cls is np.dtype or isinstance(obj, np.dtype):
                return _h("dtype", repr(obj), str(obj.descr))
        if pd is not None:
            digest = self._pandas(obj, path, depth)
            if digest is not None:
                return digest
        return self._reduced(obj, cls, path, depth)

    def _dict(self, tag: str, items: dict[Any, Any], path: str, depth: int) -> bytes:
        parts = [tag]
        for k, v in items.items():
            parts.append(self._child(k, f"{path}<key>", depth))
            parts.append(self._child(v, f"{path}[{k!r:.40}]", depth))
        return _h(*parts)

    def _class(self, cls: type, path: str, depth: int) -> bytes:
        if _importable(cls):
            return _h("class-ref", _qualified(cls))
        parts: list[bytes | str] = ["class", _qualified(cls), cls.__name__]
        parts += [self._child(b, f"{path}.__bases__", depth) for b in cls.__bases__]
        parts.append(self._child(type(cls), f"{path}.__class__", depth))
        for name in sorted(vars(cls)):
            if name in _CLASS_SKIP:
                continue
            parts += [name, self._child(vars(cls)[name], f"{path}.{name}", depth)]
        return _h(*parts)

    def _function(self, func: types.FunctionType, path: str, depth: int) -> bytes:
        in_module = func.__globals__ is getattr(
            sys.modules.get(func.__module__ or ""), "__dict__", None
        )
        if in_module and _importable(func):
            return _h("function-ref", _qualified(func))
        glob = func.__globals__
        kind = "main" if glob is self._main else "module" if in_module else "dict"
        resolves = sorted(
            f"{n}:{'g' if n in glob else 'b' if hasattr(builtins, n) else '-'}"
            for n in _global_names(func.__code__)
        )
        return _h(
            "function",
            func.__name__,
            str(func.__qualname__),
            str(func.__module__),
            kind,
            self._code(func.__code__),
            self._child(func.__defaults__, f"{path}.__defaults__", depth),
            self._child(func.__kwdefaults__, f"{path}.__kwdefaults__", depth),
            self._child(func.__closure__, f"{path}.__closure__", depth),
            self._child(func.__doc__, f"{path}.__doc__", depth),
            self._child(dict(func.__dict__), f"{path}.__dict__", depth),
            *resolves,
        )

    def _code(self, code: types.CodeType) -> bytes:
        consts = [
            self._code(c) if isinstance(c, types.CodeType) else _Walk(False).fp(c)
            for c in code.co_consts
        ]
        return _h(
            "code",
            code.co_code,
            code.co_name,
            getattr(code, "co_qualname", ""),
            repr((code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount)),
            repr((code.co_flags, code.co_nlocals, code.co_stacksize)),
            repr((code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars)),
            getattr(code, "co_exceptiontable", b""),
            *consts,
        )

    def _ndarray(self, arr: Any, path: str, depth: int) -> bytes:
        np = self._np
        parts: list[bytes | str] = ["ndarray", _qualified(type(arr)), repr(arr.dtype)]
        parts.append(repr(arr.shape))
        if isinstance(arr, np.ma.MaskedArray):
            parts += [
                self._child(np.ma.getmaskarray(arr), f"{path}.mask", depth),
                self._child(_fill(np, arr), f"{path}.fill_value", depth),
            ]
            arr = arr.data
        if arr.dtype.hasobject:
            flat = arr.ravel(order="C")
            parts += [self._child(v, f"{path}.flat[{i}]", depth) for i, v in enumerate(flat)]
        else:
            data = np.ascontiguousarray(arr)
            parts.append(hashlib.blake2b(data.view(np.uint8).reshape(-1), digest_size=16).digest())
        extra = getattr(arr, "__dict__", None)
        if extra:
            parts.append(self._dict("attrs", dict(sorted(extra.items())), path, depth))
        return _h(*parts)

    def _pandas(self, obj: Any, path: str, depth: int) -> bytes | None:
        pd = self._pd
        if isinstance(obj, pd.DataFrame):
            parts: list[bytes | str] = ["DataFrame", _qualified(type(obj))]
            parts.append(self._child(obj.columns, f"{path}.columns", depth))
            parts.append(self._child(obj.index, f"{path}.index", depth))
            for i in range(obj.shape[1]):
                column = obj.iloc[:, i]
                parts += [str(column.dtype), self._child(column.array, f"{path}[{i}]", depth)]
            parts.append(self._child(dict(obj.attrs), f"{path}.attrs", depth))
            return _h(*parts)
        if isinstance(obj, pd.Series):
            return _h(
                "Series",
                _qualified(type(obj)),
                str(obj.dtype),
                self._child(obj.name, f"{path}.name", depth),
                self._child(obj.index, f"{path}.index", depth),
                self._child(obj.array, f"{path}.values", depth),
                self._child(dict(obj.attrs), f"{path}.attrs", depth),
            )
        if isinstance(obj, pd.Index):
            names = tuple(obj.names)
            values = obj.to_numpy() if not isinstance(obj, pd.MultiIndex) else list(obj)
            return _h(
                "Index",
                _qualified(type(obj)),
                str(obj.dtype),
                self._child(names, f"{path}.names", depth),
                self._child(values, f"{path}.values", depth),
            )
        if isinstance(obj, pd.Categorical):
            return _h(
                "Categorical",
                repr(obj.ordered),
                self._child(obj.categories, f"{path}.categories", depth),
                self._child(obj.codes, f"{path}.codes", depth),
            )
        if isinstance(obj, pd.api.extensions.ExtensionArray):
            np = self._np
            values = obj.to_numpy() if type(obj).__name__ == "NumpyExtensionArray" else None
            if values is None:
                values = np.asarray(obj, dtype=object)
            return _h(
                "ExtensionArray",
                _qualified(type(obj)),
                str(obj.dtype),
                self._fp(values, path, depth),
            )
        return None

    def _reduced(self, obj: Any, cls: type, path: str, depth: int) -> bytes:
        try:
            reduced = obj.__reduce_ex__(4)
        except Exception as exc:
            return _h("unpicklable", _qualified(cls), type(exc).__name__)
        if isinstance(reduced, str):
            return _h("global", str(getattr(cls, "__module__", None)), reduced)
        parts: list[bytes | str] = ["object", _qualified(cls)]
        callable_, args = reduced[0], reduced[1]
        parts.append(self._child(callable_, f"{path}.<reduce>", depth))
        parts.append(self._child(tuple(args), f"{path}.<args>", depth))
        state = reduced[2] if len(reduced) > 2 else None
        if isinstance(state, dict) and _kept_keys(cls, state):
            parts.append(self._state(cls, state, path, depth))
        elif isinstance(state, dict):  # nothing but ignored keys: no state, as after loading
            parts.append(self._child(None, f"{path}.<state>", depth))
        elif isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], dict):
            # (__dict__, slots) as copyreg gives it for classes with __slots__
            parts.append(self._child(state[0], f"{path}.<state>", depth))
            parts.append(self._state(cls, state[1], path, depth))
        else:
            parts.append(self._child(state, f"{path}.<state>", depth))
        if len(reduced) > 3 and reduced[3] is not None:
            items = list(reduced[3])
            parts.append(self._child(items, f"{path}.<items>", depth))
        if len(reduced) > 4 and reduced[4] is not None:
            pairs = list(reduced[4])
            for k, v in pairs:
                parts.append(self._child(k, f"{path}<key>", depth))
                parts.append(self._child(v, f"{path}[{k!r:.40}]", depth))
        return _h(*parts)

    def _state(self, cls: type, state: dict[Any, Any], path: str, depth: int) -> bytes:
        """An object's state dict, keys sorted (attribute order is not state)."""
        mro = {f"{c.__module__}.{c.__qualname__}" for c in cls.__mro__}
        parts: list[bytes | str] = ["state"]
        for k in sorted(state, key=repr):
            if isinstance(k, str) and _ignored(mro, k):
                continue
            parts.append(self._child(k, f"{path}<key>", depth))
            parts.append(self._child(state[k], f"{path}.{k}", depth))
        return _h(*parts)


def _fill(np: Any, arr: Any) -> Any:
    """A masked array's fill value as it applies to the array (``filled()`` casts it to the
    array's dtype; numpy's own unpickling does too, so the stored one may be wider before)."""
    try:
        return np.asarray(arr.fill_value).astype(arr.dtype).tolist()
    except (TypeError, ValueError):
        return np.asarray(arr.fill_value).tolist()


def _kept_keys(cls: type, state: dict[Any, Any]) -> bool:
    mro = {f"{c.__module__}.{c.__qualname__}" for c in cls.__mro__}
    return any(not (isinstance(k, str) and _ignored(mro, k)) for k in state)


def _ignored(mro: set[str], key: str) -> bool:
    return any((m, key) in IGNORED for m in mro) and not any((m, key) in KEPT for m in mro)


def _accessors(prop: property) -> list[tuple[str, Any]]:
    return [("fget", prop.fget), ("fset", prop.fset), ("fdel", prop.fdel)]


def fingerprint(value: Any) -> tuple[str, dict[str, str]]:
    """The digest of ``value`` and of its paths up to ``PATH_DEPTH`` levels deep.

    Runs the walk on a thread with a large stack, so deeply nested values (which pickle
    handles) do not overflow the interpreter's."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            walk = _Walk()
            out["digest"] = walk.fp(value).hex()
            out["paths"] = walk.paths
        except BaseException as exc:  # reported, not raised: one variable is one result
            out["error"] = f"{type(exc).__name__}: {exc}"[:300]

    limit = sys.getrecursionlimit()
    old = threading.stack_size(512 * 1024 * 1024)
    sys.setrecursionlimit(max(limit, 200_000))
    try:
        thread = threading.Thread(target=run, name="fingerprint")
        thread.start()
        thread.join()
    finally:
        threading.stack_size(old)
        sys.setrecursionlimit(limit)
    if "error" in out:
        raise FingerprintError(out["error"])
    return out["digest"], out["paths"]


class FingerprintError(Exception):
    """A value the walk could not fingerprint (the reason is the message)."""


def where_different(before: dict[str, str], after: dict[str, str], limit: int = 3) -> list[str]:
    """The deepest recorded paths whose digests differ (or that exist on one side only)."""
    differing = [p for p in before if after.get(p) != before[p]]
    differing += [p for p in after if p not in before]
    deepest = [p for p in differing if not any(q != p and q.startswith(p) for q in differing)]
    deepest.sort(key=lambda p: (-p.count(".") - p.count("["), p))
    return deepest[:limit]
