"""Content fingerprints for cache keys: what a value holds and what a function does.

A cache key must change whenever the result could: so it is made from content, never from
identity or names alone.

- **Values** are pickled (protocol 5) into a blake3 hasher. Large buffers (numpy and pandas
  data, torch storages, big bytearrays) go out of band and are hashed where they lie, on
  several threads, never copied or pickled twice. Sets and frozensets are hashed in a
  canonical order (their iteration order depends on the process's string hash seed).
  Functions, classes and modules met inside a value are replaced by their fingerprints, so an
  instance of a session class changes key when a method of the class is edited.
- **Functions** are fingerprinted by their code (bytecode, constants, names; not file names or
  line numbers, so a comment above them changes nothing), defaults, closure contents, and
  every global name they read, resolved now: session functions and classes they call
  (transitively), data globals by content, modules by installed version.
- **Modules and what comes from them**: a module installed as a distribution (in a
  ``site-packages``-like directory next to its ``.dist-info``) counts by its version; the
  standard library by the Python version; any other module (a file beside the script, an
  editable install) counts by the code and data of the attributes actually used, resolved
  like a function's globals.

Two keys differ whenever any of these differ. The converse is not promised: equal values
built in another order (a dict's insertion order) may hash differently — a miss, never a
stale hit. Files a computation reads are not part of the key: they are seen as it runs
(sessions.core.engine.file_inputs) and checked before a stored result is used. Not seen: the
network, randomness and time.
"""

from __future__ import annotations

import contextlib
import dis
import io
import os
import pickle
import sys
import sysconfig
import types
from collections import OrderedDict
from pathlib import Path
from typing import Any

import blake3

from sessions.core.engine.buffers import Reducer
from sessions.core.engine.environment import module_version
from sessions.core.errors import SessionsError

KEY_VERSION = 1
_PARALLEL = 1 << 20
_CODE_MEMO_SIZE = 4096
_ATOMS = (str, bytes, int, float, complex, bool, type(None))


class FingerprintError(SessionsError):
    """A value whose content cannot be hashed (it cannot be pickled); says which and why."""


def hash_buffer(data: Any) -> bytes:
    """blake3 of a buffer, on several threads when it is large (releases the GIL)."""
    view = memoryview(data)
    if not view.contiguous:
        view = memoryview(view.tobytes())
    view = view.cast("B") if view.format != "B" or view.ndim != 1 else view
    threads = blake3.blake3.AUTO if view.nbytes >= _PARALLEL else 1
    return blake3.blake3(view, max_threads=threads).digest()


class _Sink:
    """A file-like object that hashes what a pickler writes instead of keeping it."""

    def __init__(self) -> None:
        self.hasher = blake3.blake3()

    def write(self, data: Any) -> int:
        size = len(data)
        if size >= _PARALLEL:
            self.hasher.update(memoryview(data), max_threads=blake3.blake3.AUTO)  # type: ignore[call-arg]
        else:
            self.hasher.update(data)
        return size


# Stand-ins written into the hashed stream in place of code, classes, modules and sets.
# They are never called: the stream is hashed, not loaded.
def _code(fingerprint: str) -> None:
    """A function, by its fingerprint."""


def _cls(fingerprint: str) -> None:
    """A class, by its fingerprint."""


def _mod(fingerprint: str) -> None:
    """A module, by its fingerprint."""


_STANDINS = frozenset(id(f) for f in (_code, _cls, _mod))
_SET_TAG = "sessions-set"


class _Hasher(pickle.Pickler):
    """Pickles a value into a hash, with code, classes, modules and sets replaced by their
    fingerprints (see the module docstring)."""

    def __init__(self, sink: _Sink, fingerprints: Fingerprinter, buffers: list[bytes]) -> None:
        super().__init__(sink, protocol=5, buffer_callback=self._buffer)
        self.fp = fingerprints
        self.buffers = buffers
        self.raw = Reducer()

    def _buffer(self, buffer: pickle.PickleBuffer) -> None:
        raw = buffer.raw()
        self.buffers.append(raw.nbytes.to_bytes(8, "little") + hash_buffer(raw))

    def persistent_id(self, obj: Any) -> Any:
        # the C pickler offers exact sets to no other hook; their order follows the hash seed
        cls = type(obj)
        if cls is set or cls is frozenset:
            return (_SET_TAG, cls.__name__, self.fp.canonical(obj))
        return None

    def reducer_override(self, obj: Any) -> Any:
        cls = type(obj)
        if cls is types.FunctionType:
            if id(obj) in _STANDINS:
                return NotImplemented
            return (_code, (self.fp.function(obj),))
        if isinstance(obj, type):
            return (_cls, (self.fp.klass(obj),))
        if cls is types.ModuleType:
            return (_mod, (self.fp.module(obj),))
        if cls is types.MethodType:
            return (getattr, (obj.__self__, obj.__func__))
        return self.raw.reduce(obj) or NotImplemented


