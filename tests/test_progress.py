"""Progress of long operations through the library's one callback: bytes and items move to
their totals, the callback runs only on the caller's thread, and a callback that raises
Cancelled stops the operation with nothing partial visible."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sessions.core import progress as progress_module
from sessions.core.engine.load import load
from sessions.core.engine.save import save
from sessions.core.errors import Cancelled
from sessions.core.progress import Progress, Reporter
from sessions.core.sharing.bundle import export, import_bundle
from sessions.core.sharing.remote import Remote, RemoteConfig
from sessions.core.store.blobs import BlobStore
from sessions.core.store.gc import gc
from sessions.core.store.session_dir import Store
from sessions.core.store.verify import verify

BIG = 40 << 20  # bytes of one array: big enough to be written and read in several pieces


@pytest.fixture(autouse=True)
def every_step_told(monkeypatch: pytest.MonkeyPatch) -> None:
    """No throttling: the callback is told at every clean point, whatever the clock says."""
    monkeypatch.setattr(progress_module, "INTERVAL", 0.0)


class Gate:
    """Holds every big object but the first (on worker threads) until a callback has seen
    the operation part-way: makes "progress moved during the work" independent of timing."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.passed = 0
        self.lock = threading.Lock()

    def wrap(self, function: Callable[..., Any], size_of: Callable[..., int]) -> Any:
        def held(*args: Any, **kwargs: Any) -> Any:
            if size_of(*args, **kwargs) >= BIG // 2:
                with self.lock:
                    self.passed += 1
                    first = self.passed == 1
                if not first:
                    assert self.open.wait(60), "no callback saw the operation part-way"
            return function(*args, **kwargs)

        return held


class Recorder:
    """A progress callback that keeps every record and the thread each came on."""

    def __init__(self, stop_when: float | None = None, gate: Gate | None = None) -> None:
        self.seen: list[Progress] = []
        self.threads: set[int] = set()
        self.stop_when = stop_when  # raise Cancelled once this fraction is done
        self.gate = gate

    def __call__(self, progress: Progress) -> None:
        self.seen.append(progress)
        self.threads.add(threading.get_ident())
        if self.gate is not None and self.moved_midway():
            self.gate.open.set()
        fraction = progress.fraction or 0.0
        if self.stop_when is not None and fraction >= self.stop_when and not progress.finished:
            raise Cancelled("stopped by the test")

    @property
    def last(self) -> Progress:
        return self.seen[-1]

    def moved_midway(self) -> bool:
        """Some record showed part of the bytes done: progress moved during the work."""
        return any(
            p.total_bytes and 0 < p.done_bytes < p.total_bytes and not p.finished for p in self.seen
        )


