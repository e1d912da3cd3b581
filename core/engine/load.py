"""Loading a snapshot, or chosen variables of it, into a namespace.

Only the groups holding the wanted variables (and what they depend on) are read, so one
variable costs its own size. When the groups to read are big, blobs are read and hash-checked
on worker threads while earlier groups unpickle; a small load (many small variables, or one)
reads on this thread, since starting threads costs more than it overlaps. Each group loads or
fails on its own: a failure is reported per variable and the rest goes on. Versions of the
modules a variable needs are compared with what is installed now.

The per-load fixed cost is kept near zero: modules only some loads need (thread pools,
close-match hints, the environment probe) are imported when first needed, and a batch of
small values is bound with one dict update.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import TYPE_CHECKING, Any

from sessions.core.engine import batches, collector, serialize
from sessions.core.errors import Cancelled, FormatError, SessionsError
from sessions.core.progress import ProgressCallback, Reporter
from sessions.core.sharing.signing import TrustError, check_trusted
from sessions.core.store.manifest import Manifest
from sessions.core.store.manifest_index import ManifestIndex
from sessions.core.store.session_dir import Entry, Store
from sessions.core.units import plural

if TYPE_CHECKING:
    from concurrent.futures import Future

# Wanted groups storing less than this in all are read on the loading thread: a pool's
# threads cost more to start than they can overlap with unpickling so little.
POOL_AT = 8 << 20


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

    def _repr_html_(self) -> str:
        from sessions.core.reprs import load_report_html

        return load_report_html(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


class _Namespace:
    """Writes into the target namespace, remembering what each name held before, so a
    cancelled load puts everything back and a finished one can say what it replaced.

    Only names that held a value are remembered with it (``held``). The names bound are kept
    as the sequences they were bound in, and made a set only once a name that is already
    there must be told apart from one this load bound earlier: binding a batch of fresh
    names into an empty namespace costs a few operations in C, not one per name."""

    _ABSENT = object()

    def __init__(self, ns: dict[str, Any], replace: bool) -> None:
        self.ns = ns
        self.replace = replace
        self.held: dict[str, Any] = {}  # names there before this load, with what they held
        self._runs: list[Sequence[str]] = []  # the names bound, as bound
        self._bound: set[str] | None = None  # the same as a set, once one was needed

    def _bound_set(self) -> set[str]:
        if self._bound is None:
            self._bound = set(chain.from_iterable(self._runs))
            self._runs = []
        return self._bound

    def _mark(self, names: Sequence[str]) -> None:
        if self._bound is None:
            self._runs.append(names)
        else:
            self._bound.update(names)

    def set(self, name: str, value: Any, report: LoadReport) -> bool:
        """Bind ``name`` unless it exists and must not be replaced; False when left alone."""
        old = self.ns.get(name, self._ABSENT)
        if old is not self._ABSENT:
            if not self.replace:
                if name not in report.kept:
                    report.kept.append(name)
                return False
            if name not in self.held and name not in self._bound_set():
                self.held[name] = old
        self._mark((name,))
        self.ns[name] = value
        return True

    def set_all(self, names: Sequence[str], values: dict[str, Any], report: LoadReport) -> None:
        """Bind every name of ``names`` that ``values`` holds, as :meth:`set` does one by one
        (in bulk: a batch of small values binds hundreds at once, in C); the others failed."""
        ns = self.ns
        if values.keys() == set(names):
            found: Sequence[str] = names
        else:
            found = [n for n in names if n in values]
            for name in names:
                if name not in values:
                    report.failed[name] = "missing from its stored group"
        if not self.replace:
            for name in found:
                if self.set(name, values[name], report):
                    report.loaded.append(name)
            return
        held = ns.keys() & found  # usually none: a fresh namespace, or new names
        if held:
            held -= self.held.keys()
            held -= self._bound_set()  # bound earlier in this load: not what was there
            self.held.update({n: ns[n] for n in held})
        self._mark(found)
        ns.update(values if found is names else {n: values[n] for n in found})
        report.loaded.extend(found)

    def replaced(self) -> list[str]:
        ns, absent = self.ns, self._ABSENT
        return [name for name, old in self.held.items() if old is not ns.get(name, absent)]

    def undo(self) -> None:
        ns, held = self.ns, self.held
        bound = self._bound if self._bound is not None else chain.from_iterable(self._runs)
        for name in bound:
            if name in held:
                ns[name] = held[name]
            else:
                ns.pop(name, None)


def _import(module: str, attr: str | None) -> Any:
    value: Any = importlib.import_module(module)
    for part in (attr or "").split(".") if attr else []:
        value = getattr(value, part)
    return value


def _closure(index: ManifestIndex, names: Iterable[str], imports: set[str]) -> set[str]:
    """``names`` plus every name they need: their groups' other members (which share objects
    with them; not for a group of independent values) and their dependencies."""
    todo = list(names)
    seen: set[str] = set()
    listed: dict[int, frozenset[str]] = {}
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        found = index.find(name) if name not in imports else None
        if found is not None:
            group, _, deps = index.group(found[1])
            members = listed.get(found[1])
            if members is None:
                members = listed[found[1]] = frozenset(group.names)
            if name not in members:  # a name bucket and the group it names disagree
                raise FormatError(f"its name index puts {name!r} in a group that lacks it")
            todo.extend(deps.get(name, ()))
            if not group.independent:
                todo.extend(group.names)
    return seen


def _order(index: ManifestIndex, wanted_groups: set[int]) -> list[int]:
    """Groups in dependency order (cycles broken by save order), code first, then the
    groups that take the longest to unpickle."""
    deps: dict[int, set[int]] = {}
    for number in wanted_groups:
        _, _, needs = index.group(number)
        owners = {index.find(d) for names in needs.values() for d in names}
        deps[number] = {found[1] for found in owners if found is not None} - {number}
    ordered: list[int] = []
    placed: set[int] = set()

    def visit(number: int, path: set[int]) -> None:
        if number in placed or number in path or number not in deps:
            return
        path.add(number)
        for dep in sorted(deps[number]):
            visit(dep, path)
        path.discard(number)
        placed.add(number)
        ordered.append(number)

    def cpu_cost(number: int) -> int:
        """Unpickling work, roughly: in-band bytes and compressed (text-like) buffers."""
        group = index.group(number)[0]
        return group.stream.size + sum(b.size for b in group.buffers if b.codec != "raw")

    # code first (others may refer to it by name); then the groups that keep the CPU busy
    # longest, so plain buffers are read on worker threads while those unpickle
    code_first = sorted(
        wanted_groups,
        key=lambda i: (index.group(i)[0].serializer != "dill", -cpu_cost(i), i),
    )
    for number in code_first:
        visit(number, set())
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
    dill = any(g.serializer == "dill" for g in manifest.groups)
    return _warnings(needed, manifest.python.get("version", ""), dill)


def _warnings(needed: dict[str, str], saved_py: str, dill: bool) -> list[str]:
    out: list[str] = []
    if not needed and not (saved_py and dill):
        return out  # nothing to compare: the environment probe is not even imported
    import platform

    from sessions.core.engine import environment

    for module, saved in sorted(needed.items()):
        installed = environment.module_version(module)
        if installed is None:
            out.append(f"{module} {saved} was used when saving but is not installed")
        elif installed != saved:
            out.append(f"{module}: saved with {saved}, installed {installed}")
    other_minor = saved_py.rsplit(".", 1)[0] != platform.python_version().rsplit(".", 1)[0]
    if saved_py and other_minor and dill:
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
    return load_index(
        store,
        ManifestIndex.of(entry.manifest),
        names=wanted_list,
        namespace=ns,
        trust=trust,
        replace=replace,
        progress=progress,
    )


@collector.paused
def load_index(
    store: Store,
    index: ManifestIndex,
    *,
    names: list[str] | None,
    namespace: dict[str, Any],
    trust: bool = False,
    replace: bool = True,
    progress: ProgressCallback | None = None,
) -> LoadReport:
    """Load a snapshot read as an index (see :func:`load_entry`): only the manifest sections
    naming the wanted variables, their groups and what those need are read."""
    head = index.head
    if not trust:
        check_trusted(head)
    try:
        return _load_index(store, index, names, namespace, replace, progress)
    except FormatError as exc:  # a damaged section: the snapshot is damaged
        raise FormatError(f"snapshot {head.ref} is damaged: {exc}") from None


def _load_index(
    store: Store,
    index: ManifestIndex,
    wanted: list[str] | None,
    ns: dict[str, Any],
    replace: bool,
    progress: ProgressCallback | None,
) -> LoadReport:
    head = index.head
    report = LoadReport(head.ref, head.id)
    imports = {i.name: i for i in head.imports}
    chosen: set[str] | None = None  # None: everything
    if wanted is not None:
        chosen = set()
        for name in wanted:
            if name in imports or index.find(name) is not None:
                chosen.add(name)
            elif name in head.skipped:
                report.failed[name] = f"was not saved: {head.skipped[name]}"
            else:
                import difflib

                close = difflib.get_close_matches(name, index.names() + list(imports), n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                report.failed[name] = f"not in snapshot {head.ref}{hint}"
        chosen = _closure(index, chosen, set(imports))
    target = _Namespace(ns, replace)
    if chosen is None:
        wanted_groups = set(range(index.summary["groups"]))
    else:
        wanted_groups = set()
        for name in chosen - set(imports):
            found = index.find(name)
            if found is not None:
                wanted_groups.add(found[1])
    if not replace:  # a group whose every wanted name is already here need not be read at all
        for number in list(wanted_groups):
            group = index.group(number)[0]
            members = _members(group, chosen)
            if all(n in ns for n in members):
                wanted_groups.discard(number)
                report.kept += [n for n in members if n not in report.kept]
    order = _order(index, wanted_groups)
    reporter = Reporter(
        progress,
        "load",
        total_bytes=sum(index.group(i)[0].size for i in order),
        total_items=sum(len(_members(index.group(i)[0], chosen)) for i in order),
    )
    on_bytes = reporter.add_bytes if progress is not None else None
    retry: list[int] = []
    try:
        for name in sorted(imports if chosen is None else chosen & set(imports)):
            record = imports[name]
            try:
                if target.set(name, _import(record.module, record.attr), report):
                    report.imported.append(name)
            except Exception as exc:
                report.failed[name] = f"cannot import {record.module}: {_one_line(exc)}"
        stored = sum(b.stored for i in order for b in index.group(i)[0].blobs)
        if stored < POOL_AT:  # small: read each group's blobs on this thread, as it comes
            for number in order:
                reporter.poll()  # between groups: a clean point to stop
                fetch = _reader(store, index.group(number)[0].blobs, on_bytes)
                if not _load_group(index, number, fetch, target, report, chosen):
                    retry.append(number)
                reporter.advance(items=len(_members(index.group(number)[0], chosen)))
            reporter.poll()  # the last point to stop (and put everything back)
        else:
            _load_pooled(store, index, order, target, report, chosen, reporter, on_bytes, retry)
        for number in retry:  # a by-name reference to a group that loaded later
            group = index.group(number)[0]
            if all(report.failed.get(n, "").startswith("needs '") for n in group.names):
                for name in group.names:
                    report.failed.pop(name, None)
                _load_group(index, number, _reader(store, group.blobs), target, report, chosen)
    except Cancelled:
        target.undo()
        raise Cancelled(
            f"load of {head.ref} cancelled: the namespace is as it was before"
        ) from None
    except BaseException:
        target.undo()  # an interrupted load leaves nothing half-bound either
        raise
    reporter.finish()
    _order_report(index, report, target.replaced(), chosen)
    needed: dict[str, str] = {}
    dill = False
    loaded = set(report.loaded) if chosen is not None else None
    for number in wanted_groups:
        group, modules, _ = index.group(number)
        dill = dill or group.serializer == "dill"
        if loaded is None or not group.independent or not loaded.isdisjoint(group.names):
            needed.update(modules)
    report.warnings = _warnings(needed, head.python.get("version", ""), dill)
    return report


def _order_report(
    index: ManifestIndex, report: LoadReport, replaced: list[str], chosen: set[str] | None
) -> None:
    """Put ``report.loaded`` and ``report.replaced`` in a stable order: for a full load the
    order the groups are stored in (a pass over the group records, which the load read
    anyway); for chosen names, save order (which reads their name buckets)."""
    if chosen is None:
        groups = range(index.summary["groups"])
        stored = list(chain.from_iterable(index.group(i)[0].names for i in groups))
        if len(stored) != len(report.loaded) or len(report.failed) or report.kept:
            done = set(report.loaded)
            stored = [name for name in stored if name in done]
        report.loaded = stored
        if replaced:
            which = set(replaced)
            replaced = [name for name in stored if name in which]
        report.replaced = replaced
        return
    if len(report.loaded) > 64:  # many: one pass over every name bucket
        position = dict.fromkeys(report.loaded, 0)
        position.update(index.positions())
    else:
        position = {name: (index.find(name) or (0, 0))[0] for name in report.loaded}
    report.loaded.sort(key=position.__getitem__)
    report.replaced = sorted(
        replaced, key=lambda n: position.get(n, (index.find(n) or (len(position), 0))[0])
    )


def _members(group: Any, chosen: set[str] | None) -> tuple[str, ...]:
    """The names a load binds from ``group``: all of them, or for a batch of independent
    values only those asked for."""
    if group.independent and chosen is not None:
        return tuple(n for n in group.names if n in chosen)
    return tuple(group.names)


def _reader(
    store: Store, blobs: Sequence[Any], on_bytes: Callable[[int], None] | None = None
) -> Callable[[], list[Any]]:
    """Reads a group's blobs (on this thread) when called."""
    return lambda: [store.blobs.read(b.hash, on_bytes=on_bytes) for b in blobs]


