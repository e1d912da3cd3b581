"""Saving a namespace as a snapshot.

Pipeline: plan (sessions.core.engine.capture) → pickle each group on this thread
(sessions.core.engine.serialize) while worker threads hash, compress and write its objects —
small ones appended to this save's pack, big buffers to blob files of their own
(sessions.core.store.blobs and .packs; all release the GIL) → previews from the live objects →
the pack and its index made durable, blob dirs fsynced → commit the manifest
(sessions.core.store.session_dir). Objects already in the store are not written again, so an
unchanged variable costs only its pickling and hashing, and a save writes O(packs + big
buffers) files whatever the number of variables. Each pickled stream is dropped as soon as
it is written. A variable that cannot be pickled is skipped with its reason.
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import blake3

from sessions.core.engine import (
    batches,
    capture,
    collector,
    environment,
    naming,
    preview,
    reuse,
    serialize,
)
from sessions.core.engine.serialize import qualified_type
from sessions.core.errors import Cancelled, NameError_
from sessions.core.progress import ProgressCallback, Reporter
from sessions.core.sharing import secrets, signing
from sessions.core.store import ids
from sessions.core.store.atomic import fsync_dir
from sessions.core.store.blobs import BlobRef
from sessions.core.store.manifest import Group, Manifest, Variable
from sessions.core.store.packs import BIG_OBJECT
from sessions.core.store.session_dir import Store, expendable, validate_name
from sessions.core.units import human_size, plural

_EMPTY = memoryview(b"")
_NO_TEXT = frozenset({int, float, bool, complex, type(None)})  # no credential can hide in these
_SIZED = frozenset({int, float, bool, str, bytes})  # memory is their sys.getsizeof
_FLAT = frozenset({list, tuple, set, frozenset})
_PREVIEW_APART = 1 << 20  # arrays this big get their statistics on a worker thread


def _value_digests(members: list[str], values: dict[str, Any], out: dict[str, str]) -> None:
    """The digest of each batch member's value pickled alone (see ``Variable.digest``): the
    first 16 bytes of its blake3, as 32 hex digits. A member that does not pickle alone
    (it pickled fine in its batch) gets none, and compares by its batch."""
    dumps, hasher = pickle.dumps, blake3.blake3
    for member in members:
        try:
            out[member] = hasher(dumps(values[member], protocol=5)).hexdigest(16)
        except Exception:
            continue


def _judge(name: str, value: Any) -> str | None:
    """The live secrets judgement of one variable (sessions.core.sharing.secrets.reason), at
    no cost for a number or a flat list/tuple/set of numbers: it looks at text, bytes and
    frames only."""
    cls = type(value)
    if cls in _NO_TEXT:
        return None
    if cls in _FLAT and len(value) <= 64 and set(map(type, value)) <= _NO_TEXT:
        return None
    return secrets.reason(name, value)


def _batch_records(
    members: list[str],
    index: int,
    values: dict[str, Any],
    judged: dict[str, str | None],
    previews: dict[str, Any],
    digests: dict[str, str],
    versions: dict[str, str],
    share: int,
    each: int,
    group: Group,
    exporters: dict[int, int],
    type_names: dict[type, str],
    out: list[Variable],
    found_secrets: dict[str, str],
) -> None:
    """The records of a batch's members (group ``index``): a batch holds small plain values
    that need no other variable and were judged for secrets when batched (``judged``; a number
    is not judged, and holds none)."""
    numpy = sys.modules.get("numpy")
    ndarray = numpy.ndarray if numpy is not None else None
    sizeof = sys.getsizeof
    for member in members:
        value = values[member]
        cls = type(value)
        reason = judged.get(member)
        if reason:
            found_secrets[member] = reason
        kind = type_names.get(cls)
        if kind is None:
            kind = type_names[cls] = qualified_type(value)
        if cls in _SIZED:
            memory, form = sizeof(value), None
        elif cls is ndarray:
            memory, form = value.nbytes, _npy_form(value, group, exporters)
        else:
            memory, form = preview.memory_size(value, each), None
        out.append(
            Variable(
                member,
                kind,
                memory,
                share,
                index,
                previews[member],
                (),
                versions,
                form,
                digests.get(member),
            )
        )


@dataclass(frozen=True)
class SaveResult:
    """What a save did: the snapshot it made and what it left out, and why."""

    id: str
    name: str
    version: int
    saved: tuple[str, ...]
    skipped: dict[str, str]
    imports: tuple[str, ...]
    written: int
    stored: int
    seconds: float
    manifest: Manifest = field(repr=False)
    unchanged: bool = False  # only_if_changed found nothing new: no snapshot was made

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def __str__(self) -> str:
        if self.unchanged:
            return f"nothing changed since {self.ref}: no new snapshot"
        parts = [f"saved {self.ref} ({self.id}): {plural(len(self.saved), 'variable')}"]
        if self.imports:
            parts.append(plural(len(self.imports), "import"))
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped")
        text = ", ".join(parts) + (
            f"; {human_size(self.stored)} stored, {human_size(self.written)} written "
            f"(manifest included) in {self.seconds:.2f}s"
        )
        for name, reason in self.skipped.items():
            text += f"\n  skipped {name}: {reason}"
        return text

    def _repr_html_(self) -> str:
        from sessions.core.reprs import save_result_html

        return save_result_html(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


def _pickle(
    plan: capture.Plan, names: list[str], skipped: dict[str, str]
) -> Iterator[tuple[list[str], serialize.Pickled]]:
    """Pickle a group; if it fails, the members that fail alone are skipped (one bad value is
    one skip) and the rest are pickled together again, so they still share what they share;
    only if that fails too does each go alone."""
    try:
        yield names, serialize.dump_group(plan.ctx, {n: plan.values[n] for n in names})
        return
    except serialize.SerializeError as exc:
        if len(names) == 1:
            skipped[names[0]] = str(exc)
            return
    alone: dict[str, serialize.Pickled] = {}
    for name in names:
        try:
            alone[name] = serialize.dump_group(plan.ctx, {name: plan.values[name]})
        except serialize.SerializeError as exc:
            skipped[name] = str(exc)
    good = [n for n in names if n in alone]
    if 1 < len(good) < len(names):
        try:
            yield good, serialize.dump_group(plan.ctx, {n: plan.values[n] for n in good})
            return
        except serialize.SerializeError:
            pass
    for name in good:
        yield [name], alone.pop(name)


def _done(result: tuple[BlobRef, bool]) -> Future[tuple[BlobRef, bool]]:
    future: Future[tuple[BlobRef, bool]] = Future()
    future.set_result(result)
    return future


def _preview_after(
    futures: list[Future[tuple[BlobRef, bool]]],
    memo: reuse.Memo | None,
    member: str,
    value: Any,
) -> dict[str, Any]:
    """An array's preview, on a worker once its group is stored: the previous one when the
    group's objects are unchanged (``memo`` given), else built (statistics release the GIL)."""
    if memo is not None:
        found = memo.preview(member, tuple(f.result()[0].hash for f in futures))
        if found is not None:
            return found
    return preview.build(value)


