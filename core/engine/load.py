"""Loading a snapshot, or chosen variables of it, into a namespace.

Only the groups holding the wanted variables (and what they depend on) are read, so one
variable costs its own size. Blobs are read and hash-checked on worker threads while
earlier groups unpickle. Each group loads or fails on its own: a failure is reported per
variable and the rest goes on. Versions of the modules a variable needs are compared with
what is installed now.
"""

from __future__ import annotations

import difflib
import importlib
import platform
import sys
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sessions.core.engine import environment, serialize
from sessions.core.errors import Cancelled, FormatError, SessionsError
from sessions.core.progress import ProgressCallback, Reporter
from sessions.core.sharing.signing import TrustError, check_trusted
from sessions.core.store.manifest import Manifest
from sessions.core.store.session_dir import Entry, Store


@dataclass
class LoadReport:
    """What a load did, per variable."""

    ref: str
    id: str
    loaded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    imported: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)  # held other values before this load
    kept: list[str] = field(default_factory=list)  # already there and left alone (replace=False)

    @property
    def ok(self) -> bool:
        return not self.failed

    def __str__(self) -> str:
        lines = [
            f"loaded {plural(len(self.loaded), 'variable')} from {self.ref}"
            + (f" and {plural(len(self.imported), 'import')}" if self.imported else "")
            + (f"; {len(self.failed)} failed" if self.failed else "")
        ]
        if self.replaced:
            lines.append(f"  replaced existing {', '.join(self.replaced)}")
        if self.kept:
            lines.append(f"  kept existing {', '.join(self.kept)} (not replaced)")
        lines += [f"  failed {name}: {reason}" for name, reason in self.failed.items()]
        lines += [f"  warning: {text}" for text in self.warnings]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "id": self.id,
            "loaded": list(self.loaded),
            "imported": list(self.imported),
            "failed": dict(self.failed),
            "warnings": list(self.warnings),
            "replaced": list(self.replaced),
            "kept": list(self.kept),
        }


