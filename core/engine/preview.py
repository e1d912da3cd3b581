"""Previews: what a variable looks like, computed at save time from the live object.

A preview is a small msgpack-able map stored in the manifest, so browsing a snapshot never
unpickles anything. Every preview has ``kind`` and ``repr``; kinds add fields:

- ``ndarray``: shape, dtype, min, max, mean (numeric), head (first values as text)
- ``dataframe`` / ``series``: shape, columns, dtypes, index (first labels), rows (first rows
  as text cells)
- ``container``: len, items (first items as text)
- ``function`` / ``class``: signature, source
- ``object``: repr only

Previews are bounded (:data:`MAX_PREVIEW` bytes encoded); a preview that cannot be built
carries ``error`` instead of failing the save.
"""

from __future__ import annotations

import contextlib
import inspect
import itertools
import math
import re
import reprlib
import sys
import types
import warnings
from typing import Any

import msgpack

MAX_PREVIEW = 16 * 1024
_HEAD_ROWS = 10
_HEAD_ITEMS = 10
_CELL = 40
_REPR = 1000
_SOURCE = 6000
_CHUNK = 1 << 20

_repr = reprlib.Repr()
_repr.maxstring = 200
_repr.maxother = 200
_repr.maxlist = _repr.maxtuple = _repr.maxset = _repr.maxdict = _HEAD_ITEMS
_repr.maxlevel = 3


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def short_repr(value: Any, limit: int = _REPR) -> str:
    """A bounded repr that never raises (memory addresses left out: they mean nothing later)."""
    try:
        text = _ADDRESS.sub("", _repr.repr(value))
    except Exception as exc:  # a user __repr__ may raise anything
        text = f"<{type(value).__name__}: repr failed: {type(exc).__name__}>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cell(value: Any) -> str:
    try:
        text = str(value)
    except Exception:
        text = "?"
    text = text.replace("\n", " ")
    return text if len(text) <= _CELL else text[: _CELL - 1] + "…"


def _number(value: Any) -> float | int | None:
    try:
        number = value.item() if hasattr(value, "item") else value
    except Exception:
        return None
    if isinstance(number, bool):
        return int(number)
    if isinstance(number, int):
        return number
    if isinstance(number, float):
        return number if math.isfinite(number) else None
    return None


_STR_ONLY = frozenset({str})
_DTYPE_NAMES: dict[Any, str] = {}
_SMALL_ARRAY = 512  # items: statistics taken in Python, cheaper than numpy's reductions here


def _ndarray(arr: Any, numpy: Any) -> dict[str, Any]:
    items = arr.ravel()[:_HEAD_ITEMS].tolist() if arr.size else []
    head = [str(x) for x in items] if arr.dtype.kind in "biuf" else [_cell(x) for x in items]
    dtype = _DTYPE_NAMES.get(arr.dtype)
    if dtype is None:
        dtype = str(arr.dtype)
        if len(_DTYPE_NAMES) < 1024:
            _DTYPE_NAMES[arr.dtype] = dtype
    out: dict[str, Any] = {
        "kind": "ndarray",
        "shape": list(arr.shape),
        "dtype": dtype,
        "head": head,
    }
    if arr.size and arr.dtype.kind in "biuf":
        out.update(_small_stats(arr) if arr.size <= _SMALL_ARRAY else _stats(arr, numpy))
    # built from the head: numpy's own repr costs 100+ microseconds even for a tiny array,
    # and a session may hold tens of thousands of them
    more = ", …" if arr.size > len(head) else ""
    out["repr"] = f"array([{', '.join(head)}{more}], shape={tuple(arr.shape)}, dtype={dtype})"
    return out


def _small_stats(arr: Any) -> dict[str, Any]:
    """min, max and mean of a small array (NaNs ignored), exactly rounded."""
    values = arr.ravel().tolist()
    if arr.dtype.kind == "f":
        values = [v for v in values if v == v]
    if not values:
        return {"min": None, "max": None, "mean": None}
    if arr.dtype.kind == "b":
        values = [int(v) for v in values]
    return {
        "min": _number(min(values)),
        "max": _number(max(values)),
        "mean": _number(math.fsum(values) / len(values)),
    }


def _stats(arr: Any, numpy: Any) -> dict[str, Any]:
    """min, max and mean without copying the array (NaNs ignored, in bounded chunks)."""
    with numpy.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        low, high = arr.min(), arr.max()
        if arr.dtype.kind != "f" or not (numpy.isnan(low) or numpy.isnan(high)):
            return {
                "min": _number(low),
                "max": _number(high),
                "mean": _number(arr.mean(dtype="float64")),
            }
        flat = arr.reshape(-1) if arr.flags.c_contiguous else arr.ravel()
        total, count = 0.0, 0
        for start in range(0, flat.size, _CHUNK):
            chunk = flat[start : start + _CHUNK]
            total += float(numpy.nansum(chunk, dtype="float64"))
            count += int(chunk.size - numpy.count_nonzero(numpy.isnan(chunk)))
        return {
            "min": _number(numpy.fmin.reduce(flat)),
            "max": _number(numpy.fmax.reduce(flat)),
            "mean": total / count if count else None,
        }


