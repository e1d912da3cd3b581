"""Turning groups of variables into pickle streams and back.

Format of a group's stream
--------------------------
A pickle (protocol 5) of one dict ``{name: value}`` holding the group's variables, with
large buffers (numpy, pandas) passed out of band: the stream says how many buffers it
takes and the manifest lists them, in order, as blobs. Two serializers:

- ``pickle``: the C pickler. Used for data: the fast path.
- ``dill``: dill's pure-Python pickler, used only when code has to travel by value
  (functions, lambdas, closures and classes defined in the session); it lives in
  ``sessions.core.engine.dill_picklers`` and is imported only when a save or load needs it.

Objects defined in the session (functions whose ``__globals__`` is the saved namespace,
classes whose ``__module__`` is its ``__name__``) that are bound to a saved variable are
pickled *by name* (``_ns_lookup('Foo')``) everywhere except as the variable itself. When
loading, that name resolves in the namespace being loaded into, so an instance comes back
as an instance of the restored class and shared functions stay shared. Functions pickled
by value get the load namespace as their ``__globals__`` (persistent id ``"ns"``).

Loading a stream runs code: it is only done for snapshots a user chose to load.
"""

from __future__ import annotations

import contextvars
import functools
import io
import pickle
import sys
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sessions.core.engine import plain
from sessions.core.engine.buffers import Reducer as RawReducer
from sessions.core.errors import LoadError

PROTOCOL = 5

_LOAD_NS: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "sessions_load_ns", default=None
)


class _NeedsDill(Exception):
    """Raised inside the C pickler when code must be pickled by value."""


class SerializeError(Exception):
    """A group could not be pickled; ``str()`` is the reason shown to the user."""


# --- helpers referenced by pickle streams (their names are part of the format) -----------


def _ns_lookup(name: str) -> Any:
    """Resolve a session-defined object by name in the namespace being loaded into."""
    ns = _LOAD_NS.get()
    if ns is None or name not in ns:
        raise LoadError(f"needs '{name}', which is not loaded")
    return ns[name]


class _EmptyCell:
    """Marker for a closure cell that had no value when saved."""

    def __reduce__(self) -> str:
        return "_EMPTY_CELL"


_EMPTY_CELL = _EmptyCell()


def _make_function(
    code: types.CodeType,
    globals_: dict[str, Any],
    name: str,
    cells: int | tuple[types.CellType, ...],
) -> types.FunctionType:
    """A function from its code. ``cells`` is its closure (pickled as cells, so a cell that
    refers back to the class being rebuilt, as zero-argument ``super()``'s ``__class__`` does,
    is filled once that class exists) or, in streams written before that, a count of empty
    cells that ``_set_function_state`` fills."""
    if isinstance(cells, int):
        closure = tuple(types.CellType() for _ in range(cells)) if cells else None
    else:
        closure = cells or None
    return types.FunctionType(code, globals_, name, None, closure)


def _import_module(name: str) -> types.ModuleType:
    """A module held inside a value (``{"np": np}``), saved by reference."""
    import importlib

    return importlib.import_module(name)


def _set_function_state(func: types.FunctionType, state: dict[str, Any]) -> None:
    for cell, value in zip(func.__closure__ or (), state.get("cells", ())):
        if value is not _EMPTY_CELL:
            cell.cell_contents = value
    func.__defaults__ = state.get("defaults")
    func.__kwdefaults__ = state.get("kwdefaults")
    func.__qualname__ = state.get("qualname") or func.__name__
    func.__module__ = state.get("module")  # type: ignore[assignment]
    func.__doc__ = state.get("doc")
    func.__annotations__ = state.get("annotations") or {}
    func.__dict__.update(state.get("dict") or {})


_STR_ARRAY_MIN = 10_000


def _str_array(buf: Any, shape: tuple[int, ...], order: str) -> Any:
    """Rebuild an object ndarray of strings from its nested list pickle (see below)."""
    import numpy

    items = pickle.loads(buf)
    if not isinstance(items, list):
        raise LoadError("string array payload is not a list")
    out = numpy.empty(len(items), dtype=object)
    out[:] = items
    return out.reshape(shape, order=order)  # type: ignore[call-overload]


def _reduce_str_array(arr: Any) -> Any:
    """Large object arrays of ``str`` (pandas string columns without pyarrow).

    The C pickler memoizes every string, which dominates saving such columns. Their items
    (only str and missing-value markers, which cannot form cycles) are pickled as one list
    in fast mode (no memo) and passed out of band as a single buffer. Anything else takes
    the normal path."""
    order = "F" if (arr.flags.f_contiguous and not arr.flags.c_contiguous) else "C"
    items = arr.ravel(order=order).tolist()
    kinds = set(map(type, items))
    if str not in kinds or not kinds <= _MISSING_TYPES:
        return None
    out = io.BytesIO()
    nested = pickle.Pickler(out, protocol=PROTOCOL)
    nested.fast = True  # no memo: safe because nothing in the list can refer to itself
    nested.dump(items)
    del items
    return (_str_array, (pickle.PickleBuffer(out.getbuffer()), arr.shape, order))


