"""The screens and dialogs of the app, each set up from the frozen demo: used by the SVG
snapshot tests and by ``python screenshots/make.py`` alike, at each of ``SIZES`` (the
smallest terminal people use, and a large one)."""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from textual.pilot import Pilot
from tui_pilot import goto_snapshot, goto_variable, press, ready, settle, until

import sessions.core.progress as progress_module
from sessions.core.errors import Cancelled
from sessions.core.progress import Progress
from sessions.tui.operations import Operation

_INTERVAL = progress_module.INTERVAL

SIZES = {"80x24": (80, 24), "200x60": (200, 60)}


@dataclass(frozen=True)
class Scene:
    name: str
    title: str
    run: Callable[[Pilot], Awaitable[None]]
    kernel: bool = False  # needs a running Jupyter kernel (jupyter_kernels.demo_kernel)
    empty: bool = False  # opens an empty session dir (next to the demo) instead of the demo


async def _main(pilot: Pilot) -> None:
    await ready(pilot)
    await goto_snapshot(pilot, "churn-analysis@2")
    await press(pilot, "tab")
    await goto_variable(pilot, "customers")


async def _array(pilot: Pilot) -> None:
    await _main(pilot)
    await goto_variable(pilot, "spend")


async def _function(pilot: Pilot) -> None:
    await ready(pilot)
    await goto_snapshot(pilot, "demo-model@1")
    await press(pilot, "tab")
    await goto_variable(pilot, "ChurnModel")


async def _foreign(pilot: Pilot) -> None:
    await ready(pilot)
    await press(pilot, "tab")
    await goto_variable(pilot, "customers")


def _tab(tab: str, ref: str) -> Callable[[Pilot], Awaitable[None]]:
    async def run(pilot: Pilot) -> None:
        await ready(pilot)
        await goto_snapshot(pilot, ref)
        pilot.app._w("#preview-tabs").active = tab
        await settle(pilot)

    return run


async def _filter(pilot: Pilot) -> None:
    await ready(pilot)
    await press(pilot, "slash", *"model")
    await pilot.pause(0.3)
    await settle(pilot)


async def _restore(pilot: Pilot) -> None:
    await _main(pilot)
    await press(pilot, "space")
    await goto_variable(pilot, "model")
    await press(pilot, "space", "r")


async def _share(pilot: Pilot) -> None:
    await ready(pilot)
    await goto_snapshot(pilot, "churn-analysis@2")
    await press(pilot, "s")


async def _delete(pilot: Pilot) -> None:
    await ready(pilot)
    await goto_snapshot(pilot, "churn-analysis@1")
    await press(pilot, "d")


async def _note(pilot: Pilot) -> None:
    await ready(pilot)
    await goto_snapshot(pilot, "demo-model@1")
    await press(pilot, "n")


async def _compare_pick(pilot: Pilot) -> None:
    await ready(pilot)
    await goto_snapshot(pilot, "churn-analysis@2")
    await press(pilot, "c")


async def _compare(pilot: Pilot) -> None:
    await _compare_pick(pilot)
    await press(pilot, "enter")


async def _secret(pilot: Pilot) -> None:
    await _main(pilot)
    await goto_variable(pilot, "warehouse_url")


async def _export(pilot: Pilot) -> None:
    from sessions.tui.components.path_modal import PathModal

    await _share(pilot)
    await press(pilot, "enter")
    await until(pilot, lambda: isinstance(pilot.app.screen, PathModal), "the export dialog")


async def _import(pilot: Pilot) -> None:
    from sessions.tui.components.path_modal import PathModal

    await ready(pilot)
    await press(pilot, "I")
    await until(pilot, lambda: isinstance(pilot.app.screen, PathModal), "the import dialog")