def _sort_key(item: Any) -> tuple[str, Any]:
    return (type(item).__name__, item)


class Fingerprinter:
    """Fingerprints for one key computation (results remembered for its duration, so a
    helper called from several places is walked once, and recursion ends)."""

    def __init__(self, ignore: frozenset[str] = frozenset()) -> None:
        self.ignore = ignore  # global names left out of every function's fingerprint
        self._functions: dict[int, str] = {}
        self._classes: dict[int, str] = {}
        self._modules: dict[tuple[int, frozenset[str] | None], str] = {}
        self._keep: list[Any] = []  # objects whose ids are memo keys stay alive meanwhile

    # --- values ---------------------------------------------------------------------------
    def value(self, value: Any, what: str = "value") -> bytes:
        """The content digest of ``value`` (32 bytes). Raises FingerprintError when it cannot
        be pickled, naming ``what``."""
        if type(value) in _ATOMS:
            return blake3.blake3(b"atom" + pickle.dumps(value, protocol=5)).digest()
        sink = _Sink()
        buffers: list[bytes] = []
        try:
            _Hasher(sink, self, buffers).dump(value)
        except FingerprintError:
            raise
        except RecursionError:
            raise FingerprintError(f"{what} is too deeply nested to hash") from None
        except Exception as exc:
            reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            raise FingerprintError(
                f"{what} cannot be hashed: {type(exc).__name__}: {reason}".rstrip(": ")
            ) from None
        return blake3.blake3(sink.hasher.digest() + b"".join(buffers)).digest()

    def canonical(self, members: set[Any] | frozenset[Any]) -> tuple[Any, ...]:
        """The members of a set in an order that does not depend on the hash seed."""
        if all(type(m) in _ATOMS for m in members):
            with contextlib.suppress(TypeError):
                return tuple(sorted(members, key=_sort_key))
        return tuple(sorted(self.value(m, "a set member").hex() for m in members))

    # --- code -----------------------------------------------------------------------------
    def function(self, func: types.FunctionType) -> str:
        """A function's fingerprint: its identity and version when it comes from an installed
        module, else its code, defaults, closure and the globals it reads (transitively)."""
        key = id(func)
        found = self._functions.get(key)
        if found is not None:
            return found
        name = f"{getattr(func, '__module__', None)}.{getattr(func, '__qualname__', '?')}"
        module = getattr(func, "__module__", None)
        release = _release(module) if isinstance(module, str) else None
        if release is not None and _importable(func):
            result = f"{name}@{release}"
            self._functions[key] = result
            return result
        self._functions[key] = f"recursive:{name}"  # a call back into it, while walking it
        self._keep.append(func)
        hasher = blake3.blake3(b"function\0")
        code = code_info(func.__code__)
        hasher.update(code.digest)
        parts: list[tuple[str, Any]] = [
            ("defaults", func.__defaults__),
            ("kwdefaults", func.__kwdefaults__),
            ("dict", func.__dict__ or None),
        ]
        for index, cell in enumerate(func.__closure__ or ()):
            try:
                parts.append((f"cell{index}", cell.cell_contents))
            except ValueError:  # an empty cell
                parts.append((f"cell{index}", _EmptyCell))
        for label, value in parts:
            hasher.update(label.encode() + self.value(value, f"{name}: {label}"))
        hasher.update(self.globals_of(func.__globals__, code, name))
        result = hasher.hexdigest()
        self._functions[key] = result
        return result

    def globals_of(self, namespace: dict[str, Any], code: CodeInfo, owner: str) -> bytes:
        """The digest of the global names ``code`` reads, resolved in ``namespace`` now."""
        hasher = blake3.blake3()
        builtins = namespace.get("__builtins__", __builtins__)
        builtins = builtins if isinstance(builtins, dict) else vars(builtins)
        for name in code.globals:
            if name in self.ignore:
                continue
            hasher.update(name.encode() + b"\0")
            if name in namespace:
                value = namespace[name]
            elif name in builtins:
                hasher.update(b"builtin")
                continue
            else:
                hasher.update(b"missing")  # defined later: the key changes then
                continue
            hasher.update(self.reference(value, code.attributes, f"{owner}: global '{name}'"))
        return hasher.digest()

    def reference(self, value: Any, attributes: frozenset[str], what: str) -> bytes:
        """The digest of a value that code refers to: modules by the attributes the code uses."""
        if type(value) is types.ModuleType:
            return self.module(value, attributes).encode()
        if isinstance(value, io.IOBase) and getattr(value, "closed", False) is True:
            return b"a closed file"  # what `with open(...) as f` leaves: nothing to read
        return self.value(value, what)

    def klass(self, cls: type) -> str:
        """A class's fingerprint: identity and version for installed and built-in classes,
        else its bases, methods and class attributes."""
        key = id(cls)
        found = self._classes.get(key)
        if found is not None:
            return found
        module = getattr(cls, "__module__", None) or "?"
        name = f"{module}.{getattr(cls, '__qualname__', cls.__name__)}"
        release = _release(module)
        if release is not None and _importable(cls):
            result = f"{name}@{release}"
            self._classes[key] = result
            return result
        self._classes[key] = f"recursive:{name}"
        self._keep.append(cls)
        hasher = blake3.blake3(b"class\0" + name.encode())
        for base in cls.__bases__:
            hasher.update(self.klass(base).encode())
        if type(cls) is not type:
            hasher.update(b"meta" + self.klass(type(cls)).encode())
        for attr, value in sorted(vars(cls).items(), key=lambda item: str(item[0])):
            if attr in _CLASS_NOISE:
                continue
            hasher.update(str(attr).encode() + b"\0")
            for part in _members(value):
                hasher.update(self._member(part, f"{name}.{attr}"))
        result = hasher.hexdigest()
        self._classes[key] = result
        return result

    def _member(self, value: Any, what: str) -> bytes:
        try:
            return self.value(value, what)
        except FingerprintError:
            # a class attribute that cannot be pickled (a lock, a descriptor from C): its type
            # stands in, the code that uses it is hashed through the methods
            return f"unhashable:{type(value).__module__}.{type(value).__qualname__}".encode()

    def module(self, module: types.ModuleType, attributes: frozenset[str] | None = None) -> str:
        """A module's fingerprint: its version when installed (the Python version for the
        standard library), else the fingerprints of ``attributes`` it has (the names the code
        reads from it), else its source file's content."""
        name = getattr(module, "__name__", "?")
        release = _release(name)
        if release is not None:
            return f"{name}@{release}"
        key = (id(module), attributes)
        found = self._modules.get(key)
        if found is not None:
            return found
        self._modules[key] = f"recursive:{name}"
        self._keep.append(module)
        hasher = blake3.blake3(b"module\0" + name.encode())
        if attributes is None:
            hasher.update(_file_digest(getattr(module, "__file__", None)))
        else:
            namespace = vars(module)
            for attr in sorted(attributes):
                if attr not in namespace or attr.startswith("__"):
                    continue
                hasher.update(attr.encode() + b"\0")
                hasher.update(self.reference(namespace[attr], attributes, f"{name}.{attr}"))
        result = hasher.hexdigest()
        self._modules[key] = result
        return result