def _content_of(
    groups: list[Group], variables: list[Variable], imports: Any, skipped: dict[str, str]
) -> tuple[frozenset[Any], frozenset[Any], frozenset[str]]:
    blobs = {v.name: tuple(b.hash for b in groups[v.group].blobs) for v in variables}
    return (
        frozenset(blobs.items()),
        frozenset((i.name, i.module, i.attr) for i in imports),
        frozenset(skipped),
    )


def _content(manifest: Manifest) -> tuple[frozenset[Any], frozenset[Any], frozenset[str]]:
    return _content_of(
        list(manifest.groups), list(manifest.variables), manifest.imports, manifest.skipped
    )


_HEADERS: dict[tuple[Any, ...], bytes] = {}  # .npy headers by dtype, shape and order


def _npy_header(value: Any, numpy: Any) -> bytes:
    fortran = bool(value.flags.f_contiguous and not value.flags.c_contiguous)
    key = (value.dtype.str, value.shape, fortran)
    found = _HEADERS.get(key)
    if found is None:
        import io

        header = io.BytesIO()
        numpy.lib.format.write_array_header_1_0(
            header, numpy.lib.format.header_data_from_array_1_0(value)
        )
        found = header.getvalue()
        if len(_HEADERS) < 4096:
            _HEADERS[key] = found
    return found