async def _commands(pilot: Pilot) -> None:
    """The command palette, narrowed by a word: every action with its key."""
    from textual.command import CommandPalette

    await ready(pilot)
    await press(pilot, "ctrl+p")
    from textual.widgets import Input

    await until(pilot, lambda: isinstance(pilot.app.screen, CommandPalette), "the palette")
    pilot.app.screen.query_one(Input).cursor_blink = False  # the same screen in every run
    await press(pilot, *"re")

    def listed() -> tuple[int, ...] | None:
        """The hits once the search has finished (busy indicator off, list shown)."""
        from textual.command import CommandList

        palette = pilot.app.screen
        if not isinstance(palette, CommandPalette) or palette._show_busy:
            return None
        found = palette.query_one(CommandList)
        return (found.option_count, found.highlighted or 0) if found.option_count else None

    await until(pilot, listed, "the palette's hits")
    seen = listed()
    while True:  # hits come in from several providers: until they stop changing
        await pilot.pause(0.3)
        now = listed()
        if now == seen:
            break
        seen = now
    await settle(pilot)


async def _gc(pilot: Pilot) -> None:
    """Garbage collection after a delete: what it freed, said in a toast."""
    from sessions.tui.components.confirm_modal import ConfirmModal

    await ready(pilot)
    await goto_snapshot(pilot, "churn-analysis@1")
    await press(pilot, "d")
    await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmModal), "the delete dialog")
    await press(pilot, "y")
    await ready(pilot, rows=3)
    await press(pilot, "ctrl+g")
    await until(
        pilot,
        lambda: any(n.title == "Garbage collected" for n in pilot.app._notifications),
        "the collection",
    )


async def _pull(pilot: Pilot) -> None:
    from sessions.tui.components.pull_modal import PullModal

    await ready(pilot)
    listed = {
        "team": ["alice/churn-analysis@3", "alice/churn-analysis@2", "bob/features@1"],
        "archive": ["alice/quarterly-report@12"],
    }
    problems = {"cloud": "cannot reach s3://team-bucket/sessions: no credentials"}
    await pilot.app.push_screen(PullModal(listed, problems))
    await settle(pilot)


async def _verify(pilot: Pilot) -> None:
    from sessions.tui.components.outcome_modal import OutcomeModal

    await ready(pilot)
    problems = [
        "churn-analysis@2 (01KDX5J8R0…): variable customers, spend: blob 5f1c0a9e2b3d is "
        "corrupt: content does not match its hash",
    ]
    summary = (
        "1 problem in 9 stored objects; the rest loads as usual. Delete the snapshot, or "
        "restore what still loads and save it again."
    )
    await pilot.app.push_screen(OutcomeModal("churn-analysis@2 is damaged", summary, problems))
    await settle(pilot)


class HeldOperation(Operation):
    """A long operation held still halfway: its progress stops at the first record at least
    half done and stays there until the operation is cancelled or the app closes, with its
    time fixed at 2 s so that rate and time left read the same in every run. The operation
    itself (an export, a push) is real; only its clock and pace are the test's."""

    held = threading.Event()  # set once an operation is holding (one at a time)
    at: Progress | None = None  # where the holding operation stopped

    def __call__(self, progress: Progress) -> None:
        if progress.fraction is None or progress.fraction < 0.5 or HeldOperation.held.is_set():
            super().__call__(progress)
            return
        HeldOperation.at = replace(progress, elapsed=2.0)
        super().__call__(HeldOperation.at)
        HeldOperation.held.set()
        while not self.cancel_requested and self.target.is_running:
            time.sleep(0.05)
        if not self.target.is_running:
            raise Cancelled("the app closed")
        super().__call__(progress)  # raises Cancelled: the user cancelled meanwhile


@contextmanager
def every_step_reported() -> Iterator[None]:
    """Progress reported at every step, not at most every 0.1 s: which records an operation
    sends no longer depends on the machine's speed."""
    HeldOperation.held.clear()
    progress_module.INTERVAL = 0.0
    try:
        yield
    finally:
        progress_module.INTERVAL = _INTERVAL


async def export_held_halfway(pilot: Pilot, target: Path) -> None:
    """Export churn-analysis@2 to ``target`` from the share dialog, held halfway."""
    from textual.widgets import Input

    from sessions.tui.components.path_modal import PathModal

    await ready(pilot)
    await goto_snapshot(pilot, "churn-analysis@2")
    pilot.app.operation_class = HeldOperation
    await press(pilot, "s", "enter")
    await until(pilot, lambda: isinstance(pilot.app.screen, PathModal), "the export dialog")
    pilot.app.screen.query_one("#path", Input).value = str(target)
    with every_step_reported():
        await press(pilot, "enter")
        await until(pilot, HeldOperation.held.is_set, "the export to be halfway")