class _EmptyCell:
    """Stands for a closure cell without a value."""


# attributes Python adds or caches by itself (copyreg caches __slotnames__ on first pickling)
_CLASS_NOISE = frozenset(
    {
        "__dict__",
        "__weakref__",
        "__module__",
        "__doc__",
        "__qualname__",
        "__slotnames__",
        "_abc_impl",
    }
)


def _members(value: Any) -> list[Any]:
    if isinstance(value, (staticmethod, classmethod)):
        return [value.__func__]
    if isinstance(value, property):
        return [value.fget, value.fset, value.fdel]
    return [value]


# --- code objects ---------------------------------------------------------------------------


class CodeInfo:
    """What a code object (and the code nested in it) is, once: a digest of what decides its
    behaviour, the global names it reads or writes, and every attribute name it uses."""

    __slots__ = ("attributes", "code", "digest", "globals")

    def __init__(self, code: types.CodeType) -> None:
        self.code = code
        names: set[str] = set()
        attributes: set[str] = set()
        hasher = blake3.blake3(b"code\0")
        _digest_code(code, hasher, names, attributes)
        self.digest = hasher.digest()
        self.globals = tuple(sorted(names))
        self.attributes = frozenset(attributes)


_GLOBAL_OPS = frozenset(
    {"LOAD_GLOBAL", "LOAD_NAME", "STORE_GLOBAL", "DELETE_GLOBAL", "LOAD_FROM_DICT_OR_GLOBALS"}
)


def _digest_code(code: types.CodeType, hasher: Any, names: set[str], attributes: set[str]) -> None:
    for field in (
        code.co_argcount,
        code.co_posonlyargcount,
        code.co_kwonlyargcount,
        code.co_flags,
    ):
        hasher.update(field.to_bytes(8, "little", signed=True))
    for strings in (code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars):
        hasher.update(b"\1".join(s.encode() for s in strings) + b"\2")
    hasher.update(code.co_name.encode() + b"\0")
    hasher.update(code.co_code)
    hasher.update(getattr(code, "co_exceptiontable", b""))
    attributes.update(code.co_names)
    names.update(str(i.argval) for i in dis.get_instructions(code) if i.opname in _GLOBAL_OPS)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            hasher.update(b"nested")
            _digest_code(const, hasher, names, attributes)
        else:
            hasher.update(_const_digest(const))


