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
import re
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
    cls: Sym | None = None  # for instances: the class they were made from
    by_value: bool = False  # a class or function defined in the file (dill), not imported


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

_NEW_OBJECT = {
    "copyreg._reconstructor",
    "copy_reg._reconstructor",
    "copyreg.__newobj__",
    "copyreg.__newobj_ex__",
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


# What loading may call. Unpickling calls every global it REDUCEs, every class it
# instantiates (NEWOBJ, OBJ, INST, copyreg helpers) and a class's ``__setstate__`` on BUILD.
# A call is fine only when it is on this allow-list of constructors that build data and do
# nothing else; everything else is reported (``ScanResult.runs_code``), whatever its module.
_SAFE_CALLS = {
    # builtins that build values
    *(
        f"{module}.{name}"
        for module in ("builtins", "__builtin__")
        for name in [
            "list",
            "dict",
            "set",
            "frozenset",
            "tuple",
            "bytearray",
            "bytes",
            "complex",
            "slice",
            "range",
            "xrange",
            "int",
            "float",
            "str",
            "bool",
            "object",
            "type",
            "getattr",
            "property",
            "staticmethod",
            "classmethod",
        ]
    ),
    "_codecs.encode",  # protocol 2 bytes: _codecs.encode(text, "latin1")
    "copyreg._reconstructor",  # checked further below: the class it builds must be safe
    "copy_reg._reconstructor",
    "copyreg.__newobj__",
    "copyreg.__newobj_ex__",
    "collections.OrderedDict",
    "collections.defaultdict",
    "collections.deque",
    "collections.Counter",
    "collections.ChainMap",
    "datetime.date",
    "datetime.time",
    "datetime.datetime",
    "datetime.timedelta",
    "datetime.timezone",
    "zoneinfo.ZoneInfo._unpickle",
    "decimal.Decimal",
    "fractions.Fraction",
    "uuid.UUID",
    "uuid.SafeUUID",
    "pathlib.Path",
    "pathlib.PosixPath",
    "pathlib.WindowsPath",
    "pathlib.PurePath",
    "pathlib.PurePosixPath",
    "pathlib.PureWindowsPath",
    "ipaddress.IPv4Address",
    "ipaddress.IPv6Address",
    "ipaddress.IPv4Network",
    "ipaddress.IPv6Network",
    "re._compile",
    "functools.partial",
    "array.array",
    "array._array_reconstructor",
    "types.SimpleNamespace",
    "_frozen_importlib.ModuleSpec",  # a module's __spec__ and __loader__: records, no I/O
    "_frozen_importlib.BuiltinImporter",
    "_frozen_importlib_external.SourceFileLoader",
    "_frozen_importlib_external.SourcelessFileLoader",
    "dataclasses.Field",
    "dataclasses._DataclassParams",
    "dataclasses._FIELD_BASE",
    "types.MappingProxyType",
    "types.CodeType",
    "types.FunctionType",
    "types.CellType",
    "types.ModuleType",
    "enum.Enum",
    "numpy.ndarray",
    "numpy.dtype",
    "numpy.core.multiarray._reconstruct",
    "numpy._core.multiarray._reconstruct",
    "numpy.core.multiarray.scalar",
    "numpy._core.multiarray.scalar",
    "numpy.core.numeric._frombuffer",
    "numpy._core.numeric._frombuffer",
    "numpy.ma.core._mareconstruct",
    "numpy.ma.MaskedArray",
    "numpy.ma.core.MaskedArray",
    "numpy.random._pickle.__generator_ctor",
    "numpy.random._pickle.__randomstate_ctor",
    "numpy.random._pickle.__bit_generator_ctor",
    "numpy.random.bit_generator.__pyx_unpickle_SeedSequence",
    "numpy.random.bit_generator.SeedSequence",
    "numpy.random._mt19937.MT19937",
    "numpy.random._pcg64.PCG64",
    "numpy.random._pcg64.PCG64DXSM",
    "numpy.random._philox.Philox",
    "numpy.random._sfc64.SFC64",
    "pandas._libs.internals._unpickle_block",
    "pandas._libs.arrays.__pyx_unpickle_NDArrayBacked",
    "pandas._libs.tslibs.timedeltas._timedelta_unpickle",
    "pandas._libs.tslibs.timestamps._unpickle_timestamp",
    "pandas._libs.tslibs.nattype.__nat_unpickle",
    "pandas.core.indexes.base._new_Index",
    "pandas.core.indexes.datetimes._new_DatetimeIndex",
    "pandas.core.indexes.period._new_PeriodIndex",
    "pandas.core.internals.managers.BlockManager",
    "pandas.core.internals.managers.SingleBlockManager",
    "pyarrow.lib._restore_array",
    "pyarrow.lib.py_buffer",
    "pyarrow.lib.type_for_alias",
    # dill's constructors for what a session holds (functions, classes, cells…)
    *(
        f"{module}.{name}"
        for module in ("dill._dill", "dill.dill")
        for name in [
            "_create_function",
            "_create_code",
            "_create_cell",
            "_create_type",
            "_load_type",
            "_create_namedtuple",
            "_create_array",
            "_create_dtypemeta",
            "_create_lock",
            "_create_rlock",
            "_import_module",
            "_get_attr",
            "_create_ftype",
            "_create_typemap",
            "_create_typing_tuple",
            "_dict_from_dictproxy",
            "_create_weakref",
            "_create_weakproxy",
            "_create_stringi",
            "_create_stringo",
            "_create_class",
            "_create_code",
            "_getattr",
        ]
    ),
    "dill._shims._CELL_EMPTY",
    # Sessions' own pickle helpers (sessions.core.engine.serialize; old streams: core.serialize)
    *(
        f"{module}.{name}"
        for module in ("sessions.core.engine.serialize", "core.serialize")
        for name in ("_make_function", "_str_array", "_str_array_from", "_rebuild_array")
    ),
}
# Public classes of these packages are data types (DataFrame, Timestamp, CategoricalDtype…);
# their I/O and plotting modules are not, and anything else in them is reported.
_SAFE_CLASS_MODULES = ("pandas.core.", "pandas._libs.", "pandas.arrays", "numpy.dtypes")
_UNSAFE_CLASS_MODULES = ("pandas.io", "pandas.plotting", "pandas.core.computation")
# dill rebuilds ``range``, ``...`` and ``NotImplemented`` by eval of their repr: fine only
# for exactly those reprs.
_EVAL_REPR = re.compile(r"(?:x?range\(-?\d{1,30}(?:, -?\d{1,30}){0,2}\)|Ellipsis|NotImplemented)")
_EVAL_REPR_FUNCS = {"dill._dill._eval_repr", "dill.dill._eval_repr"}
_GETATTR_EVAL = {"dill._dill._getattr", "dill.dill._getattr"}
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,200}")
_GETITEM = {"_operator.getitem", "operator.getitem"}
_TYPING = ("typing.", "builtins.", "collections.abc.", "types.")  # List[int], dict[str, int]…
# Types dill loads by name (dill._load_type) whose call only builds a value.
_SAFE_DILL_TYPES = set(
    [
        "MappingProxyType",
        "MethodType",
        "PartialType",
        "FunctionType",
        "LambdaType",
        "CodeType",
        "CellType",
        "ModuleType",
        "DictItemsType",
        "DictKeysType",
        "DictValuesType",
        "OdictItemsType",
        "OdictKeysType",
        "OdictValuesType",
        "NoneType",
        "EllipsisType",
        "NotImplementedType",
    ]
)
_SETATTR_FUNCS = {"builtins.setattr", "__builtin__.setattr", "dill._dill._setattr"}
# Methods unpickling calls on an instance of a class defined in the file.
_HOOKS = ("__setstate__", "__new__", "__init__", "__setitem__", "append", "extend", "add")
MAX_REPORTED = 200