def _frame(df: Any) -> dict[str, Any]:
    head = df.head(_HEAD_ROWS)
    return {
        "kind": "dataframe",
        "shape": list(df.shape),
        "columns": [_cell(c) for c in list(df.columns)[:50]],
        "dtypes": [str(t) for t in list(df.dtypes)[:50]],
        "index": [_cell(i) for i in list(head.index)],
        "rows": [[_cell(v) for v in row[:50]] for row in head.itertuples(index=False, name=None)],
    }


def _series(series: Any) -> dict[str, Any]:
    head = series.head(_HEAD_ROWS)
    return {
        "kind": "series",
        "shape": [len(series)],
        "name": _cell(series.name),
        "dtype": str(series.dtype),
        "index": [_cell(i) for i in list(head.index)],
        "rows": [[_cell(v)] for v in head.tolist()],
    }


def _source(obj: Any) -> str | None:
    try:
        source = inspect.getsource(obj)
    except (OSError, TypeError):
        return None
    return source if len(source) <= _SOURCE else source[:_SOURCE] + "\n# … (truncated)"


def _function(func: Any) -> dict[str, Any]:
    try:
        signature = str(inspect.signature(func))
    except (TypeError, ValueError):
        signature = "(…)"
    out: dict[str, Any] = {"kind": "function", "signature": f"{func.__name__}{signature}"}
    source = _source(func)
    if source:
        out["source"] = source
    if func.__doc__:
        out["doc"] = func.__doc__.strip()[:500]
    return out


def _class(cls: type) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": "class",
        "bases": [f"{b.__module__}.{b.__qualname__}" for b in cls.__bases__],
        "methods": sorted(
            k for k, v in vars(cls).items() if callable(v) and not k.startswith("__")
        )[:50],
    }
    source = _source(cls) or _cell_source(cls)
    if source:
        out["source"] = source if len(source) <= _SOURCE else source[:_SOURCE] + "\n# … (truncated)"
    return out


_NUMBERS = frozenset({int, float, bool, type(None)})


def _atom_repr(value: Any) -> str | None:
    """``repr(value)`` when it is what :func:`short_repr` would give (a short number or text,
    no address-like part), else None."""
    cls = type(value)
    if cls in _NUMBERS:
        if cls is int and not -(10**38) < value < 10**38:
            return None  # long: reprlib shortens it
        return repr(value)
    if cls is str and len(value) <= 200:
        text = repr(value)
        return text if len(text) <= 200 and " at 0x" not in text else None
    return None


def _fast(value: Any) -> dict[str, Any] | None:
    """The preview of a number, a short string, or a short list or tuple of those, built
    directly (the same map :func:`build` makes, at a fraction of the cost: a session of
    100,000 small variables spends its save here otherwise)."""
    text = _atom_repr(value)
    if text is not None:
        return {"kind": "object", "repr": text}
    cls = type(value)
    if (cls is list or cls is tuple) and len(value) <= _HEAD_ITEMS:
        items = [_atom_repr(x) for x in value]
        if None in items:
            return None
        whole = repr(value)
        return {"kind": "container", "len": len(value), "items": items, "repr": whole}
    return None


def _cell_source(cls: type) -> str | None:
    """The source of a class defined in an IPython or Jupyter cell, which ``inspect`` cannot
    find (``__main__`` has no file): from the cell its methods were compiled from (IPython
    keeps cells in ``linecache``), else from the newest cell in the input history that
    defines a class of that name."""
    if cls.__module__ != "__main__":
        return None
    import linecache

    for member in vars(cls).values():
        function = getattr(member, "__func__", None) or getattr(member, "fget", None) or member
        code = getattr(function, "__code__", None)
        if code is None:
            continue
        lines = linecache.getlines(code.co_filename)
        found = _class_in("".join(lines), cls.__name__, code.co_firstlineno) if lines else None
        if found:
            return found
    shell = _ipython_shell()
    if shell is None:
        return None
    try:
        cells = list(shell.history_manager.input_hist_raw)
    except Exception:
        return None
    for cell in reversed(cells[-500:]):
        if f"class {cls.__name__}" not in cell:
            continue
        with contextlib.suppress(Exception):
            cell = shell.transform_cell(cell)  # %magics and !commands become Python
        found = _class_in(cell, cls.__name__, None)
        if found:
            return found
    return None


def _class_in(text: str, name: str, line: int | None) -> str | None:
    """The source of top-level ``class name`` in ``text`` (the one enclosing ``line`` when
    given, else the last one), or None."""
    import ast

    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    found = None
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            end = node.end_lineno or node.lineno
            if line is None or node.lineno <= line <= end:
                found = node
    if found is None:
        return None
    first = min([found.lineno, *(d.lineno for d in found.decorator_list)])
    lines = text.splitlines()[first - 1 : found.end_lineno]
    return "\n".join(lines) + "\n"