def _const_digest(const: Any) -> bytes:
    if isinstance(const, frozenset):  # `x in {"a", "b"}`: order follows the hash seed
        return b"frozenset" + b"".join(sorted(_const_digest(c) for c in const))
    if isinstance(const, tuple):
        return b"tuple(" + b",".join(_const_digest(c) for c in const) + b")"
    try:
        return blake3.blake3(pickle.dumps(const, protocol=5)).digest()
    except Exception:
        return repr(const).encode()


_CODE_MEMO: OrderedDict[int, CodeInfo] = OrderedDict()


def code_info(code: types.CodeType) -> CodeInfo:
    """:class:`CodeInfo` of ``code``, remembered (code objects are immutable)."""
    found = _CODE_MEMO.get(id(code))
    if found is not None and found.code is code:
        _CODE_MEMO.move_to_end(id(code))
        return found
    info = CodeInfo(code)
    _CODE_MEMO[id(code)] = info
    while len(_CODE_MEMO) > _CODE_MEMO_SIZE:
        _CODE_MEMO.popitem(last=False)
    return info


# --- modules: installed, standard library, or local ---------------------------------------


def _importable(obj: Any) -> bool:
    from sessions.core.engine.serialize import importable

    return importable(obj)


def _release(module_name: str) -> str | None:
    """``version`` for a module of an installed distribution, ``py3.11.7`` for the standard
    library and built-ins, None for everything else (a local module: hash its code)."""
    top = module_name.split(".")[0]
    if not top:
        return None
    return _release_of_top(top)


_RELEASES: dict[str, str | None] = {}


def _release_of_top(top: str) -> str | None:
    if top in _RELEASES:
        return _RELEASES[top]
    result: str | None = None
    if top == "builtins" or top in sys.builtin_module_names or top in _stdlib_names():
        result = f"py{sys.version.split()[0]}"
    elif top != "__main__":
        module = sys.modules.get(top)
        where = _location(module)
        if where is not None and _installed_at(where, top):
            version = module_version(top)
            result = version if version else None
    _RELEASES[top] = result
    return result


def _stdlib_names() -> frozenset[str]:
    return frozenset(getattr(sys, "stdlib_module_names", ()))


def _location(module: Any) -> Path | None:
    """The directory a top-level module or package was imported from."""
    file = getattr(module, "__file__", None)
    if isinstance(file, str):
        path = Path(file)
        return path.parent.parent if path.stem == "__init__" else path.parent
    paths = getattr(module, "__path__", None)
    if paths:
        with contextlib.suppress(Exception):
            return Path(next(iter(paths))).parent
    return None


def _installed_at(directory: Path, top: str) -> bool:
    """Whether ``top`` in ``directory`` is an installed distribution: the directory is a
    site-packages of this interpreter, or holds a ``.dist-info``/``.egg-info`` naming it."""
    real = os.path.realpath(directory)
    if real in _site_dirs():
        return True
    from sessions.core.engine.environment import _top_levels

    return top in _top_levels(str(directory))


_SITE: frozenset[str] | None = None


def _site_dirs() -> frozenset[str]:
    global _SITE
    if _SITE is None:
        import site

        found = set()
        with contextlib.suppress(Exception):
            found.update(site.getsitepackages())
        with contextlib.suppress(Exception):
            found.add(site.getusersitepackages())
        for key in ("purelib", "platlib"):
            with contextlib.suppress(Exception):
                found.add(sysconfig.get_paths()[key])
        _SITE = frozenset(os.path.realpath(p) for p in found if p)
    return _SITE


_FILES: dict[str, tuple[tuple[int, int], bytes]] = {}


def _file_digest(file: Any) -> bytes:
    """blake3 of a module's source file (remembered by size and modification time)."""
    if not isinstance(file, str):
        return b"no file"
    try:
        info = os.stat(file)
        stamp = (info.st_size, info.st_mtime_ns)
        found = _FILES.get(file)
        if found is not None and found[0] == stamp:
            return found[1]
        with open(file, "rb") as handle:
            digest = blake3.blake3(handle.read()).digest()
    except OSError:
        return b"unreadable"
    _FILES[file] = (stamp, digest)
    return digest


def python_identity() -> bytes:
    """The interpreter, which decides bytecode and the standard library's behaviour."""
    impl = sys.implementation
    return f"{impl.name}-{sys.version.split()[0]}-{impl.cache_tag}-k{KEY_VERSION}".encode()
