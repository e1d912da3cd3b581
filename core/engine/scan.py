"""A pickle opcode scanner: what a pickle holds, found without importing or running anything.

It walks the opcodes with :func:`pickletools.genops` and runs a *symbolic* pickle machine:
each stack value is a :class:`Sym` describing a type, never a real object. ``GLOBAL``
references are recorded as text and never imported; ``REDUCE`` and ``BUILD`` only combine
descriptions. The walk is bounded (opcodes, stack depth, memo and dict sizes), so a hostile
file costs bounded time and memory and is reported, not run.

Used for foreign ``dill.dump_module`` files (names and types of the module's variables) and
for trust checks (which globals a pickle would call).
"""

from __future__ import annotations

import io
import pickletools
from dataclasses import dataclass, field
from typing import IO, Any

from sessions.core.errors import FormatError

MAX_OPS = 5_000_000
MAX_STACK = 100_000
MAX_DICT_KEYS = 100_000
MAX_MEMO = 1_000_000


@dataclass
class Sym:
    """A symbolic stack value: the type it would have, and for dicts/modules their entries."""

    type: str
    ref: str | None = None  # for globals: "module.qualname"; for modules: the module name
    items: dict[str, Sym] | None = None
    args: list[Sym] = field(default_factory=list)


_MARK = Sym("<mark>")

_ATOM_TYPES = {
    "NONE": "NoneType",
    "NEWTRUE": "bool",
    "NEWFALSE": "bool",
    "INT": "int",
    "BININT": "int",
    "BININT1": "int",
    "BININT2": "int",
    "LONG": "int",
    "LONG1": "int",
    "LONG4": "int",
    "FLOAT": "float",
    "BINFLOAT": "float",
    "STRING": "bytes",
    "BINSTRING": "bytes",
    "SHORT_BINSTRING": "bytes",
    "BINBYTES": "bytes",
    "SHORT_BINBYTES": "bytes",
    "BINBYTES8": "bytes",
    "BYTEARRAY8": "bytearray",
    "UNICODE": "str",
    "BINUNICODE": "str",
    "SHORT_BINUNICODE": "str",
    "BINUNICODE8": "str",
    "NEXT_BUFFER": "buffer",
    "EMPTY_LIST": "list",
    "EMPTY_TUPLE": "tuple",
    "EMPTY_SET": "set",
}

_CREATES_FIRST_ARG = {
    "copyreg._reconstructor",
    "copy_reg._reconstructor",
    "copyreg.__newobj__",
    "copyreg.__newobj_ex__",
    "numpy.core.multiarray._reconstruct",
    "numpy._core.multiarray._reconstruct",
    "dill._dill._create_array",
}

_KNOWN_RESULTS = {
    "numpy.random._pickle.__generator_ctor": "numpy.random.Generator",
    "numpy.random._pickle.__randomstate_ctor": "numpy.random.RandomState",
    "numpy._core.multiarray.scalar": "numpy scalar",
    "numpy.core.multiarray.scalar": "numpy scalar",
    "pandas._libs.internals._unpickle_block": "pandas block",
}

_DILL_TYPES = {
    "dill._dill._create_function": "function",
    "dill._dill._create_lambda": "function",
    "sessions.core.engine.serialize._make_function": "function",
    "core.serialize._make_function": "function",  # written before the sessions package
    "dill._dill._create_type": "type",
    "dill._dill._create_class": "type",
    "dill._dill._create_namedtuple": "type",
    "dill._dill._load_type": "type",
    "dill._dill._create_code": "code",
    "dill._dill._create_cell": "cell",
    "dill._dill._create_filehandle": "file",
    "dill._dill._create_lock": "lock",
    "dill._dill._create_rlock": "lock",
    "dill._dill._import_module": "module",
    "sessions.core.engine.serialize._import_module": "module",
    "dill._dill._get_attr": "attribute",
    "builtins.getattr": "attribute",
    "__builtin__.getattr": "attribute",
}


# Globals no session needs at load time but attacks do: a pickle that would call one of
# these is reported instead of described. (Module objects in dill files are rebuilt by
# ``dill._dill._import_module``, not by these names.)
_DANGEROUS_MODULES = {
    "os",
    "posix",
    "nt",
    "subprocess",
    "shutil",
    "sys",
    "socket",
    "ctypes",
    "importlib",
    "runpy",
    "code",
    "codeop",
    "pty",
    "commands",
    "webbrowser",
    "marshal",
    "pickle",
    "_pickle",
    "multiprocessing",
    "signal",
    "http",
    "urllib",
    "ftplib",
    "smtplib",
    "telnetlib",
}
_DANGEROUS_BUILTINS = {"eval", "exec", "compile", "__import__", "open", "breakpoint", "input"}
_SAFE_EXCEPTIONS = {"dill._dill", "dill._shims"}