def plural(count: int, noun: str) -> str:
    """``1 variable``, ``3 variables``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


class _Namespace:
    """Writes into the target namespace, remembering what each name held before, so a
    cancelled load puts everything back and a finished one can say what it replaced."""

    _ABSENT = object()

    def __init__(self, ns: dict[str, Any], replace: bool) -> None:
        self.ns = ns
        self.replace = replace
        self.before: dict[str, Any] = {}

    def set(self, name: str, value: Any, report: LoadReport) -> bool:
        """Bind ``name`` unless it exists and must not be replaced; False when left alone."""
        old = self.ns.get(name, self._ABSENT)
        if old is not self._ABSENT and not self.replace:
            if name not in report.kept:
                report.kept.append(name)
            return False
        self.before.setdefault(name, old)
        self.ns[name] = value
        return True

    def replaced(self) -> list[str]:
        return [
            name
            for name, old in self.before.items()
            if old is not self._ABSENT and old is not self.ns.get(name, self._ABSENT)
        ]

    def undo(self) -> None:
        for name, old in reversed(list(self.before.items())):
            if old is self._ABSENT:
                self.ns.pop(name, None)
            else:
                self.ns[name] = old


def _import(module: str, attr: str | None) -> Any:
    value: Any = importlib.import_module(module)
    for part in (attr or "").split(".") if attr else []:
        value = getattr(value, part)
    return value


def _closure(manifest: Manifest, names: Iterable[str]) -> set[str]:
    by_name = {v.name: v for v in manifest.variables}
    todo = list(names)
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        var = by_name.get(name)
        if var is not None:
            todo.extend(var.deps)
            todo.extend(manifest.groups[var.group].names)
    return seen


def _order(manifest: Manifest, wanted_groups: set[int]) -> list[int]:
    """Groups in dependency order (cycles broken by save order), code first, then the
    groups that take the longest to unpickle."""
    owner = {name: i for i, g in enumerate(manifest.groups) for name in g.names}
    deps: dict[int, set[int]] = {i: set() for i in wanted_groups}
    for var in manifest.variables:
        if var.group in deps:
            deps[var.group] |= {owner[d] for d in var.deps if d in owner} - {var.group}
    ordered: list[int] = []
    placed: set[int] = set()

    def visit(index: int, path: set[int]) -> None:
        if index in placed or index in path or index not in deps:
            return
        path.add(index)
        for dep in sorted(deps[index]):
            visit(dep, path)
        path.discard(index)
        placed.add(index)
        ordered.append(index)

    def cpu_cost(index: int) -> int:
        """Unpickling work, roughly: in-band bytes and compressed (text-like) buffers."""
        group = manifest.groups[index]
        return group.stream.size + sum(b.size for b in group.buffers if b.codec != "raw")

    # code first (others may refer to it by name); then the groups that keep the CPU busy
    # longest, so plain buffers are read on worker threads while those unpickle
    code_first = sorted(
        wanted_groups,
        key=lambda i: (manifest.groups[i].serializer != "dill", -cpu_cost(i), i),
    )
    for index in code_first:
        visit(index, set())
    return ordered


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, SessionsError):
        return str(exc)
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300]}" if text else type(exc).__name__


def version_warnings(manifest: Manifest, names: Iterable[str]) -> list[str]:
    """Modules a loaded variable needs whose installed version differs from the saved one."""
    needed: dict[str, str] = {}
    wanted = set(names)
    for var in manifest.variables:
        if var.name in wanted:
            needed.update(var.modules)
    out = []
    for module, saved in sorted(needed.items()):
        installed = environment.module_version(module)
        if installed is None:
            out.append(f"{module} {saved} was used when saving but is not installed")
        elif installed != saved:
            out.append(f"{module}: saved with {saved}, installed {installed}")
    saved_py = manifest.python.get("version", "")
    other_minor = saved_py.rsplit(".", 1)[0] != platform.python_version().rsplit(".", 1)[0]
    if saved_py and other_minor and any(g.serializer == "dill" for g in manifest.groups):
        out.append(
            f"saved with Python {saved_py}, running {platform.python_version()}: "
            "functions and classes may not load"
        )
    return out


def load_entry(
    store: Store,
    entry: Entry,
    *,
    names: Iterable[str] | None = None,
    namespace: dict[str, Any] | None = None,
    trust: bool = False,
    replace: bool = True,
    progress: ProgressCallback | None = None,
) -> LoadReport:
    """Load ``entry`` (everything, or ``names`` plus what they need) into ``namespace``.

    Loading unpickles, so it is refused (TrustError) unless the snapshot is signed by you or
    a trusted key; ``trust=True`` is the explicit one-time override (also needed for foreign
    dill files, which carry no signature). Names the namespace already holds are replaced
    and listed in ``report.replaced``; with ``replace=False`` they are left as they are and
    listed in ``report.kept``. ``progress`` is called (on this thread) with bytes read and
    variables loaded; raising :class:`~sessions.core.errors.Cancelled` from it stops the load
    and puts back every name it had bound, so the namespace is as it was."""
    ns = namespace if namespace is not None else vars(sys.modules["__main__"])
    wanted_list = None if names is None else [names] if isinstance(names, str) else list(names)
    if entry.kind == "foreign":
        from sessions.core.engine.foreign import load_foreign

        if not trust:
            raise TrustError(
                f"refusing to load {entry.ref}: a dill file carries no signature and loading "
                "it runs whatever it holds; if you trust it, load it once with trust=True "
                "(--trust-once)"
            )

        report = LoadReport(entry.ref, entry.id)
        had = set(ns)
        got = load_foreign(entry.path, ns, wanted_list)
        report.replaced = sorted(set(got) & had)
        report.loaded = sorted(got)
        for name in wanted_list or []:
            if name not in got:
                report.failed[name] = "not in this file"
        return report
    if entry.manifest is None:
        raise FormatError(f"snapshot {entry.ref} is damaged: {entry.error}")
    manifest = entry.manifest
    if not trust:
        check_trusted(manifest)
    report = LoadReport(manifest.ref, manifest.id)
    variables = {v.name: v for v in manifest.variables}
    imports = {i.name: i for i in manifest.imports}
    if wanted_list is None:
        chosen = set(variables) | set(imports)
    else:
        chosen = set()
        for name in wanted_list:
            if name in variables or name in imports:
                chosen.add(name)
            elif name in manifest.skipped:
                report.failed[name] = f"was not saved: {manifest.skipped[name]}"
            else:
                close = difflib.get_close_matches(name, list(variables) + list(imports), n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                report.failed[name] = f"not in snapshot {manifest.ref}{hint}"
        chosen = _closure(manifest, chosen)
    target = _Namespace(ns, replace)
    wanted_groups = {variables[n].group for n in chosen if n in variables}
    if not replace:  # a group whose every name is already here need not be read at all
        for index in list(wanted_groups):
            names_here = [n for n in manifest.groups[index].names if n in ns]
            if len(names_here) == len(manifest.groups[index].names):
                wanted_groups.discard(index)
                report.kept += [n for n in names_here if n not in report.kept]
    order = _order(manifest, wanted_groups)
    reporter = Reporter(
        progress,
        "load",
        total_bytes=sum(manifest.groups[i].size for i in order),
        total_items=sum(len(manifest.groups[i].names) for i in order),
    )
    on_bytes = reporter.add_bytes if progress is not None else None
    retry: list[int] = []
    try:
        for name in sorted(chosen & set(imports)):
            record = imports[name]
            try:
                if target.set(name, _import(record.module, record.attr), report):
                    report.imported.append(name)
            except Exception as exc:
                report.failed[name] = f"cannot import {record.module}: {_one_line(exc)}"
        with ThreadPoolExecutor(2, thread_name_prefix="sessions-load") as pool:
            try:
                reads: dict[int, list[Future[bytearray]]] = {
                    i: [
                        pool.submit(store.blobs.read, b.hash, on_bytes=on_bytes)
                        for b in manifest.groups[i].blobs
                    ]
                    for i in order
                }
                for index in order:
                    reporter.poll()  # between groups: a clean point to stop
                    if not _load_group(manifest, index, reads.pop(index), target, report, reporter):
                        retry.append(index)
                    reporter.advance(items=len(manifest.groups[index].names))
                reporter.poll()  # the last point to stop (and put everything back)
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        for index in retry:  # a by-name reference to a group that loaded later
            group = manifest.groups[index]
            if all(report.failed.get(n, "").startswith("needs '") for n in group.names):
                for name in group.names:
                    report.failed.pop(name, None)
                blobs = [pool_read(store, b.hash) for b in group.blobs]
                _load_group(manifest, index, blobs, target, report)
    except Cancelled:
        target.undo()
        raise Cancelled(
            f"load of {manifest.ref} cancelled: the namespace is as it was before"
        ) from None
    except BaseException:
        target.undo()  # an interrupted load leaves nothing half-bound either
        raise
    reporter.finish()
    position = {name: i for i, name in enumerate(variables)}
    report.loaded.sort(key=position.__getitem__)
    report.replaced = sorted(target.replaced(), key=lambda n: position.get(n, len(position)))
    report.warnings = version_warnings(manifest, report.loaded)
    return report


class _Done:
    """A finished future stand-in for the retry pass."""

    def __init__(self, value: Any = None, error: BaseException | None = None) -> None:
        self._value, self._error = value, error

    def result(self) -> Any:
        if self._error is not None:
            raise self._error
        return self._value


def pool_read(store: Store, digest: str) -> Any:
    try:
        return _Done(store.blobs.read(digest))
    except Exception as exc:
        return _Done(error=exc)


def _load_group(
    manifest: Manifest,
    index: int,
    reads: list[Any],
    target: _Namespace,
    report: LoadReport,
    reporter: Reporter | None = None,
) -> bool:
    group = manifest.groups[index]
    ns = target.ns
    try:
        blobs = [reporter.wait(f) if reporter is not None else f.result() for f in reads]
        values = serialize.load_group(group.serializer, blobs[0], blobs[1:], ns, manifest.module)
    except Cancelled:
        raise
    except Exception as exc:
        reason = _one_line(exc)
        for name in group.names:
            report.failed[name] = reason
        return False
    for name in group.names:
        if name in values:
            if target.set(name, values[name], report):
                report.loaded.append(name)
        else:
            report.failed[name] = "missing from its stored group"
    return True


def load(
    store: Store,
    ref: str,
    *,
    names: Iterable[str] | None = None,
    namespace: dict[str, Any] | None = None,
    trust: bool = False,
    replace: bool = True,
    progress: ProgressCallback | None = None,
) -> LoadReport:
    """Resolve ``ref`` and load it; see :func:`load_entry`."""
    return load_entry(
        store,
        store.resolve(ref),
        names=names,
        namespace=namespace,
        trust=trust,
        replace=replace,
        progress=progress,
    )
