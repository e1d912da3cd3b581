"""The UI shows long work on 1 GiB as it happens: a snapshot of a running kernel (a save), a
push, a pull and a restore into a kernel (a load), each caught halfway with the progress
panel saying how much of how much is done — and the screen saved as a screenshot.

"Halfway" is made deterministic, not a timing guess: the second big object of each operation
(its write, upload, download or read) is held until the test has read the screen, in the
kernel for the save and the load, in this process for the push and the pull. Screenshots of
each held screen go to ``tmp_path/screens`` (``--basetemp`` to keep and look at them).
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest
from jupyter_kernels import Kernels, kernel_id
from textual.pilot import Pilot
from textual.widgets import Static
from tui_pilot import goto_snapshot, make_app, press, ready, settle, until

from sessions.core.store.session_dir import Store
from sessions.tui.components.restore_modal import KernelModal

HALF = 1 << 26  # float64 values in each of two arrays: 512 MiB each, 1 GiB in all

# Holds the second call of ``cls.name`` on an object of ``least`` bytes or more until ``gate/release``
# exists, after touching ``gate/held``. Run in the kernel and in this process alike.
HOLD = """
import importlib, pathlib, threading, time

def hold(module, owner, name, size_of, gate, least=128 << 20):
    cls = getattr(importlib.import_module(module), owner)
    original = getattr(cls, name)
    gate = pathlib.Path(gate)
    seen = [0]
    lock = threading.Lock()

    def held(*args, **kwargs):
        if size_of(*args, **kwargs) >= least:
            with lock:
                seen[0] += 1
                second = seen[0] == 2
            if second:
                (gate / "held").touch()
                while not (gate / "release").exists():
                    time.sleep(0.05)
        return original(*args, **kwargs)

    setattr(cls, name, held)
    return lambda: setattr(cls, name, original)
