"""``sessions-tui run script.py [args]``: run a script cell by cell, checkpointing after slow
cells, and resume a failed or killed run after its last completed cell.

The script runs in this process as ``python script.py`` would run it: a fresh ``__main__``
module with ``__file__`` (absolute), ``sys.argv`` = ``[script, *args]``, the script's
directory first on ``sys.path``; an uncaught exception goes to ``sys.excepthook`` with the
script's own frames only, and ``sys.exit`` works as usual. Cells come from
sessions.core.engine.cells; after a cell that took ``checkpoint_after`` seconds or more the
namespace is saved as a checkpoint (sessions.core.engine.checkpoint) before the next cell
starts. On a resume, the namespace of the chosen checkpoint is loaded and the cells after it
run; cells that assigned what a checkpoint cannot hold (an open connection) run again first.
"""

from __future__ import annotations

import builtins
import importlib.machinery
import importlib.util
import logging
import os
import socket
import sys
import time
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sessions.core.engine import cells as cells_mod
from sessions.core.engine import checkpoint, file_inputs
from sessions.core.errors import SessionsError
from sessions.core.store import ids
from sessions.core.store.session_dir import Store

log = logging.getLogger("sessions.run")
Report = Callable[[str], None]


class RunError(SessionsError):
    """The script cannot be started (missing, unreadable); nothing of it ran."""


@dataclass
class Outcome:
    """How the script ended: ``exit_code`` as ``python script.py`` would give it;
    ``interrupted`` for Ctrl-C (the caller re-raises SIGINT, as Python does)."""

    exit_code: int
    interrupted: bool = False
    skipped: list[int] = field(default_factory=list)
    ran: list[int] = field(default_factory=list)
    checkpoints: list[str] = field(default_factory=list)


def _main_module(script: Path) -> types.ModuleType:
    module = types.ModuleType("__main__")
    module.__file__ = str(script)
    module.__builtins__ = builtins  # type: ignore[attr-defined]
    module.__loader__ = importlib.machinery.SourceFileLoader("__main__", str(script))
    module.__spec__ = None
    module.__package__ = None
    module.__cached__ = None  # type: ignore[attr-defined]
    return module