def safe_call(ref: str) -> bool:
    """Whether the global ``module.name`` is a known constructor that only builds data."""
    if ref in _SAFE_CALLS:
        return True
    module, _, name = ref.rpartition(".")
    if name[:1].isupper() and (module == "pandas" or module.startswith(_SAFE_CLASS_MODULES)):
        return not module.startswith(_UNSAFE_CLASS_MODULES)
    return False


def dangerous(ref: str) -> bool:
    """Whether calling the global ``module.name`` is not known to be safe (see ``safe_call``)."""
    return not safe_call(ref)


@dataclass
class ScanResult:
    """What the scan found."""

    top: Sym | None
    globals: list[str]
    ops: int
    complete: bool
    problem: str | None = None
    calls: list[str] = field(default_factory=list)

    def runs_code(self) -> list[str]:
        """What loading this pickle would call beyond the allow-listed constructors: globals
        (``timeit.timeit``, ``posix.system``) and code defined in the file itself."""
        return sorted(set(self.calls))

    def dangerous(self) -> list[str]:
        """The same as :meth:`runs_code` (kept for callers of the deny-list era)."""
        return self.runs_code()

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


def _hook(cls: Sym, hook: str) -> str | None:
    """What calling method ``hook`` of a class defined in the file would run, if anything
    beyond the allow-list: a global put in the class body, or the file's own code."""
    value = cls.items.get(hook) if cls.items is not None else None
    if value is None:
        return None
    if value.type == "type-ref":
        return None if value.ref and safe_call(value.ref) else str(value.ref)
    if value.type == "function":
        return f"{cls.ref or 'a class'}.{hook} (code defined in the file)"
    return None


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
            # a class pickled by value: its name, and its body (where its methods are)
            body = args.args[3].items if len(args.args) > 3 else None
            return Sym("type", ref=args.args[1].ref, items=body, by_value=True)
        if kind == "type" and ref == "dill._dill._create_namedtuple":
            return Sym("type", ref=args.args[0].ref if args.args else None, by_value=True)
        if kind == "function":
            return Sym("function", by_value=True)
        if kind == "attribute" and len(args.args) > 1 and args.args[1].type == "str":
            owner = args.args[0]
            return Sym("attribute", ref=f"{owner.ref or describe(owner)}.{args.args[1].ref}")
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