"""

SIZES = {
    "put": "lambda self, data, *a, **k: memoryview(data).nbytes",
    "read": "lambda self, digest, path, *a, **k: path.stat().st_size",
    "write": "lambda self, path, data, *a, **k: len(data)",
    "fetch": "lambda self, path, *a, **k: (self.root / path).stat().st_size",
}
TARGETS = {
    "put": ("sessions.core.store.blobs", "BlobStore", "put"),
    "read": ("sessions.core.store.blobs", "BlobStore", "_read_file"),
    "write": ("sessions.core.sharing.remote", "_Folder", "write"),
    "fetch": ("sessions.core.sharing.remote", "_Folder", "read"),
}


def _hold_call(what: str, gate: Path, least: int = 128 << 20) -> str:
    module, owner, name = TARGETS[what]
    return f"_undo = hold({module!r}, {owner!r}, {name!r}, {SIZES[what]}, {str(gate)!r}, {least})"


def _hold_here(what: str, gate: Path):
    """Hold ``what`` in this process; returns the undo."""
    namespace: dict = {}
    exec(HOLD, namespace)
    exec(_hold_call(what, gate), namespace)
    return namespace["_undo"]


def _figures(app) -> str:
    import io

    from rich.console import Console

    console = Console(file=io.StringIO(), width=300, color_system=None)
    for static in app.query_one("#progress").query(".operation-figures").results(Static):
        console.print(static.content)
    return console.file.getvalue()


def _titles(app) -> str:
    return " | ".join(
        str(s.content) for s in app.query_one("#progress").query(".operation-title").results(Static)
    )


async def _halfway(pilot: Pilot, gate: Path, title: str, screens: Path, name: str) -> str:
    """Wait until the operation is held halfway and the panel says so; save the screen."""
    app = pilot.app
    deadline = time.monotonic() + 300
    while not (gate / "held").exists():
        assert time.monotonic() < deadline, f"{title} never got halfway"
        await asyncio.sleep(0.1)
    try:
        await until(pilot, lambda: "512.0 MiB of 1.0 GiB" in _figures(app), f"{title} halfway", 120)
    except AssertionError:
        raise AssertionError(f"the panel shows {_titles(app)!r}: {_figures(app)!r}") from None
    figures = _figures(app)
    assert title in _titles(app), _titles(app)
    percent = int(re.match(r"(\d+)%", figures).group(1))
    assert 40 <= percent <= 60 and "/s" in figures, figures  # amount done, rate
    assert "esc cancels" in figures, figures
    screens.mkdir(exist_ok=True)
    app.save_screenshot(f"{name}.svg", path=str(screens))
    (gate / "release").touch()
    await until(pilot, lambda: not app.operations, f"{title} to end", timeout=300)
    return figures


@pytest.mark.timeout(1200)
async def test_a_1gib_kernel_save_push_pull_and_load_each_show_progress_in_the_ui(
    kernels: Kernels, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SESSIONS_CONFIG_DIR", str(tmp_path / "config"))  # this test's remote
    screens = tmp_path / "screens"
    gates = {what: tmp_path / f"gate-{what}" for what in TARGETS}
    for gate in gates.values():
        gate.mkdir()
    kernel = kernels.start()
    made = kernel.run(
        f"import numpy as np\nrng = np.random.default_rng(1)\n"
        f"first = rng.random({HALF})\nsecond = rng.random({HALF})\n"
        f"exec({HOLD + _hold_call('put', gates['put'])!r}, {{}})\n",
        timeout=300,
    )
    assert made["error"] is None, made

    try:
        await _each_operation(kernel, home, tmp_path, gates, screens)
    finally:  # a failure must not leave work held (the app waits for its workers to end)
        for gate in gates.values():
            (gate / "release").touch()
    for name in ("save", "push", "load", "pull"):
        assert (screens / f"{name}.svg").stat().st_size > 0


async def _each_operation(
    kernel, home: Path, tmp_path: Path, gates: dict[str, Path], screens: Path
) -> None:
    from sessions.core.sharing.remote import add_remote
    from sessions.tui.components.pull_modal import PullModal
    from sessions.tui.components.report_modal import ReportModal
    from sessions.tui.components.restore_modal import RestoreModal
    from sessions.tui.components.share_modal import ShareModal

    short = kernel_id(kernel)[:8]
    app = make_app(home)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await until(pilot, lambda: app.empty, "the first-run screen")
        await press(pilot, "K")  # save: snapshot the kernel
        await until(pilot, lambda: isinstance(app.screen, KernelModal), "the kernel picker")
        await pilot.press("enter")
        figures = await _halfway(
            pilot, gates["put"], f"Snapshotting kernel {short}", screens, "save"
        )
        assert "variables" in figures, figures
        await ready(pilot, rows=1)
        ref = f"kernel-{short}@1"
        await goto_snapshot(pilot, ref)

        add_remote("team", str(tmp_path / "remote"))  # push to a team remote
        undo = _hold_here("write", gates["write"])
        try:
            await press(pilot, "s")
            assert isinstance(app.screen, ShareModal)
            await press(pilot, "j")
            await pilot.press("enter")
            await _halfway(pilot, gates["write"], f"Pushing {ref} to team", screens, "push")
        finally:
            undo()
        await until(pilot, lambda: "sessions-tui pull" in (app.clipboard or ""), "the push")

        restored = kernel.run(
            f"exec({HOLD + _hold_call('read', gates['read'])!r}, {{}})\ndel first, second\n"
        )
        assert restored["error"] is None, restored
        await press(pilot, "r")  # load: restore into the kernel
        await until(pilot, lambda: isinstance(app.screen, RestoreModal), "the restore dialog")
        assert app.screen.targets[1].id == f"kernel:{kernel_id(kernel)}"
        await press(pilot, "j")
        await pilot.press("enter")
        await _halfway(
            pilot, gates["read"], f"Restoring {ref} into kernel {short}", screens, "load"
        )
        await until(pilot, lambda: isinstance(app.screen, ReportModal), "the load report")
    loaded = kernel.run("print(first.nbytes + second.nbytes)")
    assert loaded["stdout"].split() == [str(1 << 30)], loaded

    other = make_app(tmp_path / "other-home")  # pull into a session dir that has nothing
    undo = _hold_here("fetch", gates["fetch"])
    try:
        async with other.run_test(size=(200, 60), notifications=True) as pilot:
            await until(pilot, lambda: other.empty, "the first-run screen")
            await press(pilot, "P")
            await until(pilot, lambda: isinstance(other.screen, PullModal), "the pull dialog")
            await settle(pilot)
            await pilot.press("enter")
            await _halfway(pilot, gates["fetch"], "Pulling", screens, "pull")
            await ready(pilot, rows=1)
    finally:
        undo()


async def test_esc_stops_a_kernel_snapshot_and_no_snapshot_is_made(
    kernels: Kernels, home: Path, tmp_path: Path
) -> None:
    """The kernel is told to stop (not merely no longer watched): it stops at its next
    progress report and makes no snapshot."""
    gate = tmp_path / "gate"
    gate.mkdir()
    kernel = kernels.start()
    made = kernel.run(
        "import numpy as np\nfirst = np.ones(1 << 21)\nsecond = np.zeros(1 << 21)\n"
        f"exec({HOLD + _hold_call('put', gate, least=8 << 20)!r}, {{}})\n"
    )
    assert made["error"] is None, made
    app = make_app(home)
    try:
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await until(pilot, lambda: app.empty, "the first-run screen")
            await press(pilot, "K")
            await until(pilot, lambda: isinstance(app.screen, KernelModal), "the kernel picker")
            await pilot.press("enter")
            await until(pilot, lambda: (gate / "held").exists(), "the save to be halfway", 120)
            await until(pilot, lambda: "esc cancels" in _figures(app), "the cancel hint")
            await pilot.press("escape")
            await until(pilot, lambda: "cancelling" in _figures(app), "the panel to say so")
            (gate / "release").touch()
            await until(pilot, lambda: not app.operations, "the save to stop", 120)
            told = [n.message for n in app._notifications]
            assert any("cancelled" in message for message in told), told
            assert app.empty  # still nothing saved
    finally:
        (gate / "release").touch()
    assert list(Store(home).entries()) == []
    assert kernel.run("print(first.sum(), second.sum())")["stdout"].split() == ["2097152.0", "0.0"]