def dangerous(ref: str) -> bool:
    """Whether calling the global ``module.name`` could act on the system."""
    module, _, name = ref.rpartition(".")
    top = module.split(".")[0]
    if module in _SAFE_EXCEPTIONS or any(module.startswith(m + ".") for m in _SAFE_EXCEPTIONS):
        return False
    if module in ("builtins", "__builtin__"):
        return name in _DANGEROUS_BUILTINS
    return top in _DANGEROUS_MODULES


@dataclass
class ScanResult:
    """What the scan found."""

    top: Sym | None
    globals: list[str]
    ops: int
    complete: bool
    problem: str | None = None

    def dangerous(self) -> list[str]:
        """Globals this pickle would call that can act on the system (os.system, eval…)."""
        return sorted({g for g in self.globals if dangerous(g)})

    def variables(self) -> dict[str, str]:
        """For a pickled module (``dill.dump_module``) or dict: ``{name: type}``."""
        top = self.top
        if top is None or top.items is None:
            return {}
        return {
            k: describe(v)
            for k, v in top.items.items()
            if not (k.startswith("__") and k.endswith("__"))
        }


def _reduce_type(func: Sym, args: Sym) -> Sym:
    ref = func.ref or ""
    if ref in _DILL_TYPES:
        kind = _DILL_TYPES[ref]
        if kind == "module":
            name = args.args[0].ref if args.args and args.args[0].ref else None
            return Sym("module", ref=name, items=None)
        if kind == "type" and ref == "dill._dill._load_type" and args.args:
            return Sym("type", ref=args.args[0].ref)
        if kind == "type" and len(args.args) > 1 and args.args[1].type == "str":
            return Sym("type", ref=args.args[1].ref)  # a class pickled by value: its name
        return Sym(kind)
    if ref in _KNOWN_RESULTS:
        return Sym(_KNOWN_RESULTS[ref])
    if ref == "dill._dill._create_array" and len(args.args) > 1 and args.args[1].args:
        inner = args.args[1].args[0].ref
        return Sym(inner or "numpy.ndarray")
    if ref in _CREATES_FIRST_ARG and args.args and args.args[0].ref:
        return Sym(args.args[0].ref)
    if ref:
        last = ref.rsplit(".", 1)[-1]
        if last[:1].isupper():
            return Sym(ref)
        return Sym(f"<result of {ref}>")
    return Sym("object")


class _Bounded(io.RawIOBase):
    """A file that never reads past its end in one call, whatever length a hostile opcode
    claims (pickletools would otherwise try to allocate it)."""

    def __init__(self, handle: IO[bytes]) -> None:
        super().__init__()
        self._handle = handle
        here = handle.tell()
        handle.seek(0, io.SEEK_END)
        self._end = handle.tell()
        handle.seek(here)

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._handle.tell()

    def read(self, size: int | None = -1) -> bytes:
        left = self._end - self._handle.tell()
        if size is None or size < 0 or size > left:
            size = max(left, 0)
        return self._handle.read(size)

    def readline(self, size: int | None = -1) -> bytes:
        return self._handle.readline(min(size if size and size > 0 else 1 << 20, 1 << 20))