_COPY_BELOW = 8 << 20


class _View(io.RawIOBase):
    """A file over a memoryview that copies only what each read returns."""

    def __init__(self, view: memoryview) -> None:
        super().__init__()
        self._view = view.cast("B")
        self._at = 0

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._at

    def read(self, size: int | None = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else min(self._at + size, len(self._view))
        out = bytes(self._view[self._at : end])
        self._at = end
        return out

    def readline(self, size: int | None = -1) -> bytes:
        limit = min(size if size and size > 0 else 1 << 20, 1 << 20)
        piece = bytes(self._view[self._at : self._at + limit])
        cut = piece.find(b"\n")
        out = piece if cut < 0 else piece[: cut + 1]
        self._at += len(out)
        return out


def scan(source: bytes | IO[bytes], *, max_ops: int = MAX_OPS) -> ScanResult:
    """Walk a pickle symbolically. Raises FormatError when it is not a readable pickle."""
    stream: IO[bytes] = (
        io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else _Bounded(source)  # type: ignore[assignment]
    )
    stack: list[Sym] = []
    marks: list[int] = []
    memo: dict[int, Sym] = {}
    globals_: list[str] = []
    calls: list[str] = []
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

    def report(what: str | None) -> None:
        if what and len(calls) < MAX_REPORTED and what not in calls:
            calls.append(what[:300])

    def instantiate(cls: Sym, *, init: bool) -> Sym:
        """An object made from ``cls`` (NEWOBJ, copyreg helpers; ``init``: a class call)."""
        if cls.type == "type-ref":
            if not cls.ref or not safe_call(cls.ref):
                report(cls.ref or "an unnamed class")
        elif cls.type == "type" and cls.by_value:
            report(_hook(cls, "__new__"))
            if init:
                report(_hook(cls, "__init__"))
        elif cls.type == "type":  # a builtin type dill loads by name (dill._load_type)
            if cls.ref not in _SAFE_DILL_TYPES and not safe_call(f"builtins.{cls.ref}"):
                report(f"builtins.{cls.ref}")
        else:
            report(f"a computed class ({describe(cls)})")
        made = Sym(cls.ref or "object", cls=cls if cls.by_value else None)
        return made

    def call(func: Sym, args: Sym) -> Sym:
        """REDUCE: what ``func(*args)`` would run, reported unless allow-listed."""
        ref = func.ref or ""
        first = args.args[0] if args.args else None
        if func.type in ("type-ref", "attribute") and ref:
            if ref in _GETATTR_EVAL:
                # dill._dill._getattr evals a piece of its third argument
                parts = (
                    args.args[2].ref.split("'") if len(args.args) > 2 and args.args[2].ref else []
                )
                name = args.args[1].ref if len(args.args) > 1 else None
                if (
                    len(parts) < 4
                    or not _DOTTED.fullmatch(parts[3])
                    or not str(name).isidentifier()
                ):
                    report(
                        f"{ref} (evaluates {str(args.args[2].ref if len(args.args) > 2 else '')[:60]!r})"
                    )
                return Sym("attribute")
            if ref in _GETITEM:
                if (
                    first is None
                    or first.type != "type-ref"
                    or not str(first.ref).startswith(_TYPING)
                ):
                    report(f"{ref} on {describe(first)}")
                return Sym("object")
            if ref in _EVAL_REPR_FUNCS:
                text = first.ref if first is not None and first.type == "str" else None
                if text is None or not _EVAL_REPR.fullmatch(text):
                    report(f"{ref} (evaluates {str(text)[:60]!r})")
                return Sym("object")
            if ref in _SETATTR_FUNCS:
                if first is None or first.type in ("type-ref", "module", "attribute"):
                    report(f"{ref} on {first.ref if first is not None else '?'}")
                return Sym("NoneType")
            if not safe_call(ref):
                report(ref)
                return _reduce_type(func, args)
            if ref in _NEW_OBJECT and first is not None:
                if ref.endswith("_reconstructor") and len(args.args) > 1:
                    base = args.args[1]
                    known = (base.type == "type-ref" and safe_call(str(base.ref))) or (
                        base.type == "type"
                        and not base.by_value
                        and safe_call(f"builtins.{base.ref}")
                    )
                    if not known:
                        report(f"{ref} with base {base.ref or describe(base)}")
                made = instantiate(first, init=False)
                made.type = _reduce_type(func, args).type
                return made
            return _reduce_type(func, args)
        if func.type == "type":
            made = instantiate(func, init=True)
            return made
        if func.type == "attribute":
            report("an attribute of an object in the file")
            return Sym("object")
        if func.type == "function" and func.by_value:
            report("a function defined in the file")
        else:
            report(f"a computed callable ({describe(func)})")
        return Sym("object")

    try:
        for opcode, arg, _pos in pickletools.genops(stream):
            ops += 1
            if ops > max_ops:
                return ScanResult(
                    top, globals_, ops, False, f"stopped after {max_ops} opcodes", calls
                )
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
                    stack.append(instantiate(Sym("type-ref", ref=ref), init=True))
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
                stack.append(call(func, args))
            elif name == "NEWOBJ":
                _args, cls = pop(), pop()
                stack.append(instantiate(cls, init=False))
            elif name == "NEWOBJ_EX":
                pop()
                _args, cls = pop(), pop()
                stack.append(instantiate(cls, init=False))
            elif name == "OBJ":
                items = pop_mark()
                cls = items[0] if items else Sym("object")
                stack.append(instantiate(cls, init=True))
            elif name == "BUILD":
                state = pop()
                if not stack:
                    raise FormatError("pickle builds nothing")
                target = stack[-1]
                if target.cls is not None:
                    report(_hook(target.cls, "__setstate__"))
                if target.type == "type" and target.by_value and state.items is not None:
                    target.items = {**(target.items or {}), **state.items}
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
                    if stack[-1].cls is not None:
                        report(_hook(stack[-1].cls, "__setitem__"))
            elif name == "SETITEMS":
                pairs = pop_mark()
                if stack:
                    set_items(stack[-1], pairs)
                    if stack[-1].cls is not None:
                        report(_hook(stack[-1].cls, "__setitem__"))
            elif name in ("APPEND", "ADDITEMS", "APPENDS"):
                if name == "APPEND":
                    pop()
                else:
                    pop_mark()
                if not stack:
                    raise FormatError("pickle appends to nothing")
                if stack[-1].cls is not None:
                    for hook in ("add",) if name == "ADDITEMS" else ("append", "extend"):
                        report(_hook(stack[-1].cls, hook))
            elif name in ("PERSID", "BINPERSID"):
                if name == "BINPERSID":
                    pop()
                stack.append(Sym("persistent"))
            elif name in ("EXT1", "EXT2", "EXT4"):
                report(f"copyreg extension {arg}")  # whatever this machine registered
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
    return ScanResult(top, globals_, ops, True, None, calls)


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


# --- the strings a pickle holds, with where they sit ----------------------------------------

MAX_STRING = 64 * 1024  # longer strings are judged by their start
_CODE_MAKERS = ("_create_function", "_make_function", "FunctionType", "_create_lambda")
_CODE_PARTS = ("_create_code", "CodeType", "_create_cell")
_TYPE_MAKERS = ("_create_type", "_create_namedtuple", "_create_class")


class _Node:
    """A value in the symbolic walk of :func:`pickled_strings`: a str/bytes leaf, or a
    container whose children carry a label (``["key"]``, ``[3]``, ``.attr``, or ``""`` for
    arguments of a call) and the name they were stored under, if any."""

    __slots__ = ("children", "kind", "value")

    def __init__(self, kind: str, value: str | bytes | None = None) -> None:
        self.kind = kind  # str, bytes, container, code (functions, code objects, classes), global
        self.value = value
        self.children: list[tuple[str, str | None, _Node]] = []


_OPAQUE = _Node("other")


@dataclass(frozen=True)
class Leaf:
    """A string or bytes constant reached in a pickle: the variable it belongs to, the path
    from it (``config["db"]["password"]``), the nearest name it was stored under (a dict key,
    attribute or variable name) and whether it sits inside code (functions, classes)."""

    variable: str
    path: str
    context: str | None
    value: str | bytes
    in_code: bool


@dataclass
class Strings:
    leaves: list[Leaf]
    complete: bool
    code_names: dict[str, list[str]]  # variable -> identifiers found inside its code


def pickled_strings(
    source: bytes | memoryview, *, max_ops: int = 500_000, max_leaves: int = 200_000
) -> Strings:
    """Every str/bytes constant a group stream (a pickle of ``{name: value}``) holds, per
    variable, with its path: read from the opcodes, nothing is imported or run. Stops at
    ``max_ops`` opcodes (``complete`` is then False). Raises FormatError on a bad pickle."""
    stack: list[_Node] = []
    marks: list[int] = []
    memo: dict[int, _Node] = {}
    top: _Node | None = None
    ops = 0
    complete = True

    def pop() -> _Node:
        if not stack:
            raise FormatError("pickle stack underflow")
        return stack.pop()

    def pop_mark() -> list[_Node]:
        if not marks:
            raise FormatError("pickle has no mark where one is needed")
        start = marks.pop()
        items = stack[start:]
        del stack[start:]
        return items

    def add_pairs(target: _Node, pairs: list[_Node], attrs: bool = False) -> None:
        for i in range(0, len(pairs) - 1, 2):
            key, value = pairs[i], pairs[i + 1]
            if key.kind in ("str", "bytes") and key.value is not None:
                name = key.value if isinstance(key.value, str) else key.value.decode("latin-1")
                label = f".{name}" if attrs and name.isidentifier() else f"[{name!r}]"
                target.children.append((label, name[:200], value))
                if key.kind == "str" and len(name) >= 16:  # a key can itself be a token
                    target.children.append((f"[{name[:40]!r}…]", None, key))
            else:
                target.children.append(("[…]", None, value))

    def adopt_state(target: _Node, state: _Node) -> None:
        """BUILD: an object's state; dicts of it become attributes."""
        if state.kind == "dict":
            for label, name, child in state.children:
                if name is not None and label.startswith("["):
                    target.children.append(
                        (f".{name}" if name.isidentifier() else label, name, child)
                    )
                else:
                    target.children.append((label, name, child))
        elif state.kind == "tuple":
            for _, _, part in state.children:
                adopt_state(target, part)
        else:
            target.children.append(("", None, state))

    # bytes are shared by BytesIO; a big view (a save's stream) is read in place, not copied
    # (a small one is copied: BytesIO reads at C speed)
    stream: IO[bytes] = (
        io.BytesIO(source)
        if isinstance(source, bytes) or len(source) < _COPY_BELOW
        else _View(memoryview(source))  # type: ignore[assignment]
    )
    try:
        for opcode, arg, _pos in pickletools.genops(stream):
            ops += 1
            if ops > max_ops:
                complete = False
                break
            name: str = opcode.name
            if len(stack) > MAX_STACK or len(marks) > MAX_STACK:
                raise FormatError("pickle nests too deeply")
            if name in ("PROTO", "FRAME"):
                continue
            if name.endswith("UNICODE"):
                stack.append(_Node("str", str(arg)[:MAX_STRING]))
            elif name in ("BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8"):
                stack.append(_Node("bytes", bytes(arg or b"")[:MAX_STRING]))
            elif name in ("STRING", "BINSTRING", "SHORT_BINSTRING"):
                raw = arg if isinstance(arg, bytes) else str(arg).encode("latin-1", "replace")
                stack.append(_Node("bytes", raw[:MAX_STRING]))
            elif name in _ATOM_TYPES:
                kind = _ATOM_TYPES[name]
                stack.append(_Node(kind) if kind in ("list", "tuple", "set") else _OPAQUE)
            elif name in ("EMPTY_DICT", "DICT"):
                node = _Node("dict")
                if name == "DICT":
                    add_pairs(node, pop_mark())
                stack.append(node)
            elif name in ("LIST", "TUPLE", "FROZENSET"):
                node = _Node("list" if name == "LIST" else "tuple")
                for i, item in enumerate(pop_mark()):
                    node.children.append((f"[{i}]", None, item))
                stack.append(node)
            elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
                items = [pop() for _ in range(int(name[-1]))][::-1]
                node = _Node("tuple")
                node.children = [(f"[{i}]", None, item) for i, item in enumerate(items)]
                stack.append(node)
            elif name in ("GLOBAL", "INST"):
                module, _, qual = str(arg).partition(" ")
                node = _Node("global", f"{module}.{qual}")
                if name == "INST":
                    made = _Node("container")
                    made.children = [("", None, item) for item in pop_mark()]
                    node = made
                stack.append(node)
            elif name == "STACK_GLOBAL":
                qual_node, module_node = pop(), pop()
                module_name, qual_name = module_node.value, qual_node.value
                if not isinstance(module_name, str) or not isinstance(qual_name, str):
                    module_name, qual_name = "?", "?"
                stack.append(_Node("global", f"{module_name}.{qual_name}"))
            elif name == "MARK":
                marks.append(len(stack))
            elif name in ("MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT"):
                if not stack:
                    raise FormatError("pickle memoizes an empty stack")
                if len(memo) >= MAX_MEMO:
                    raise FormatError("pickle memo is too large")
                memo[len(memo) if name == "MEMOIZE" else int(str(arg))] = stack[-1]
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                found = memo.get(int(str(arg)))
                if found is None:
                    raise FormatError("pickle refers to a memo entry it never made")
                stack.append(found)
            elif name in ("REDUCE", "NEWOBJ", "NEWOBJ_EX", "OBJ"):
                if name == "OBJ":
                    items = pop_mark()
                    func, args = (items[0] if items else _OPAQUE), _Node("tuple")
                    args.children = [("", None, item) for item in items[1:]]
                else:
                    if name == "NEWOBJ_EX":
                        pop()
                    args, func = pop(), pop()
                ref = func.value if func.kind == "global" and isinstance(func.value, str) else ""
                last = ref.rsplit(".", 1)[-1]
                kind = "container"
                if last in _CODE_MAKERS or last in _CODE_PARTS or last in _TYPE_MAKERS:
                    kind = "code"
                node = _Node(kind)
                given = [c for _, _, c in args.children] if args.kind == "tuple" else [args]
                if last in ("getattr", "_get_attr", "_getattr") and len(given) > 1:
                    # getattr(module, "_setattr"): remember which function comes out
                    owner, attr = given[0].value, given[1].value
                    if isinstance(attr, str):
                        stack.append(
                            _Node("global", f"{owner if isinstance(owner, str) else '?'}.{attr}")
                        )
                        continue
                for child in given:
                    node.children.append(("", None, child))
                if ("set" in last.lower() or "state" in last.lower()) and len(given) > 1:
                    # setattr(obj, "name", value), _set_function_state(f, state): the data
                    # now belongs to the first argument (the result is usually discarded)
                    target = given[0]
                    if target.kind not in ("str", "bytes", "global") and target is not _OPAQUE:
                        named = given[1].value if given[1].kind == "str" else None
                        if isinstance(named, str) and len(given) > 2:
                            target.children.append((f".{named}", named, given[2]))
                        else:
                            target.children.extend(("", None, c) for c in given[1:])
                stack.append(node)
            elif name == "BUILD":
                state = pop()
                if not stack:
                    raise FormatError("pickle builds nothing")
                target = stack[-1]
                if target is _OPAQUE:
                    continue
                if target.kind in ("str", "bytes", "global"):
                    continue
                adopt_state(target, state)
            elif name in ("SETITEM", "SETITEMS"):
                pairs = [*reversed([pop(), pop()])] if name == "SETITEM" else pop_mark()
                if stack and stack[-1] is not _OPAQUE:
                    add_pairs(stack[-1], pairs)
            elif name in ("APPEND", "APPENDS", "ADDITEMS"):
                items = [pop()] if name == "APPEND" else pop_mark()
                if not stack:
                    raise FormatError("pickle appends to nothing")
                target = stack[-1]
                if target is not _OPAQUE:
                    start = len(target.children)
                    for i, item in enumerate(items):
                        label = "{…}" if name == "ADDITEMS" else f"[{start + i}]"
                        target.children.append((label, None, item))
            elif name in ("PERSID", "BINPERSID", "EXT1", "EXT2", "EXT4"):
                if name == "BINPERSID":
                    pop()
                stack.append(_OPAQUE)
            elif name == "POP":
                pop()
            elif name == "POP_MARK":
                pop_mark()
            elif name == "DUP":
                stack.append(stack[-1] if stack else _OPAQUE)
            elif name == "READONLY_BUFFER":
                pass
            elif name == "STOP":
                top = stack[-1] if stack else None
                break
            else:
                stack.append(_OPAQUE)
    except FormatError:
        raise
    except Exception as exc:  # genops on garbage
        raise FormatError(f"not a readable pickle ({type(exc).__name__})") from None
    if top is None:
        if complete:
            raise FormatError("pickle is truncated (no STOP)")
        if stack and stack[0].kind == "dict":  # stopped early: keep what was read so far
            top = stack[0]
            pending = stack[marks[0] :] if marks and marks[0] >= 1 else []
            add_pairs(top, pending[: len(pending) // 2 * 2])
    return _collect(top, complete, max_leaves)


def _collect(top: _Node | None, complete: bool, max_leaves: int) -> Strings:
    """Flatten the walked tree into leaves per variable (each node visited once per variable)."""
    leaves: list[Leaf] = []
    code_names: dict[str, list[str]] = {}
    if top is None or top.kind != "dict":
        return Strings(leaves, complete, code_names)
    for label, variable, child in top.children:
        if variable is None or not label.startswith("["):
            continue
        seen: set[int] = set()
        names = code_names.setdefault(variable, [])
        # (node, path, context, inside code)
        todo: list[tuple[_Node, str, str | None, bool]] = [(child, variable, variable, False)]
        while todo and len(leaves) < max_leaves:
            node, path, context, in_code = todo.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if node.kind in ("str", "bytes") and node.value is not None:
                leaves.append(Leaf(variable, path, context, node.value, in_code))
                if (
                    in_code
                    and isinstance(node.value, str)
                    and node.value.isidentifier()
                    and len(names) < 10_000
                ):
                    names.append(node.value)
                continue
            code_here = in_code or node.kind == "code"
            for sub_label, sub_name, sub in reversed(node.children):
                if sub is _OPAQUE or sub.kind == "global":
                    continue
                sub_path = path if code_here else path + sub_label
                todo.append((sub, sub_path, sub_name or context, code_here))
    return Strings(leaves, complete, code_names)