def _missing_types() -> frozenset[type]:
    kinds: set[type] = {str, type(None), float}
    pandas = sys.modules.get("pandas")
    if pandas is not None:
        kinds.add(type(pandas.NA))
        kinds.add(type(pandas.NaT))
    return frozenset(kinds)


_MISSING_TYPES: frozenset[type] = frozenset({str, type(None), float})


# --- what is "defined in the session" -------------------------------------------------------


def qualified_type(obj: Any) -> str:
    """``module.QualName`` of ``obj``'s type, with ``builtins.`` left out."""
    cls = type(obj)
    module = getattr(cls, "__module__", None) or "?"
    name = getattr(cls, "__qualname__", cls.__name__)
    return name if module == "builtins" else f"{module}.{name}"


def importable(obj: Any) -> bool:
    """Whether ``obj`` can be found again by importing its module and walking its qualname."""
    module_name = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not module_name or not qualname or "<locals>" in qualname:
        return False
    module = sys.modules.get(module_name)
    if module is None:
        return False
    if type(obj) is types.FunctionType and not _globals_of_a_module(obj.__globals__):
        return False  # defined by exec/runpy into a dict: only its code can bring it back
    found: Any = module
    for part in qualname.split("."):
        found = getattr(found, part, None)
        if found is None:
            return False
    return found is obj


def _globals_of_a_module(globals_: dict[str, Any]) -> bool:
    """Whether ``globals_`` is the ``__dict__`` of an imported module (a decorator's wrapper
    has its own module's globals; a function made by ``exec`` into a dict has that dict)."""
    name = globals_.get("__name__")
    module = sys.modules.get(name) if isinstance(name, str) else None
    return module is not None and getattr(module, "__dict__", None) is globals_


@dataclass
class Context:
    """What the picklers need to know about the namespace being saved."""

    ns: dict[str, Any]
    module: str
    bound: dict[int, str] = field(default_factory=dict)  # id of session object -> its name
    _session: dict[int, bool] = field(default_factory=dict)
    _importable: dict[int, bool] = field(default_factory=dict)

    def importable(self, obj: Any) -> bool:
        """:func:`importable`, remembered per object for this save."""
        key = id(obj)
        known = self._importable.get(key)
        if known is None:
            known = self._importable[key] = importable(obj)
        return known

    def needs_value(self, obj: Any) -> bool:
        """Code that only pickling by value brings back: session functions and classes,
        and functions that live in no module (made by ``exec``/``runpy`` into a dict)."""
        if type(obj) is types.FunctionType:
            return self.is_session_object(obj) or not self.importable(obj)
        return issubclass(type(obj), type) and self.is_session_object(obj)

    def is_session_object(self, obj: Any) -> bool:
        """A function or class defined in the saved namespace (not importable elsewhere)."""
        key = id(obj)
        known = self._session.get(key)
        if known is None:
            if type(obj) is types.FunctionType:
                known = obj.__globals__ is self.ns
            elif issubclass(type(obj), type):
                known = obj.__module__ == self.module or (key in self.bound and not importable(obj))
            else:
                known = False
            self._session[key] = known
        return known


# --- picklers -----------------------------------------------------------------------------


class _Recorder:
    """Shared by both picklers: by-name references, and modules whose objects were pickled."""

    ctx: Context
    roots: set[int]
    refs: set[str]
    modules: set[str]

    def _setup(self, ctx: Context, roots: set[int]) -> None:
        self.ctx = ctx
        self.roots = roots
        self.refs = set()
        self.modules = set()

    def _by_name(self, obj: Any) -> Any:
        name = self.ctx.bound.get(id(obj))
        if name is not None and id(obj) not in self.roots:
            self.refs.add(name)
            return (_ns_lookup, (name,))
        return None


class _FastPickler(pickle.Pickler, _Recorder):
    """The C pickler, with a hook that keeps session code out of the fast path."""

    def __init__(self, file: io.BytesIO, ctx: Context, roots: set[int], buffers: list[Any]):
        super().__init__(file, protocol=PROTOCOL, buffer_callback=buffers.append)
        self._setup(ctx, roots)
        numpy = sys.modules.get("numpy")
        self._ndarray = numpy.ndarray if numpy is not None else None
        self._raw = RawReducer()
        global _MISSING_TYPES
        _MISSING_TYPES = _missing_types()

    def reducer_override(self, obj: Any) -> Any:
        cls = type(obj)
        if cls is self._ndarray and obj.dtype.kind == "O" and obj.size >= _STR_ARRAY_MIN:
            self.modules.add("numpy")
            reduced = _reduce_str_array(obj)
            if reduced is not None:
                return reduced
            return NotImplemented
        if cls is types.FunctionType or issubclass(cls, type):
            self.modules.add(getattr(obj, "__module__", None) or "")
            if self.ctx.is_session_object(obj):
                reduced = self._by_name(obj)
                if reduced is None:
                    raise _NeedsDill
                return reduced
            if cls is types.FunctionType and not self.ctx.importable(obj):
                raise _NeedsDill
        elif cls is functools._lru_cache_wrapper:
            # pickle would name it (``__main__.f``), which loading cannot find: dill rebuilds
            # the cache around its function, by value when that is session code
            if self.ctx.needs_value(getattr(obj, "__wrapped__", None)):
                raise _NeedsDill
            return NotImplemented
        elif cls is types.ModuleType:
            reduced = _module_by_reference(obj)
            if reduced is None:
                raise _NeedsDill  # a module made at run time: dill pickles it by value
            self.modules.add(obj.__name__)
            return reduced
        else:
            self.modules.add(cls.__module__)
            reduced = self._raw.reduce(obj)
            if reduced is not None:
                return reduced
        return NotImplemented


