"""Splitting a script into cells, and what a cell's code reads and assigns.

A script with ``# %%`` marker lines (VS Code, Spyder, Jupytext's percent format) is split at
them; a script without is split into its top-level statements. A cell's digest is made from
its syntax tree, so comments, blank lines and moving it down the file do not change it,
while any change to what it does does. Cells are compiled with the script's file name and
their real line numbers, so tracebacks and debuggers point into the script.
"""

from __future__ import annotations
import __future__

import ast
import dis
import re
import types
from dataclasses import dataclass

import blake3

_MARKER = re.compile(r"^#\s?%%")
_LOADS = frozenset({"LOAD_NAME", "LOAD_GLOBAL", "LOAD_FROM_DICT_OR_GLOBALS"})
_DELETES = frozenset({"DELETE_NAME", "DELETE_GLOBAL"})


@dataclass(frozen=True)
class Cell:
    """One cell of a script: 1-based ``index``, its line range, source and compiled code."""

    index: int
    first_line: int
    last_line: int
    source: str
    code: types.CodeType
    digest: str

    @property
    def lines(self) -> str:
        if self.first_line == self.last_line:
            return f"line {self.first_line}"
        return f"lines {self.first_line}-{self.last_line}"

    @property
    def title(self) -> str:
        """The first line of code, for messages."""
        for line in self.source.splitlines():
            text = line.strip()
            if text and not text.startswith("#"):
                return text if len(text) <= 60 else text[:59] + "…"
        return ""


def digest_of(nodes: list[ast.stmt]) -> str:
    """What the statements do, independent of comments, blank lines and position."""
    tree = ast.Module(body=nodes, type_ignores=[])
    return blake3.blake3(ast.dump(tree, include_attributes=False).encode()).hexdigest()


def _future_flags(tree: ast.Module) -> int:
    flags = 0
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            for alias in node.names:
                feature = getattr(__future__, alias.name, None)
                if feature is not None:
                    flags |= feature.compiler_flag
    return flags


def split(source: str, filename: str) -> list[Cell]:
    """The cells of ``source``; raises SyntaxError as compiling the whole file would."""
    tree = ast.parse(source, filename=filename)
    flags = _future_flags(tree)
    lines = source.splitlines()
    markers = [n for n, line in enumerate(lines, 1) if _MARKER.match(line)]
    groups: list[list[ast.stmt]] = []
    if markers:
        bounds = [*markers, len(lines) + 1]
        starts = [1, *markers]
        for start, end in zip(starts, bounds):
            nodes = [n for n in tree.body if start <= n.lineno < end]
            if nodes:
                groups.append(nodes)
    else:
        groups = [[node] for node in tree.body]
    cells = []
    for index, nodes in enumerate(groups, 1):
        first = nodes[0].lineno
        if nodes[0] is not tree.body[0]:
            first_node = nodes[0]
            is_docstring = (
                isinstance(first_node, ast.Expr)
                and isinstance(first_node.value, ast.Constant)
                and isinstance(first_node.value.value, str)
            )
            if is_docstring:  # only the file's first statement sets __doc__
                nodes = [ast.copy_location(ast.Pass(), first_node), *nodes]
        last = max(getattr(n, "end_lineno", None) or n.lineno for n in nodes)
        module = ast.Module(body=nodes, type_ignores=[])
        code = compile(module, filename, "exec", flags=flags, dont_inherit=True)
        text = "\n".join(lines[first - 1 : last])
        cells.append(Cell(index, first, last, text, code, digest_of(nodes)))
    return cells


def names(code: types.CodeType) -> tuple[set[str], set[str], set[str]]:
    """(read, assigned, deleted) global names of module-level ``code``, including the global
    names its functions, classes and comprehensions read."""
    reads: set[str] = set()
    stores: set[str] = set()
    deletes: set[str] = set()
    _walk(code, reads, stores, deletes, top=True)
    return reads, stores, deletes


def _walk(
    code: types.CodeType, reads: set[str], stores: set[str], deletes: set[str], *, top: bool
) -> None:
    for ins in dis.get_instructions(code):
        name = ins.argval
        if not isinstance(name, str):
            continue
        if ins.opname in _LOADS:
            reads.add(name)
        elif ins.opname == "STORE_GLOBAL" or (top and ins.opname == "STORE_NAME"):
            stores.add(name)
        elif ins.opname in _DELETES:
            deletes.add(name)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _walk(const, reads, stores, deletes, top=False)


_BINDS = (ast.Assign, ast.AnnAssign, ast.Import, ast.ImportFrom)
_DEFINES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _bound_names(stmt: ast.stmt) -> set[str]:
    """Names ``stmt`` binds whenever it completes: plain assignments, imports, definitions.
    Bindings under ``if``/``for``/``with``/``try`` may not happen, so they are not counted."""
    if isinstance(stmt, _DEFINES):
        return {stmt.name}
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in stmt.names if a.name != "*"}
    targets: list[ast.expr] = []
    if isinstance(stmt, ast.Assign):
        targets = list(stmt.targets)
    elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
        targets = [stmt.target]
    out: set[str] = set()
    while targets:
        target = targets.pop()
        if isinstance(target, ast.Name):
            out.add(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            targets.extend(target.elts)
        elif isinstance(target, ast.Starred):
            targets.append(target.value)
    return out


def _reads(nodes: list[ast.stmt]) -> set[str]:
    return names(compile(ast.Module(body=nodes, type_ignores=[]), "<cell>", "exec"))[0]


def inputs(tree: ast.Module) -> set[str]:
    """Global names the code of ``tree`` may read before it binds them itself: its inputs.
    Read from each statement's bytecode (so locals are never mistaken for globals), in order;
    a name counts as bound only after a statement that always binds it (``with … as name``
    binds before its body runs; bindings inside ``if``/``for``/``try`` may not happen)."""
    return _inputs(tree.body, set())


def _inputs(body: list[ast.stmt], bound: set[str]) -> set[str]:
    found: set[str] = set()
    bound = set(bound)
    for stmt in body:
        if isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                found |= _reads([ast.copy_location(ast.Expr(item.context_expr), stmt)]) - bound
                if isinstance(item.optional_vars, ast.Name):
                    bound.add(item.optional_vars.id)
                elif item.optional_vars is not None:
                    found |= _reads([ast.copy_location(ast.Expr(item.optional_vars), stmt)]) - bound
            found |= _inputs(stmt.body, bound)
            continue
        found |= _reads([stmt]) - bound
        if isinstance(stmt, _BINDS + _DEFINES):
            bound |= _bound_names(stmt)
    return found
