"""dill's picklers, for code that travels by value (see ``sessions.core.engine.serialize``
for the stream format). Apart so that importing the library does not import dill: a save or
load imports this module only when a group holds session code."""

from __future__ import annotations

import io
import pickle
import types
from typing import Any

import dill
from dill import _dill as dill_internals

from sessions.core.engine.buffers import Reducer as RawReducer
from sessions.core.engine.serialize import (
    PROTOCOL,
    Context,
    _finder,
    _make_function,
    _module_by_reference,
    _Recorder,
    _set_function_state,
    qualified_type,
)


def _deny_types() -> tuple[type, ...]:
    """Objects dill would "save" in ways that surprise users (reopening files, new sockets)."""
    import socket
    import sqlite3
    import threading

    kinds: list[type] = [
        io.IOBase,
        socket.socket,
        sqlite3.Connection,
        sqlite3.Cursor,
        types.GeneratorType,
        types.CoroutineType,
        types.AsyncGeneratorType,
        types.FrameType,
        types.TracebackType,
        threading.Thread,
        type(threading.Lock()),
        type(threading.RLock()),
    ]
    return tuple(kinds)


_DENY: tuple[type, ...] | None = None


class DillPickler(dill.Pickler, _Recorder):  # type: ignore[misc]
    """dill, for code by value; the namespace itself travels as a persistent reference."""

    def __init__(self, file: io.BytesIO, ctx: Context, roots: set[int], buffers: list[Any]):
        super().__init__(file, protocol=PROTOCOL, buffer_callback=buffers.append)
        self._setup(ctx, roots)
        global _DENY
        if _DENY is None:
            _DENY = _deny_types()
        self._deny = _DENY
        self._raw = RawReducer()

    def persistent_id(self, obj: Any) -> Any:
        return "ns" if obj is self.ctx.ns else None

    def reducer_override(self, obj: Any) -> Any:
        cls = type(obj)
        if issubclass(cls, self._deny):  # by type: isinstance asks a dead proxy, which raises
            raise pickle.PicklingError(f"cannot pickle '{qualified_type(obj)}' object")
        if cls is types.FunctionType or issubclass(cls, type):
            self.modules.add(getattr(obj, "__module__", None) or "")
            if self.ctx.is_session_object(obj):
                reduced = self._by_name(obj)
                if reduced is not None:
                    return reduced
                # a function by value: _save_function (below) writes it
        elif cls is types.ModuleType:
            reduced = _module_by_reference(obj)
            if reduced is not None:
                self.modules.add(obj.__name__)
                return reduced
        else:
            self.modules.add(cls.__module__)
            reduced = self._raw.reduce(obj)
            if reduced is not None:
                return reduced
        return NotImplemented

    def _function_by_value(self, func: types.FunctionType) -> Any:
        """The reduction of a session function: its code, the load namespace as its globals
        (persistent id ``"ns"``), and its closure as cells."""
        state = {
            "defaults": func.__defaults__,
            "kwdefaults": func.__kwdefaults__,
            "qualname": func.__qualname__,
            "module": func.__module__,
            "doc": func.__doc__,
            "annotations": func.__annotations__ or None,
            "dict": func.__dict__ or None,
        }
        args = (func.__code__, self.ctx.ns, func.__name__, func.__closure__ or ())
        return (_make_function, args, state, None, None, _set_function_state)

    def _save_function(self, func: types.FunctionType) -> None:
        """Functions reaching the dispatch table: session functions by value through dill's
        post-processing stack, so a closure cell that refers to the function itself or to
        a class still being rebuilt (``super()``'s ``__class__``) is filled once that object
        exists; any other function (e.g. defined by ``exec`` into a dict) as dill does."""
        if self.ctx.is_session_object(func):
            dill_internals._save_with_postproc(self, self._function_by_value(func), obj=func)
        else:
            dill_internals.save_function(self, func)

    dispatch = dill_internals.MetaCatchingDict(dill.Pickler.dispatch)  # metaclasses: save_type
    dispatch[types.FunctionType] = _save_function


class DillUnpickler(dill.Unpickler):  # type: ignore[misc]
    def __init__(self, file: io.BytesIO, ns: dict[str, Any], module: str, buffers: list[Any]):
        super().__init__(file, buffers=buffers)
        self._ns = ns
        self._find = _finder(super().find_class, ns, module)

    def find_class(self, module: str, name: str) -> Any:
        return self._find(module, name)

    def persistent_load(self, pid: Any) -> Any:
        if pid == "ns":
            return self._ns
        raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")