def _exit_code(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF if code >= 0 else code
    sys.stderr.write(f"{code}\n")
    return 1


def _closed_files(namespace: dict[str, Any]) -> list[str]:
    """Names bound to closed files: nothing to keep, nor worth running their cell again."""
    from sessions.core.engine.cache import closed_file

    return [name for name, value in namespace.items() if closed_file(value)]


def _show(exc: BaseException) -> None:
    """Hand an uncaught exception to ``sys.excepthook`` as Python would: with the script's
    frames only (this module's are taken off the traceback)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    exc.__traceback__ = tb
    sys.excepthook(type(exc), exc, tb)


def run_script(
    path: str | Path,
    args: list[str],
    *,
    store: Store | None = None,
    checkpoint_after: float = 10.0,
    fresh: bool = False,
    report: Report | None = None,
) -> Outcome:
    """Run ``path`` with ``args``; see the module docstring. ``report`` receives one line per
    decision (what was skipped and why, checkpoints taken)."""
    say = report or (lambda text: log.info("%s", text))
    store = store or Store()
    script = Path(os.path.abspath(path))
    try:
        source_bytes = script.read_bytes()
    except OSError as exc:
        raise RunError(f"can't open file '{path}': {exc.strerror}") from None
    module = _main_module(script)
    sys.argv = [str(path), *args]
    sys.path[0:1] = [os.path.dirname(os.path.realpath(script))]
    sys.modules["__main__"] = module
    namespace = vars(module)
    try:
        source = importlib.util.decode_source(source_bytes)
        cells = cells_mod.split(source, str(script))
    except SyntaxError as exc:
        exc.__traceback__ = None  # as Python shows it: the file and line, no frames
        sys.excepthook(type(exc), exc, None)
        return Outcome(1)
    store.ensure()
    resume = checkpoint.plan(store, script, cells, args, fresh=fresh)
    run_id = ids.new_id()
    previous = checkpoint.read_state(store, script)
    chain = (
        previous.chain
        if previous is not None and previous.state != "completed" and resume.checkpoint
        else []
    )
    state = checkpoint.RunState(
        script=str(script),
        state="running",
        chain=[*chain, run_id],
        pid=os.getpid(),
        host=socket.gethostname(),
        started=time.time(),
    )
    checkpoint.write_state(store, script, state)
    outcome = Outcome(0)
    finished = "failed"
    try:
        with file_inputs.recording() as read:  # a checkpoint is used only while they are unchanged
            _run_cells(
                store,
                script,
                cells,
                resume,
                args,
                namespace,
                run_id,
                checkpoint_after,
                read,
                say,
                outcome,
            )
        finished = "completed"
    except SystemExit as exc:
        outcome.exit_code = _exit_code(exc)
        finished = "completed" if outcome.exit_code == 0 else "failed"
    except KeyboardInterrupt as exc:
        _show(exc)
        outcome.exit_code, outcome.interrupted = 130, True
    except BaseException as exc:
        _show(exc)
        outcome.exit_code = 1
    finally:
        state.state = finished
        state.finished = time.time()
        if finished == "completed":
            state.chain = []
        try:
            checkpoint.write_state(store, script, state)
        except SessionsError as exc:
            say(f"cannot record how the run ended: {exc}")
    return outcome


def _run_cells(
    store: Store,
    script: Path,
    cells: list[cells_mod.Cell],
    resume: checkpoint.Resume,
    args: list[str],
    namespace: dict[str, Any],
    run_id: str,
    checkpoint_after: float,
    read: set[str],
    say: Report,
    outcome: Outcome,
) -> None:
    """Restore the checkpoint to start from, if any, then run the rest of the cells,
    checkpointing after slow ones."""
    start = 0
    if resume.checkpoint is not None:
        start = _restore(store, resume, cells, namespace, say, outcome)
    else:
        for line in resume.reasons:
            say(line)
    for cell in cells[start:]:
        began = time.perf_counter()
        exec(cell.code, namespace)
        took = time.perf_counter() - began
        outcome.ran.append(cell.index)
        if took >= checkpoint_after and cell.index < len(cells):
            files = file_inputs.stamps(read, exclude=checkpoint.own_dirs(store))
            _checkpoint(
                store, script, cells, cell, args, namespace, run_id, took, files, say, outcome
            )


def _restore(
    store: Store,
    resume: checkpoint.Resume,
    cells: list[cells_mod.Cell],
    namespace: dict[str, Any],
    say: Report,
    outcome: Outcome,
) -> int:
    """Load the checkpoint into ``namespace`` (after running the cells that made what it
    could not hold); returns the index of the first cell to run."""
    from sessions.core.engine.load import load_entry

    point = resume.checkpoint
    assert point is not None and point.entry.manifest is not None
    ref = point.entry.ref
    for line in resume.reasons:
        say(line)
    made: dict[str, int] = {}
    for cell in cells[: point.cell]:
        for name in cells_mod.names(cell.code)[1]:
            made[name] = cell.index
    rerun: dict[int, list[str]] = {}
    for name in point.entry.manifest.skipped:
        if name in made:
            rerun.setdefault(made[name], []).append(name)
    for index in sorted(rerun):
        held = ", ".join(sorted(rerun[index]))
        say(f"cell {index} runs again: it made {held}, which a checkpoint cannot hold")
        exec(cells[index - 1].code, namespace)
    report = load_entry(store, point.entry, namespace=namespace)
    if report.failed:
        names = ", ".join(sorted(report.failed))
        raise RunError(f"checkpoint {ref} could not restore {names}: run with --fresh")
    skipped = [c.index for c in cells[: point.cell]]
    outcome.skipped = skipped
    span = f"cells 1-{point.cell}" if point.cell > 1 else "cell 1"
    say(
        f"{span} skipped: unchanged since checkpoint {ref}, namespace restored "
        f"({len(report.loaded) + len(report.imported)} names)"
    )
    if point.cell < len(cells):
        nxt = cells[point.cell]
        say(f"resuming at cell {nxt.index} of {len(cells)} ({nxt.lines}: {nxt.title})")
    return point.cell


def _checkpoint(
    store: Store,
    script: Path,
    cells: list[cells_mod.Cell],
    cell: cells_mod.Cell,
    args: list[str],
    namespace: dict[str, Any],
    run_id: str,
    took: float,
    files: list[list[Any]],
    say: Report,
    outcome: Outcome,
) -> None:
    from sessions.core.engine.save import save

    details = {
        "kind": "script",
        "script": str(script),
        "run": run_id,
        "cell": cell.index,
        "cells": len(cells),
        "digests": [c.digest for c in cells[: cell.index]],
        "argv": list(args),
        "modules": checkpoint.record_modules(),
        "files": files,
        "titles": [c.title for c in cells[: cell.index]],
    }
    try:
        result = save(
            namespace,
            store=store,
            name=checkpoint.checkpoint_name(script),
            note=f"after cell {cell.index}/{len(cells)} ({cell.lines}: {cell.title}), {took:.1f} s",
            tags=("checkpoint",),
            origin={"kind": checkpoint.ORIGIN_KIND, "path": str(script)},
            private=True,
            exclude=["__*__", *_closed_files(namespace)],
            extra={"run": details},
            history=False,
        )
    except SessionsError as exc:
        say(f"checkpoint after cell {cell.index} failed: {exc}")
        return
    outcome.checkpoints.append(result.ref)
    skipped = f"; not held: {', '.join(result.skipped)}" if result.skipped else ""
    say(f"checkpoint {result.ref} after cell {cell.index} ({took:.1f} s){skipped}")