def _npy_form(value: Any, group: Group, exporters: dict[int, int]) -> dict[str, Any] | None:
    """For a numeric ndarray whose data is one out-of-band buffer of its group: the ``.npy``
    header that, followed by that buffer's bytes, makes a ``.npy`` file (read without pickle).
    The buffer is the group's one buffer blob, or slice ``slice`` of a joined blob."""
    numpy = sys.modules.get("numpy")
    if numpy is None or type(value) is not numpy.ndarray:
        return None
    if value.dtype.kind not in "biufc" or value.dtype.fields is not None:
        return None
    place: int | None = None
    if group.slices:
        place = exporters.get(id(value))
        if place is None or group.slices[place][2] != value.nbytes:
            return None
    elif len(group.buffers) != 1 or value.nbytes != group.buffers[0].size:
        return None
    form: dict[str, Any] = {"format": "npy", "header": _npy_header(value, numpy)}
    if place is not None:
        form["slice"] = place
    return form


def _memo_of(manifest: Manifest, plan: capture.Plan) -> reuse.Memo:
    """What the next save of this name may reuse from ``manifest`` (see sessions.core.engine.reuse)."""
    memo = reuse.Memo()
    keys = [tuple(ref.hash for ref in group.blobs) for group in manifest.groups]
    immutable: dict[int, bool] = {}  # batch group -> every member immutable
    batch_members: dict[int, list[Variable]] = {}
    for variable in manifest.variables:
        group = manifest.groups[variable.group]
        key = ("value", variable.digest) if variable.digest else keys[variable.group]
        memo.previews[variable.name] = (key, variable.preview)
        if group.independent:
            batch_members.setdefault(variable.group, []).append(variable)
            value = plan.values.get(variable.name)
            if reuse.immutable(value):
                memo.same[variable.name] = (value, variable.preview)
            else:
                immutable[variable.group] = False
            continue
        if len(group.names) != 1:
            continue
        value = plan.values.get(variable.name)
        if (
            len(group.names) == 1
            and group.serializer == "pickle"
            and group.size <= reuse.IMMUTABLE_LIMIT
            and reuse.immutable(value)
        ):
            memo.kept[variable.name] = reuse.Kept(
                value, group.serializer, group.blobs, variable.preview
            )
    for number, group in enumerate(manifest.groups):
        if group.independent and immutable.get(number, True) and not group.buffers:
            memo.batches[group.names] = reuse.KeptBatch(
                group.names,
                tuple(memo.same[n][0] for n in group.names),
                group.serializer,
                group.blobs,
                {n: memo.same[n][1] for n in group.names},
                {v.name: v.digest for v in batch_members.get(number, ()) if v.digest},
            )
    return memo


def _estimate(plan: capture.Plan) -> dict[str, int]:
    """Bytes each variable will take to store, guessed cheaply before pickling (arrays and
    frames know their size; others count 0 until pickled): the first total for progress."""
    return {name: preview.memory_size(value, 0) for name, value in plan.values.items()}


def _count_when_stored(
    reporter: Reporter, futures: list[Future[tuple[BlobRef, bool]]], members: list[str]
) -> None:
    """Count ``members`` as saved once every object of their group is stored."""
    left = [len(futures)]
    lock = threading.Lock()

    def stored(_future: Future[tuple[BlobRef, bool]]) -> None:
        with lock:
            left[0] -= 1
            last = left[0] == 0
        if last:
            reporter.advance(items=len(members), item=members[-1])

    for future in futures:
        future.add_done_callback(stored)