def _ipython_shell() -> Any:
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return None
    try:
        return ipython.get_ipython()
    except Exception:
        return None


def build(value: Any) -> dict[str, Any]:
    """The preview of ``value``; never raises."""
    fast = _fast(value)
    if fast is not None:
        return fast
    numpy = sys.modules.get("numpy")
    if numpy is not None and type(value) is numpy.ndarray and value.dtype.kind in "biuf":
        try:  # made of numbers and ASCII text, a few hundred bytes: nothing to clean or cut
            return _ndarray(value, numpy)
        except Exception:
            pass
    try:
        out = _build(value)
    except Exception as exc:
        out = {"kind": "object", "error": f"preview failed: {type(exc).__name__}: {exc}"[:300]}
    if "repr" not in out:  # (setdefault would build the repr even when not needed)
        out["repr"] = short_repr(value)
    return bound(out)


def _build(value: Any) -> dict[str, Any]:
    numpy = sys.modules.get("numpy")
    pandas = sys.modules.get("pandas")
    if numpy is not None and isinstance(value, numpy.ndarray):
        return _ndarray(value, numpy)
    if pandas is not None and isinstance(value, pandas.DataFrame):
        return _frame(value)
    if pandas is not None and isinstance(value, pandas.Series):
        return _series(value)
    if isinstance(value, (types.FunctionType, types.MethodType)):
        return _function(value)
    if isinstance(value, type):
        return _class(value)
    if isinstance(value, dict):
        items = [
            f"{short_repr(k, 60)}: {short_repr(v, 140)}"
            for k, v in itertools.islice(value.items(), _HEAD_ITEMS)
        ]
        return {"kind": "container", "len": len(value), "items": items}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [short_repr(x, 200) for x in itertools.islice(value, _HEAD_ITEMS)]
        return {"kind": "container", "len": len(value), "items": items}
    attrs = getattr(value, "__dict__", None)
    if type(value).__repr__ is object.__repr__ and isinstance(attrs, dict):
        # the default repr is only an address: show the attributes instead
        shown = {
            str(k): short_repr(v, 160)
            for k, v in itertools.islice(attrs.items(), 20)
            if not str(k).startswith("_")
        }
        body = ", ".join(f"{k}={v}" for k, v in shown.items())
        return {
            "kind": "object",
            "attributes": shown,
            "repr": f"{type(value).__qualname__}({body})"[:_REPR],
        }
    return {"kind": "object"}


_PLAIN = frozenset({int, float, bool, type(None)})


def _text(value: str) -> str:
    if value.isascii():  # most text: nothing to replace (checked at C speed)
        return value
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def _clean(value: Any, depth: int = 0) -> Any:
    """Make a preview value encodable: text without lone surrogates, plain containers."""
    cls = type(value)
    if cls is str:
        return _text(value)
    if cls in _PLAIN:
        return value
    if isinstance(value, str):
        return _text(str(value))
    if isinstance(value, (int, float, bool)):
        return value
    if depth > 4:
        return str(value)[:200]
    if isinstance(value, dict):
        return {str(_clean(k, depth + 1)): _clean(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if set(map(type, value)) <= _STR_ONLY:
            return [_text(v) for v in value]
        return [_clean(v, depth + 1) for v in value]
    return _clean(str(value), depth + 1)


def bound(preview: dict[str, Any]) -> dict[str, Any]:
    """Shrink ``preview`` until it encodes to at most MAX_PREVIEW bytes."""
    preview = _clean(preview)
    for key in ("source", "rows", "items", "head", "index", "columns", "dtypes", "repr", "doc"):
        if len(msgpack.packb(preview, use_bin_type=True)) <= MAX_PREVIEW:
            return preview
        value = preview.get(key)
        if isinstance(value, str):
            preview[key] = value[: MAX_PREVIEW // 4] + "…"
        elif isinstance(value, list):
            preview[key] = value[: max(1, len(value) // 4)]
    while len(msgpack.packb(preview, use_bin_type=True)) > MAX_PREVIEW:
        preview = {
            "kind": preview.get("kind", "object"),
            "repr": str(preview.get("repr", ""))[:500],
        }
        if len(msgpack.packb(preview, use_bin_type=True)) > MAX_PREVIEW:
            preview = {"kind": "object", "repr": "…"}
    return preview


def memory_size(value: Any, serialized: int) -> int:
    """Best-effort bytes the value takes in memory (cheap: never walks big containers)."""
    numpy = sys.modules.get("numpy")
    pandas = sys.modules.get("pandas")
    try:
        if numpy is not None and isinstance(value, numpy.ndarray):
            return int(value.nbytes)
        if pandas is not None and isinstance(value, (pandas.DataFrame, pandas.Series)):
            shallow = value.memory_usage(index=True, deep=False)
            total = int(shallow.sum()) if hasattr(shallow, "sum") else int(shallow)
            return max(total, serialized)
        if isinstance(value, (str, bytes, bytearray, int, float)):
            return sys.getsizeof(value)
    except Exception:
        pass
    return serialized