async def _progress(pilot: Pilot) -> None:
    await export_held_halfway(pilot, Path(pilot.app.store.root).parent / "churn.sessions")


async def _first_run(pilot: Pilot) -> None:
    await until(pilot, lambda: pilot.app.empty, "the first-run screen")


async def _help(pilot: Pilot) -> None:
    await ready(pilot)
    await press(pilot, "question_mark")


async def _damaged(pilot: Pilot) -> None:
    from tui_fixtures import damage_one

    await ready(pilot)
    damage_one(Path(pilot.app.store.root), "demo-model")
    pilot.app.action_refresh()
    await settle(pilot)
    await goto_snapshot(pilot, "demo-model@1")


async def _report(pilot: Pilot) -> None:
    from sessions.tui.components.report_modal import ReportModal

    await ready(pilot)
    report = {
        "loaded": ["customers", "spend", "features", "config", "ChurnModel", "churn_rate", "clean"],
        "imported": ["np", "pd", "sqlite3", "sessions"],
        "failed": {"model": "blob 5f1c0a9e2b3d is corrupt: content does not match its hash"},
        "warnings": ["pandas: saved with 2.2.3, installed 3.0.1"],
    }
    await pilot.app.push_screen(ReportModal("Restored churn-analysis@2 into a new shell", report))
    await settle(pilot)


async def _restore_kernel(pilot: Pilot) -> None:
    from sessions.tui.components.restore_modal import RestoreModal

    await ready(pilot)
    await goto_snapshot(pilot, "demo-model@1")
    await press(pilot, "r")
    await until(pilot, lambda: isinstance(pilot.app.screen, RestoreModal), "the restore dialog")


async def _kernel(pilot: Pilot) -> None:
    from sessions.tui.components.restore_modal import KernelModal

    await ready(pilot)
    await press(pilot, "K")
    await until(pilot, lambda: isinstance(pilot.app.screen, KernelModal), "the kernel picker")


SCENES = (
    Scene("main", "Main screen: a DataFrame preview", _main),
    Scene("array", "Array statistics", _array),
    Scene("class", "A class defined in the session, with its source", _function),
    Scene("foreign", "A foreign dill.dump_module file, read without running it", _foreign),
    Scene("environment", "Environment tab", _tab("tab-environment", "churn-analysis@2")),
    Scene("skipped", "Skipped variables and why", _tab("tab-skipped", "churn-analysis@1")),
    Scene("filter", "Filtering across names, notes, tags and variables", _filter),
    Scene("restore", "Restoring two marked variables", _restore),
    Scene("report", "The report after a restore", _report),
    Scene("restore-kernel", "Restoring into a running Jupyter kernel", _restore_kernel, True),
    Scene("kernel", "Snapshotting a running kernel", _kernel, True),
    Scene("share", "Sharing: a bundle file or a team remote", _share),
    Scene("export", "Export asks where the bundle goes", _export),
    Scene("pull", "Pulling a teammate's snapshot from a team remote", _pull),
    Scene("import", "Import asks which bundle file", _import),
    Scene("gc", "Garbage collection says what it freed", _gc),
    Scene("secret", "A value that looks like a credential, masked until revealed", _secret),
    Scene("verify", "What verify found", _verify),
    Scene(
        "progress", "A long operation halfway: progress, rate, time left, esc cancels", _progress
    ),
    Scene(
        "first-run",
        "The first run: how to make a first snapshot, or open the demo",
        _first_run,
        empty=True,
    ),
    Scene("delete", "Delete asks first", _delete),
    Scene("note", "Editing a note and tags", _note),
    Scene("compare-pick", "Choosing what to compare with", _compare_pick),
    Scene("compare", "What changed between two versions", _compare),
    Scene("help", "Help for the focused pane", _help),
    Scene("commands", "The command palette: every action, searchable, with its key", _commands),
    Scene("damaged", "A damaged snapshot explains itself", _damaged),
)