def _load_pooled(
    store: Store,
    index: ManifestIndex,
    order: list[int],
    target: _Namespace,
    report: LoadReport,
    chosen: set[str] | None,
    reporter: Reporter,
    on_bytes: Callable[[int], None] | None,
    retry: list[int],
) -> None:
    """Load the groups of ``order``, their blobs read and hash-checked on two worker threads
    while earlier groups unpickle (big loads: reading overlaps unpickling)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2, thread_name_prefix="sessions-load") as pool:
        try:
            reads: dict[int, list[Future[bytearray | memoryview]]] = {
                i: [
                    pool.submit(store.blobs.read, b.hash, on_bytes=on_bytes)
                    for b in index.group(i)[0].blobs
                ]
                for i in order
            }
            for number in order:
                reporter.poll()  # between groups: a clean point to stop
                futures = reads.pop(number)
                fetch = lambda futures=futures: [reporter.wait(f) for f in futures]  # noqa: E731
                if not _load_group(index, number, fetch, target, report, chosen):
                    retry.append(number)
                reporter.advance(items=len(_members(index.group(number)[0], chosen)))
            reporter.poll()  # the last point to stop (and put everything back)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def _load_group(
    index: ManifestIndex,
    number: int,
    fetch: Callable[[], list[Any]],
    target: _Namespace,
    report: LoadReport,
    chosen: set[str] | None,
) -> bool:
    """Read, unpickle and bind one group; False (its members failed) when it cannot."""
    group = index.group(number)[0]
    members = _members(group, chosen)
    ns = target.ns
    try:
        blobs = fetch()
        buffers = batches.split(blobs[1:], group.slices)
        values = serialize.load_group(group.serializer, blobs[0], buffers, ns, index.head.module)
    except Cancelled:
        raise
    except Exception as exc:
        reason = _one_line(exc)
        for name in members:
            report.failed[name] = reason
        return False
    target.set_all(members, values, report)
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
    """Resolve ``ref`` and load it; see :func:`load_entry`. Only the parts of the manifest
    the load needs are read (a one-variable load reads its name bucket and group)."""
    found = store.locate(ref)
    if isinstance(found, Entry):
        return load_entry(
            store,
            found,
            names=names,
            namespace=namespace,
            trust=trust,
            replace=replace,
            progress=progress,
        )
    version, _, path = found
    try:
        index = store.read_index(path)
    except SessionsError as exc:
        raise FormatError(
            f"snapshot {path.parent.name.rsplit('-', 1)[0]}@{version} is damaged: {exc}"
        ) from None
    ns = namespace if namespace is not None else vars(sys.modules["__main__"])
    wanted = None if names is None else [names] if isinstance(names, str) else list(names)
    return load_index(
        store, index, names=wanted, namespace=ns, trust=trust, replace=replace, progress=progress
    )