def _module_by_reference(module: types.ModuleType) -> Any:
    """``import name`` for a module that ``sys.modules`` holds under its name, else None."""
    name = getattr(module, "__name__", None)
    if isinstance(name, str) and sys.modules.get(name) is module:
        return (_import_module, (name,))
    return None


# --- dumping ------------------------------------------------------------------------------


@dataclass
class Pickled:
    """One group, pickled: the in-band stream and its out-of-band buffers."""

    serializer: str
    stream: memoryview
    buffers: list[memoryview]
    refs: set[str]
    modules: set[str]


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    message = text[0] if text else type(exc).__name__
    return message[:300]


def needs_value_pickling(ctx: Context, values: Iterable[Any]) -> bool:
    """Whether any root is code that only the dill path can carry by value."""
    return any(ctx.needs_value(v) for v in values)


def dump_group(ctx: Context, payload: dict[str, Any]) -> Pickled:
    """Pickle ``payload`` (name -> value) with the C pickler, or with dill when code needs
    it or the C pickler cannot (dill's picklers also know weak references, proxies, cached
    functions, ...). Raises SerializeError with dill's one-line reason when neither can.
    """
    roots = {id(v) for v in payload.values()}
    if not needs_value_pickling(ctx, payload.values()):
        buffers: list[Any] = []
        out = io.BytesIO()
        pickler = _FastPickler(out, ctx, roots, buffers)
        pickler.fast = plain.memo_free(payload)  # no memo for one big container of atoms
        try:
            pickler.dump(payload)
        except RecursionError:
            raise SerializeError("too deeply nested to pickle") from None
        except Exception:  # _NeedsDill, or an object only dill's picklers know (weakrefs...)
            pass
        else:
            return Pickled(
                "pickle",
                out.getbuffer(),
                [b.raw() for b in buffers],
                pickler.refs,
                pickler.modules,
            )
    buffers = []
    out = io.BytesIO()
    from sessions.core.engine.dill_picklers import DillPickler

    dpickler = DillPickler(out, ctx, roots, buffers)
    try:
        dpickler.dump(payload)
    except RecursionError:
        raise SerializeError("too deeply nested to pickle") from None
    except Exception as exc:
        raise SerializeError(_one_line(exc)) from None
    return Pickled(
        "dill", out.getbuffer(), [b.raw() for b in buffers], dpickler.refs, dpickler.modules
    )


# --- loading ------------------------------------------------------------------------------


# Streams name the helpers above by module path. Snapshots written before the library moved
# under the ``sessions`` package (store format 1, sessions-tui 0.1) name them ``core.serialize``.
LEGACY_MODULES = {"core.serialize": __name__}


def _finder(
    base: Callable[[str, str], Any], ns: dict[str, Any], module: str
) -> Callable[[str, str], Any]:
    def find_class(mod: str, name: str) -> Any:
        if mod == module and name in ns:
            return ns[name]
        return base(LEGACY_MODULES.get(mod, mod), name)

    return find_class


class _FastUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, ns: dict[str, Any], module: str, buffers: list[Any]):
        super().__init__(file, buffers=buffers)
        self._find = _finder(super().find_class, ns, module)

    def find_class(self, module: str, name: str) -> Any:
        return self._find(module, name)


def load_group(
    serializer: str,
    stream: bytes | bytearray,
    buffers: list[bytearray],
    ns: dict[str, Any],
    module: str,
) -> dict[str, Any]:
    """Unpickle one group's stream (trusted input only) with ``ns`` as the session namespace."""
    token = _LOAD_NS.set(ns)
    try:
        file = io.BytesIO(stream)
        if serializer == "pickle":
            result = _FastUnpickler(file, ns, module, buffers).load()
        elif serializer == "dill":
            from sessions.core.engine.dill_picklers import DillUnpickler

            result = DillUnpickler(file, ns, module, buffers).load()
        else:
            raise LoadError(f"unknown serializer '{serializer}'")
    finally:
        _LOAD_NS.reset(token)
    if not isinstance(result, dict):
        raise LoadError("stream does not hold a variable group")
    return result