def scan(source: bytes | IO[bytes], *, max_ops: int = MAX_OPS) -> ScanResult:
    """Walk a pickle symbolically. Raises FormatError when it is not a readable pickle."""
    stream: IO[bytes] = (
        io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else _Bounded(source)  # type: ignore[assignment]
    )
    stack: list[Sym] = []
    marks: list[int] = []
    memo: dict[int, Sym] = {}
    globals_: list[str] = []
    ops = 0
    top: Sym | None = None

    def pop() -> Sym:
        if not stack:
            raise FormatError("pickle stack underflow")
        return stack.pop()

    def pop_mark() -> list[Sym]:
        if not marks:
            raise FormatError("pickle has no mark where one is needed")
        start = marks.pop()
        items = stack[start:]
        del stack[start:]
        return items

    def set_items(target: Sym, pairs: list[Sym]) -> None:
        if target.items is None:
            target.items = {}
        for i in range(0, len(pairs) - 1, 2):
            key = pairs[i]
            if key.type == "str" and key.ref is not None and len(target.items) < MAX_DICT_KEYS:
                target.items[key.ref] = pairs[i + 1]

    try:
        for opcode, arg, _pos in pickletools.genops(stream):
            ops += 1
            if ops > max_ops:
                return ScanResult(top, globals_, ops, False, f"stopped after {max_ops} opcodes")
            name: str = opcode.name
            if len(stack) > MAX_STACK or len(marks) > MAX_STACK:
                raise FormatError("pickle nests too deeply")
            if name in ("PROTO", "FRAME"):
                continue
            if name in _ATOM_TYPES:
                sym = Sym(_ATOM_TYPES[name])
                if name.endswith("UNICODE") and isinstance(arg, str):
                    sym.ref = arg[:1000]
                stack.append(sym)
            elif name in ("EMPTY_DICT", "DICT"):
                sym = Sym("dict", items={})
                if name == "DICT":
                    set_items(sym, pop_mark())
                stack.append(sym)
            elif name in ("GLOBAL", "INST"):
                module, _, qual = str(arg).partition(" ")
                ref = f"{module}.{qual}"
                globals_.append(ref)
                if name == "INST":
                    pop_mark()
                    stack.append(Sym(ref))
                else:
                    stack.append(Sym("type-ref", ref=ref))
            elif name == "STACK_GLOBAL":
                qual_sym, module_sym = pop(), pop()
                ref = f"{module_sym.ref}.{qual_sym.ref}"
                globals_.append(ref)
                stack.append(Sym("type-ref", ref=ref))
            elif name == "MARK":
                marks.append(len(stack))
            elif name in ("TUPLE", "LIST", "FROZENSET"):
                items = pop_mark()
                stack.append(Sym(name.lower(), args=items[:16]))
            elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
                count = int(name[-1])
                items = [pop() for _ in range(count)][::-1]
                stack.append(Sym("tuple", args=items))
            elif name in ("MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT"):
                if not stack:
                    raise FormatError("pickle memoizes an empty stack")
                index = len(memo) if name == "MEMOIZE" else int(str(arg))
                if len(memo) >= MAX_MEMO:
                    raise FormatError("pickle memo is too large")
                memo[index] = stack[-1]
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                if int(str(arg)) not in memo:
                    raise FormatError("pickle refers to a memo entry it never made")
                stack.append(memo[int(str(arg))])
            elif name == "REDUCE":
                args, func = pop(), pop()
                stack.append(_reduce_type(func, args))
            elif name == "NEWOBJ":
                _args, cls = pop(), pop()
                stack.append(Sym(cls.ref or "object"))
            elif name == "NEWOBJ_EX":
                pop()
                _args, cls = pop(), pop()
                stack.append(Sym(cls.ref or "object"))
            elif name == "OBJ":
                items = pop_mark()
                cls = items[0] if items else Sym("object")
                stack.append(Sym(cls.ref or "object"))
            elif name == "BUILD":
                state = pop()
                if not stack:
                    raise FormatError("pickle builds nothing")
                target = stack[-1]
                if target.type == "module" and state.items is not None:
                    target.items = state.items
                elif (
                    target.type == "module"
                    and state.type == "tuple"
                    and state.args
                    and state.args[0].items is not None
                ):
                    target.items = state.args[0].items
            elif name == "SETITEM":
                value, key = pop(), pop()
                if stack:
                    set_items(stack[-1], [key, value])
            elif name == "SETITEMS":
                pairs = pop_mark()
                if stack:
                    set_items(stack[-1], pairs)
            elif name in ("APPEND", "ADDITEMS", "APPENDS"):
                if name == "APPEND":
                    pop()
                else:
                    pop_mark()
                if not stack:
                    raise FormatError("pickle appends to nothing")
            elif name in ("PERSID", "BINPERSID"):
                if name == "BINPERSID":
                    pop()
                stack.append(Sym("persistent"))
            elif name in ("EXT1", "EXT2", "EXT4"):
                stack.append(Sym("extension"))
            elif name == "POP":
                pop()
            elif name == "POP_MARK":
                pop_mark()
            elif name == "DUP":
                stack.append(stack[-1] if stack else Sym("object"))
            elif name == "READONLY_BUFFER":
                pass
            elif name == "STOP":
                top = stack[-1] if stack else None
                break
            else:  # an opcode this scanner does not model: stay safe, say so
                stack.append(Sym("object"))
    except FormatError:
        raise
    except ValueError as exc:
        raise FormatError(f"not a readable pickle: {str(exc)[:200]}") from None
    except Exception as exc:  # genops may raise others on garbage
        raise FormatError(f"not a readable pickle ({type(exc).__name__})") from None
    if top is None:
        raise FormatError("pickle is truncated (no STOP)")
    return ScanResult(top, globals_, ops, True)


def describe(sym: Any) -> str:
    """A short type label for a scanned value."""
    if isinstance(sym, Sym):
        if sym.type == "type" and sym.ref:
            return f"type {sym.ref}"
        if sym.type == "type-ref":
            return f"reference to {sym.ref}"
        if sym.type == "module" and sym.ref:
            return f"module {sym.ref}"
        return sym.type
    return "object"