@collector.paused
def save(
    namespace: dict[str, Any],
    *,
    store: Store | None = None,
    name: str | None = None,
    include: Iterable[str] | str | None = None,
    exclude: Iterable[str] | str | None = None,
    note: str | None = None,
    tags: Iterable[str] = (),
    private: bool = False,
    origin: dict[str, str] | None = None,
    only_if_changed: bool = False,
    values: dict[str, Any] | None = None,
    refer: bool = False,
    extra: dict[str, Any] | None = None,
    history: bool = True,
    remember: bool = True,
    progress: ProgressCallback | None = None,
) -> SaveResult:
    """Save ``namespace`` as the next version of ``name``; see :class:`SaveResult`. With
    ``only_if_changed``, make no snapshot when every variable's bytes and every import are
    those of the name's latest version (automatic snapshots use this).

    For caches and checkpoints: ``values`` and ``refer`` as in :func:`capture.plan`;
    ``extra`` adds top-level manifest keys (``cache``, ``run``: see sessions.core.store.manifest);
    ``history=False`` leaves IPython's input history out; ``remember=False`` keeps this save
    out of the in-process memo of recent names (one-off names would push real ones out).

    ``progress`` is called (on this thread) with bytes stored and variables saved; raising
    :class:`~sessions.core.errors.Cancelled` from it stops the save before its manifest is
    written, so no snapshot is made (objects already written are left for ``gc``)."""
    started = time.perf_counter()
    store = store or Store()
    store.ensure()
    org = origin or environment.origin(namespace)
    name = validate_name(name or naming.default_name(org, store, environment.host(), os.getpid()))
    if expendable(name) and "cache" not in (extra or {}):
        raise NameError_(f"{name!r}: names starting with 'cache:' are kept for cache entries")
    tags = tuple(str(t) for t in ([tags] if isinstance(tags, str) else tags))
    plan = capture.plan(
        namespace, include=include, exclude=exclude, private=private, values=values, refer=refer
    )
    batched, judged = batches.batch(plan, sys.modules.get("numpy"), _judge)
    # with no one to tell progress to, nothing is estimated (a lookup per name, otherwise)
    estimate = _estimate(plan) if progress is not None else {}
    reporter = Reporter(
        progress, "save", total_bytes=sum(estimate.values()), total_items=len(plan.values)
    )
    on_bytes = reporter.add_bytes if progress is not None else None
    skipped: dict[str, str] = {}
    snapshot_id = ids.new_id()
    workers = max(2, min(4, os.cpu_count() or 2))
    groups: list[tuple[list[str], serialize.Pickled, list[Future[tuple[BlobRef, bool]]]]] = []
    independent: set[int] = set()  # indices into ``groups`` of batches of independent values
    # per index into ``groups``: buffer slices and {id(ndarray): its buffer} (batches.join)
    joins: dict[int, tuple[list[tuple[int, int, int]], dict[int, int]]] = {}
    digests: dict[str, str] = {}  # batch member -> digest of its value alone
    previews: dict[str, dict[str, Any] | Future[dict[str, Any]]] = {}
    numpy = sys.modules.get("numpy")
    memo = reuse.memo_for(str(store.root), name) if remember else reuse.Memo()
    in_stream: dict[str, str] = {}
    with store.lock("gc.lock", shared=True):
        writer = store.blobs.writer(durable=not expendable(name))  # a cache entry's: no fsync
        put = partial(store.blobs.put, writer=writer, on_bytes=on_bytes)
        error: BaseException | None = None
        with ThreadPoolExecutor(workers, thread_name_prefix="sessions-save") as pool:
            for number, names in enumerate(plan.groups):
                batch = number in batched
                try:
                    reporter.poll()  # between groups: a clean point to stop
                except Cancelled as exc:
                    error = exc
                    break
                guessed = sum(estimate[n] for n in names) if estimate else 0
                kept = None
                if batch:
                    same = memo.unchanged_batch(names, plan.values, store.blobs.has)
                    if same is not None:  # the same immutable objects as last time
                        stub = serialize.Pickled(same.serializer, _EMPTY, [], set(), set())
                        independent.add(len(groups))
                        groups.append((names, stub, [_done((ref, False)) for ref in same.refs]))
                        previews.update(same.previews)
                        digests.update(same.digests)
                        size = sum(ref.size for ref in same.refs)
                        reporter.grow(size - guessed)
                        reporter.advance(nbytes=size, items=len(names))
                        continue
                elif len(names) == 1:
                    kept = memo.unchanged(names[0], plan.values[names[0]], store.blobs.has)
                if kept is not None:  # the same immutable object as last time: same objects
                    stub = serialize.Pickled(kept.serializer, memoryview(b""), [], set(), set())
                    groups.append((names, stub, [_done((ref, False)) for ref in kept.refs]))
                    previews[names[0]] = kept.preview
                    size = sum(ref.size for ref in kept.refs)
                    reporter.grow(size - guessed)
                    reporter.advance(nbytes=size, items=1, item=names[0])
                    continue
                for members, pickled in _pickle(plan, names, skipped):
                    # credentials in what is actually pickled (every string, with its path),
                    # judged before the stream is dropped; small plain values (batches) hold
                    # all their strings where the live judgement below looks
                    if batch:
                        if len(members) > 1:
                            independent.add(len(groups))
                            _value_digests(members, plan.values, digests)
                    else:
                        in_stream.update(secrets.in_group(pickled.stream, members, pickled.buffers))
                    size = len(pickled.stream) + sum(len(b) for b in pickled.buffers)
                    if estimate:  # (empty when no one listens to progress)
                        reporter.grow(size - sum(estimate[m] for m in members))
                        guessed -= sum(estimate[m] for m in members)
                    raws = pickled.buffers
                    exporters = {id(raw.obj): i for i, raw in enumerate(raws)}
                    pickled.buffers, slices = batches.join(raws)
                    del raws
                    joins[len(groups)] = (slices, exporters)
                    futures = [pool.submit(put, pickled.stream)]
                    futures += [pool.submit(put, b) for b in pickled.buffers]
                    _count_when_stored(reporter, futures, members)
                    reusable = reuse.Memo.reusable(pickled.serializer, pickled.refs)
                    # the futures hold the bytes until written; keep only what the manifest needs
                    groups.append((members, replace(pickled, stream=_EMPTY, buffers=[]), futures))
                    del pickled
                    for member in members:
                        value = plan.values[member]
                        if (
                            numpy is not None
                            and type(value) is numpy.ndarray
                            and value.nbytes >= _PREVIEW_APART
                        ):
                            # beside the pickling of the next groups, once this one is stored
                            previews[member] = pool.submit(
                                _preview_after, futures, memo if reusable else None, member, value
                            )
                not_saved = [n for n in names if n in skipped]
                if not_saved:  # nothing to store for these: done, and no longer expected
                    reporter.grow(-guessed)
                    reporter.advance(items=len(not_saved))
            reporter.wait_all(f for _, _, futures in groups for f in futures)
            results: list[list[tuple[BlobRef, bool]]] = []
            for _, _, futures in groups:
                done = []
                for future in futures:
                    try:
                        done.append(future.result())
                    except BaseException as exc:  # keep waiting so no write is left running
                        error = error or exc
                results.append(done)
            if reporter.cancelled:
                error = Cancelled("save cancelled: no snapshot was made")
            if error is None:
                try:
                    writer.finish()
                except BaseException as exc:
                    error = exc
            if error is not None:
                writer.abort()
                if isinstance(error, Cancelled):
                    raise Cancelled("save cancelled: no snapshot was made") from None
                raise error
            remembered = bool(memo.previews or memo.same)  # a first save has nothing to reuse
            build_preview = preview.build
            for (members, pickled, _), refs in zip(groups, results):
                reusable = reuse.Memo.reusable(pickled.serializer, pickled.refs)
                key = tuple(ref.hash for ref, _ in refs)
                for member in members:
                    if member in previews:
                        continue
                    value = plan.values[member]
                    found = None
                    if remembered:
                        own = digests.get(member)
                        mine = ("value", own) if own else key
                        found = memo.preview(member, mine) if reusable else None
                        found = found or memo.same_preview(member, value)
                    previews[member] = found or build_preview(value)
            for member, built in list(previews.items()):
                if isinstance(built, Future):
                    previews[member] = built.result()
        written = writer.written
        dirs: set[Path] = set()
        for refs in results:
            for ref, was_written in refs:
                if was_written and ref.size >= BIG_OBJECT:
                    written += ref.stored
                    dirs.add(store.blobs.path(ref.hash).parent)
        for directory in sorted(dirs):
            fsync_dir(directory)
        saved_names = set(plan.values) | {i.name for i in plan.imports}
        manifest_groups: list[Group] = []
        variables: list[Variable] = []
        type_names: dict[type, str] = {}
        ndarray = numpy.ndarray if numpy is not None else None
        found_secrets: dict[str, str] = {}
        for index, ((members, pickled, _), refs) in enumerate(zip(groups, results)):
            blobs = [ref for ref, _ in refs]
            slices, exporters = joins.get(index, ([], {}))
            group = Group(
                pickled.serializer,
                tuple(members),
                blobs[0],
                tuple(blobs[1:]),
                independent=index in independent,
                slices=tuple(slices),
            )
            manifest_groups.append(group)
            versions = environment.versions_of(pickled.modules)
            share = group.stored // max(1, len(members))
            each = group.size // max(1, len(members))
            single = len(members) == 1 or group.independent
            if group.independent and not pickled.refs:
                # a batch of small plain values (sessions.core.engine.batches): judged live
                # when batched, needing no one; 100,000 variables pass here, so it is lean
                _batch_records(
                    members,
                    index,
                    plan.values,
                    judged,
                    previews,
                    digests,
                    versions,
                    share,
                    each,
                    group,
                    exporters,
                    type_names,
                    variables,
                    found_secrets,
                )
                continue
            for member in members:  # per variable: kept lean, 100,000 variables pass here
                value = plan.values[member]
                cls = type(value)
                reason = in_stream.get(member) or (
                    judged[member] if member in judged else _judge(member, value)
                )
                if reason:
                    found_secrets[member] = reason
                needs = plan.code_deps.get(member)
                if pickled.refs or needs:
                    deps = (pickled.refs | (needs or set())) & saved_names
                    deps.discard(member)
                    found_deps = tuple(sorted(deps))
                else:
                    found_deps = ()
                kind = type_names.get(cls)
                if kind is None:
                    kind = type_names[cls] = qualified_type(value)
                variables.append(
                    Variable(
                        member,
                        kind,
                        sys.getsizeof(value)
                        if cls in _SIZED
                        else value.nbytes
                        if cls is ndarray
                        else preview.memory_size(value, each),
                        share,
                        index,
                        previews[member],  # type: ignore[arg-type]
                        found_deps,
                        versions,
                        _npy_form(value, group, exporters) if single and cls is ndarray else None,
                        digests.get(member),
                    )
                )
        order = {n: i for i, n in enumerate(namespace if values is None else values)}
        variables.sort(key=lambda v: order.get(v.name, 0))
        created = time.time()
        if only_if_changed:
            previous = store.latest(name)
            now = _content_of(manifest_groups, variables, plan.imports, skipped)
            if previous is not None and previous.manifest and _content(previous.manifest) == now:
                reporter.finish()
                return SaveResult(
                    id=previous.id,
                    name=previous.manifest.label,
                    version=previous.version,
                    saved=tuple(v.name for v in previous.manifest.variables),
                    skipped=dict(previous.manifest.skipped),
                    imports=tuple(i.name for i in previous.manifest.imports),
                    written=written,
                    stored=previous.manifest.stored,
                    seconds=time.perf_counter() - started,
                    manifest=previous.manifest,
                    unchanged=True,
                )

        def build(version: int, parent: str | None) -> Manifest:
            return signing.sign(
                Manifest(
                    id=snapshot_id,
                    name=name,
                    version=version,
                    created=created,
                    parent=parent,
                    user=environment.user(),
                    host=environment.host(),
                    pid=os.getpid(),
                    python=environment.python_info(),
                    cwd=os.getcwd(),
                    origin=org,
                    packages=environment.imported_packages(),
                    note=note or "",
                    tags=tags,
                    module=plan.ctx.module,
                    groups=tuple(manifest_groups),
                    variables=tuple(variables),
                    skipped=skipped,
                    imports=tuple(plan.imports),
                    history=tuple(environment.history(namespace)) if history else (),
                    secrets=found_secrets,
                    extra=dict(extra or {}),
                )
            )

        try:
            reporter.poll()  # the last point to stop: nothing is visible before the manifest
        except Cancelled:
            raise Cancelled("save cancelled: no snapshot was made") from None
        manifest = store.commit(name, build)
    reporter.finish()
    if remember:
        reuse.remember(str(store.root), name, _memo_of(manifest, plan))
    encoded = len(manifest.encode())
    return SaveResult(
        id=manifest.id,
        name=manifest.name,
        version=manifest.version,
        saved=tuple(v.name for v in manifest.variables),
        skipped=dict(skipped),
        imports=tuple(i.name for i in manifest.imports),
        written=written + encoded,
        stored=manifest.stored,
        seconds=time.perf_counter() - started,
        manifest=manifest,
    )