def _session() -> dict:
    rng = np.random.default_rng(7)
    return {
        "noise": rng.random(BIG // 8),  # one big raw buffer
        "ones": np.ones(BIG // 8),  # compresses
        "words": [f"word {i}" for i in range(5000)],
        "n": 42,
    }


def _finished_at_totals(recorder: Recorder, task: str) -> None:
    last = recorder.last
    assert last.task == task and last.finished
    assert last.done_bytes == last.total_bytes and last.done_items == last.total_items
    done = [p.done_bytes for p in recorder.seen]
    assert done == sorted(done), "bytes done never go back"
    assert recorder.threads == {threading.get_ident()}, "called on the caller's thread only"


def _leftovers(home: Path) -> list[Path]:
    return [p for p in home.rglob(".*") if p.is_file()]


def test_save_and_load_report_bytes_and_variables_on_the_callers_thread(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(home)
    gate = Gate()
    monkeypatch.setattr(
        BlobStore, "put", gate.wrap(BlobStore.put, lambda _self, data, *a, **k: len(data))
    )
    saving = Recorder(gate=gate)
    result = save(_session(), store=store, name="big", progress=saving)
    _finished_at_totals(saving, "save")
    assert saving.last.total_items == 4 and saving.moved_midway()
    assert saving.last.total_bytes >= 2 * BIG  # what was pickled, not a guess

    monkeypatch.undo()
    monkeypatch.setattr(progress_module, "INTERVAL", 0.0)
    sizes = {b.hash: b.size for b in result.manifest.all_blobs().values()}
    gate = Gate()
    monkeypatch.setattr(
        BlobStore, "read", gate.wrap(BlobStore.read, lambda _self, digest, **k: sizes[digest])
    )
    loading = Recorder(gate=gate)
    target: dict = {}
    report = load(store, result.ref, namespace=target, progress=loading)
    assert report.ok and set(target) == {"noise", "ones", "words", "n"}
    _finished_at_totals(loading, "load")
    assert loading.last.total_bytes >= 2 * BIG and loading.moved_midway()


def test_a_cancelled_save_makes_no_snapshot_and_leaves_no_temp_file(home: Path) -> None:
    store = Store(home)
    save({"n": 1}, store=store, name="big")
    with pytest.raises(Cancelled, match="save cancelled: no snapshot was made"):
        save(_session(), store=store, name="big", progress=Recorder(stop_when=0.3))
    assert [e.ref for e in store.entries()] == ["big@1"]
    assert _leftovers(home) == []
    gc(store)
    assert verify(store).ok
    again = save(_session(), store=store, name="big")  # the store works on as before
    assert again.ref == "big@2"


def test_a_cancelled_load_puts_the_namespace_back(home: Path) -> None:
    store = Store(home)
    save(_session(), store=store, name="big")
    mine = object()
    target = {"n": mine, "untouched": 1}
    with pytest.raises(Cancelled, match="the namespace is as it was"):
        load(store, "big", namespace=target, progress=Recorder(stop_when=0.3))
    assert target == {"n": mine, "untouched": 1}


def test_a_cancelled_load_of_many_small_variables_puts_the_namespace_back(home: Path) -> None:
    # small: read on the loading thread, batch after batch, each bound in one update
    store = Store(home)
    save({f"v{i}": f"value {i}" for i in range(4000)}, store=store, name="many")
    mine = object()
    target = {"v5": mine, "v3999": mine, "untouched": 1}
    stopper = Recorder(stop_when=0.5)
    with pytest.raises(Cancelled, match="the namespace is as it was"):
        load(store, "many", namespace=target, progress=stopper)
    assert any(p.done_items for p in stopper.seen), "cancelled after some batches were bound"
    assert target == {"v5": mine, "v3999": mine, "untouched": 1}
    report = load(store, "many", namespace=target, progress=Recorder())
    assert report.ok and len(report.loaded) == 4000 and target["v3999"] == "value 3999"
    assert report.replaced == [n for n in report.loaded if n in ("v5", "v3999")]
    assert target["untouched"] == 1


def test_load_names_what_it_replaced_and_can_keep_it(home: Path) -> None:
    store = Store(home)
    save({"n": 1, "m": 2}, store=store, name="small")
    target = {"n": "mine"}
    report = load(store, "small", namespace=target)
    assert report.replaced == ["n"] and target["n"] == 1
    assert "replaced existing n" in str(report)
    again = load(store, "small", namespace=target)
    assert again.replaced == []  # the same values again replace nothing
    target = {"n": "mine"}
    kept = load(store, "small", namespace=target, replace=False)
    assert kept.kept == ["n"] and target == {"n": "mine", "m": 2}
    assert "kept existing n (not replaced)" in str(kept)


def _remote(tmp_path: Path) -> Remote:
    remote = Remote(RemoteConfig("team", str(tmp_path / "remote")))
    remote.init()
    return remote


def test_push_and_pull_report_bytes_and_objects(home: Path, tmp_path: Path) -> None:
    store = Store(home)
    save(_session(), store=store, name="big")
    remote = _remote(tmp_path)
    pushing = Recorder()
    pushed = remote.push(store, "big", owner="alice", progress=pushing)
    _finished_at_totals(pushing, "push")
    assert pushing.last.unit == "objects" and pushing.moved_midway()

    other = Store(tmp_path / "other-home")
    pulling = Recorder()
    remote.pull(other, pushed.ref, trust_once=True, progress=pulling)
    _finished_at_totals(pulling, "pull")
    assert pulling.moved_midway()


def test_cancelled_push_publishes_nothing_and_cancelled_pull_adds_nothing(
    home: Path, tmp_path: Path
) -> None:
    store = Store(home)
    save(_session(), store=store, name="big")
    remote = _remote(tmp_path)
    with pytest.raises(Cancelled, match="push cancelled: nothing was published on team"):
        remote.push(store, "big", owner="alice", progress=Recorder(stop_when=0.3))
    assert remote.snapshots() == []
    pushed = remote.push(store, "big", owner="alice")  # resumes: reuses what was sent

    other = Store(tmp_path / "other-home")
    with pytest.raises(Cancelled, match="cancelled: nothing was added"):
        remote.pull(other, pushed.ref, trust_once=True, progress=Recorder(stop_when=0.3))
    assert other.entries() == [] and _leftovers(other.root) == []
    assert not [p for p in other.root.iterdir() if p.name.startswith(".incoming")]


def test_export_and_import_report_progress_and_cancel_cleanly(home: Path, tmp_path: Path) -> None:
    store = Store(home)
    save(_session(), store=store, name="big")
    bundle = tmp_path / "big.sessions"
    with pytest.raises(Cancelled, match="export cancelled"):
        export(store, "big", bundle, progress=Recorder(stop_when=0.3))
    assert not bundle.exists() and list(tmp_path.glob(".*")) == []

    exporting = Recorder()
    export(store, "big", bundle, progress=exporting)
    _finished_at_totals(exporting, "export")
    assert exporting.moved_midway()

    other = Store(tmp_path / "other-home")
    with pytest.raises(Cancelled, match="cancelled: nothing was added"):
        import_bundle(other, bundle, trust_once=True, progress=Recorder(stop_when=0.3))
    assert other.entries() == []
    importing = Recorder()
    import_bundle(other, bundle, trust_once=True, progress=importing)
    _finished_at_totals(importing, "import")
    assert importing.moved_midway()


def test_verify_and_gc_report_progress(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(home)
    first = save(_session(), store=store, name="big")
    save({"n": 1}, store=store, name="small")
    sizes = {b.hash: b.size for b in first.manifest.all_blobs().values()}
    gate = Gate()
    monkeypatch.setattr(
        BlobStore,
        "check",
        gate.wrap(BlobStore.check, lambda _self, digest, *a: sizes.get(digest, 0)),
    )
    checking = Recorder(gate=gate)
    assert verify(store, progress=checking).ok
    _finished_at_totals(checking, "verify")
    assert checking.moved_midway()
    with pytest.raises(Cancelled, match="verify cancelled"):
        verify(store, progress=Recorder(stop_when=0.3))

    store.remove(store.resolve(first.ref))
    collecting = Recorder()
    report = gc(store, progress=collecting)
    assert report.removed_blobs >= 2
    last = collecting.last
    assert last.finished and last.done_items == last.total_items
    assert last.done_bytes == report.freed > BIG


def test_reporter_throttles_and_always_tells_the_first_and_last_state() -> None:
    calls: list[Progress] = []
    reporter = Reporter(calls.append, "save", total_items=100_000, interval=3600)
    for _ in range(100_000):
        reporter.advance(items=1)
    reporter.finish()
    assert len(calls) == 2
    assert calls[0].done_items == 0 and calls[-1].done_items == 100_000 and calls[-1].finished


def test_work_from_other_threads_is_counted_but_told_on_the_owner(home: Path) -> None:
    calls: list[tuple[int, Progress]] = []
    reporter = Reporter(lambda p: calls.append((threading.get_ident(), p)), "load", interval=0)
    worker = threading.Thread(target=lambda: reporter.advance(nbytes=10))
    worker.start()
    worker.join()
    reporter.poll()
    assert {thread for thread, _ in calls} == {threading.get_ident()}
    assert calls[-1][1].done_bytes == 10
