"""The foreign-pickle scanner is an allow-list: every call a dill file would make on load
that is not a known-safe constructor is reported, and the file is marked "runs code" in
``ls``/``show`` (and the UI); scans are cached by file identity. Nothing is ever run."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import cli, run_python

from sessions.core.engine import foreign
from sessions.core.engine.foreign import inspect_foreign
from sessions.core.engine.scan import scan

# Each makes a real dill.dump_module file whose load calls the named function (which would
# create the canary file); none of them is in the old deny-list's modules.
ATTACKS = {
    "timeit.timeit": "import timeit\n"
    "class Job:\n"
    "    def __reduce__(self):\n"
    "        return (timeit.timeit, (f'open({CANARY!r}, \"w\")', 'pass', None, 1))\n",
    "pydoc.locate": "import pydoc\n"
    "class Job:\n"
    "    def __reduce__(self):\n"
    "        return (pydoc.locate, ('antigravity',))\n",
    "cProfile.run": "import cProfile\n"
    "class Job:\n"
    "    def __reduce__(self):\n"
    "        return (cProfile.run, (f'open({CANARY!r}, \"w\")',))\n",
}


def _dump_module(home: Path, name: str, body: str, canary: Path) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    target = home / f"{name}.pkl"
    run_python(
        home,
        f"CANARY = {str(canary)!r}\n" + body + "import dill, numpy as np\n"
        "job = Job()\nnumbers = np.arange(4)\ngreeting = 'hello'\n"
        f"dill.dump_module({str(target)!r})\n",
    )
    return target


@pytest.mark.parametrize("called", sorted(ATTACKS))
def test_dill_session_that_calls_a_function_on_load_is_marked_runs_code(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, called: str
) -> None:
    monkeypatch.setenv("SESSIONS_CACHE_DIR", str(tmp_path / "cache"))
    canary = tmp_path / "canary"
    path = _dump_module(home, "old-job", ATTACKS[called], canary)

    found = inspect_foreign(path)
    assert called in found.runs
    assert found.variables["greeting"] == "str"  # still described, just marked

    listed = cli(home, "ls")
    assert listed.returncode == 0, listed.stderr
    line = next(line for line in listed.stdout.splitlines() if "old-job.pkl" in line)
    assert "RUNS CODE" in line and called in line
    as_json = json.loads(cli(home, "ls", "--json").stdout)["snapshots"]
    assert [e["runs_code"] for e in as_json if e["kind"] == "foreign"] == [[called]]
    shown = cli(home, "show", "old-job.pkl")
    assert f"RUNS CODE: loading this file would call {called}" in shown.stdout
    assert "Traceback" not in shown.stderr + listed.stderr
    assert not canary.exists(), "looking must never run the file"


def test_plain_dill_session_is_not_marked(home: Path, tmp_path: Path) -> None:
    home.mkdir(parents=True)
    target = home / "plain.pkl"
    run_python(
        home,
        f"""
        import collections, dataclasses, datetime, decimal, functools, re, dill
        import numpy as np, pandas as pd
        from collections import namedtuple

        class Point:
            def __init__(self, x):
                self.x = x
            def norm(self):
                return abs(self.x)

        @dataclasses.dataclass
        class Record:
            name: str
            score: float = 0.0

        Pair = namedtuple("Pair", "a b")
        points = [Point(i) for i in range(3)]
        record = Record("a", 1.5)
        pair = Pair(1, 2)
        frame = pd.DataFrame({{"a": [1, 2], "b": ["x", "y"], "t": pd.to_datetime(["2024-01-01"] * 2)}})
        series = pd.Series([1.0, 2.0], index=["u", "v"])
        array = np.arange(6.0).reshape(2, 3)
        rng = np.random.default_rng(1)
        when = datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone.utc)
        price = decimal.Decimal("1.20")
        pattern = re.compile("a+")
        counts = collections.Counter("hello")
        ordered = collections.OrderedDict(a=1)
        window = range(10)
        scale = lambda x, k=3: x * k
        def twice(x, *, by=2):
            return x * by
        thrice = functools.partial(twice, by=3)
        method = points[0].norm
        dill.dump_module({str(target)!r})
        """,
    )
    found = inspect_foreign(target, cache=False)
    assert found.runs == (), found.runs
    assert found.error is None
    assert {"points", "frame", "array", "twice", "scale", "when"} <= set(found.variables)
    listed = cli(home, "ls")
    assert "RUNS CODE" not in listed.stdout and "plain.pkl" in listed.stdout


def _crafted() -> dict[str, bytes]:
    """Hand-made pickles that hide a call behind something the old deny-list allowed."""
    import pickle

    return {
        # list(map(posix.system, ["echo"])): the call happens inside an allowed-looking list()
        "builtins.map": b"cbuiltins\nlist\n(cbuiltins\nmap\n(cposix\nsystem\n(Vecho\nltRtR.",
        # getattr(module, "system")(...): the callable is computed, not a GLOBAL
        "posix.system": b"cdill._dill\n_get_attr\n(cdill._dill\n_import_module\n(Vposix\ntR"
        b"Vsystem\ntR(Vecho\ntR.",
        # dill's eval of a repr, with code in place of "range(0, 3)"
        "dill._dill._eval_repr": b"cdill._dill\n_eval_repr\n(V__import__('os').getpid()\ntR.",
        # an unknown class instantiated the protocol-2 way
        "webbrowser.open": pickle.dumps(_Reduce("webbrowser", "open"), protocol=2),
    }


class _Reduce:
    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        import importlib

        return (getattr(importlib.import_module(self.module), self.name), ("x",))


def test_crafted_pickles_that_hide_a_call_are_reported() -> None:
    for called, data in _crafted().items():
        runs = scan(data).runs_code()
        assert any(r.startswith(called) for r in runs), (called, runs)


def test_a_class_whose_setstate_is_a_system_function_is_reported(
    home: Path, tmp_path: Path
) -> None:
    """A class pickled by value can name os.system as its __setstate__: BUILD calls it."""
    home.mkdir(parents=True)
    target = home / "setstate.pkl"
    canary = tmp_path / "canary"
    run_python(
        home,
        f"""
        import os, dill
        class Sneaky:
            __setstate__ = os.system
            def __getstate__(self):
                return "touch {canary}"
        value = Sneaky()
        dill.dump_module({str(target)!r})
        """,
    )
    found = inspect_foreign(target, cache=False)
    assert any(r in ("posix.system", "os.system") for r in found.runs), found.runs
    assert not canary.exists()


def test_scans_are_cached_by_file_identity(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SESSIONS_CACHE_DIR", str(tmp_path / "cache"))
    canary = tmp_path / "canary"
    path = _dump_module(home, "job", ATTACKS["timeit.timeit"], canary)
    scans: list[Path] = []
    real_scan = foreign.scan

    def counting_scan(source, **kwargs):  # type: ignore[no-untyped-def]
        scans.append(path)
        return real_scan(source, **kwargs)

    monkeypatch.setattr(foreign, "scan", counting_scan)
    first = inspect_foreign(path)
    assert len(scans) == 1 and "timeit.timeit" in first.runs
    assert inspect_foreign(path) == first
    assert len(scans) == 1, "an unchanged file is not scanned again"
    entries = list((tmp_path / "cache" / "foreign-scans").iterdir())
    assert len(entries) == 1 and entries[0].stat().st_mode & 0o077 == 0

    # same size, mtime put back: still a new identity (ctime), so scanned again
    before = path.stat()
    data = path.read_bytes().replace(b"greeting", b"greetinG")
    path.write_bytes(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    again = inspect_foreign(path)
    assert len(scans) == 2 and "greetinG" in again.variables

    # a damaged cache entry is ignored, never trusted
    for entry in (tmp_path / "cache" / "foreign-scans").iterdir():
        entry.write_text('{"format": 1, "variables": [], "runs": "x"}')
    assert inspect_foreign(path) == again and len(scans) == 3


def test_a_large_hostile_pickle_is_bounded_and_cached(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Millions of tiny opcodes: the walk stops at its budget and is remembered."""
    monkeypatch.setenv("SESSIONS_CACHE_DIR", str(tmp_path / "cache"))
    home.mkdir(parents=True)
    path = home / "bomb.pkl"
    path.write_bytes(b"\x80\x04(" + b"N0" * 600_000 + b"cposix\nsystem\n(Vx\ntR.")
    first = inspect_foreign(path)
    assert not first.complete and "stopped after" in first.runs[-1]  # unread: not vouched for
    listed = cli(home, "ls")
    assert listed.returncode == 0 and "bomb.pkl" in listed.stdout and "RUNS CODE" in listed.stdout
    assert "Traceback" not in listed.stderr
    assert len(list((tmp_path / "cache" / "foreign-scans").iterdir())) == 1


async def test_the_ui_marks_a_foreign_file_that_runs_code(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from rich.console import Console
    from textual.widgets import Static
    from tui_pilot import goto_snapshot, make_app, ready

    monkeypatch.setenv("SESSIONS_CACHE_DIR", str(tmp_path / "cache"))
    _dump_module(home, "old-job", ATTACKS["timeit.timeit"], tmp_path / "canary")
    app = make_app(home)
    async with app.run_test(size=(140, 44)) as pilot:
        await ready(pilot)
        await goto_snapshot(pilot, "old-job.pkl")
        widget = app.query_one("#environment-text", Static)
        console = Console(file=io.StringIO(), width=200, color_system=None)
        console.print(widget.content)
        shown = console.file.getvalue()  # type: ignore[attr-defined]
        assert "RUNS CODE" in shown and "timeit.timeit" in shown
