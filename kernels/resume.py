"""``%sessions resume``: a notebook run that failed, or whose kernel died, resumes where it
stopped instead of computing everything again.

Put it at the top of the notebook's first cell (``%load_ext sessions`` then
``%sessions resume``) and run the notebook as usual: Run All, nbclient, papermill,
``jupyter nbconvert --execute``. From then on, in this kernel:

- every cell is counted (1, 2, … after the one holding the magic) and its code digested
  (its syntax, so comments and blank lines do not count: sessions.core.engine.cells);
- after each cell that ran without error for ``--after`` seconds or more
  (``[run] checkpoint_after_seconds``, default 10), the namespace is saved as a checkpoint
  (sessions.core.engine.checkpoint) holding the digests of every cell so far, the files the
  run has read, the local modules it imported, and a digest of the variables that were
  defined before ``%sessions resume`` ran (papermill parameters, say);
- a cell that raises marks the run failed; a kernel that exits after its last cell ran
  cleanly marks it completed; a kernel that is killed leaves it "running" with a dead pid.

When the last run of the same notebook failed or died, the next ``%sessions resume`` looks
at its checkpoints. As cells arrive, each one whose position and code match a checkpoint's
is skipped (it prints that it was, and why); at the last cell a usable checkpoint covers,
its namespace is restored (after running again the cells that made what a checkpoint cannot
hold, such as an open connection). Should a cell differ before that point, the newest
checkpoint it passed is restored and the skipped cells after it run again, in that cell,
before it — so a cell always runs on the state it would have had. A completed run is not
resumed, and ``--fresh`` ignores checkpoints.

A run is keyed by the notebook's path when the kernel knows it (Jupyter, VS Code), else by
the NAME given (``%sessions resume NAME``: nbclient and papermill do not tell the kernel).

Skipping and restoring happen through an AST transformer (IPython's ``ast_transformers``):
a cell to skip has its code replaced by a call back into this module, so IPython runs,
counts and records it as usual and a failure in it is that cell's failure.
"""

from __future__ import annotations

import ast
import atexit
import contextlib
import os
import re
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import blake3

from sessions.core.engine import cells as cells_mod
from sessions.core.engine import checkpoint, file_inputs
from sessions.core.engine.capture import select_names
from sessions.core.engine.fingerprint import Fingerprinter, FingerprintError
from sessions.core.errors import SessionsError
from sessions.core.store import ids
from sessions.core.store.session_dir import Store

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_HOOK = "_sessions_resume"  # the shell attribute the replaced cells call back through


class ResumeError(SessionsError):
    """A checkpoint that was chosen cannot be restored; the message says what to do."""


def _say(text: str) -> None:
    print(f"sessions: {text}", flush=True)


def _span(first: int, last: int) -> str:
    return f"cell {first}" if first == last else f"cells {first}-{last}"


def digest(source: str) -> str:
    """A cell's digest: its syntax when it parses, else its text."""
    try:
        return cells_mod.digest_of(ast.parse(source).body)
    except (SyntaxError, ValueError):
        return blake3.blake3(source.encode()).hexdigest()


def _title(source: str) -> str:
    for line in source.splitlines():
        text = line.strip()
        if text and not text.startswith("#"):
            return text if len(text) <= 60 else text[:59] + "…"
    return ""


@dataclass
class Seen:
    """One cell of this run: its position, digest and (transformed) code."""

    index: int
    digest: str
    source: str
    title: str
    action: str = "run"  # "run", "skip", "restore" or "catch-up"


@dataclass
class Plan:
    """What the next cell does, decided before it runs."""

    action: str
    point: checkpoint.Checkpoint | None = None  # restore: this one; catch-up: the newest passed
    reason: str = ""
    applied: bool = False  # the cell's code was replaced already


@dataclass
class NotebookRun:
    """One run of a notebook in this kernel (see the module docstring)."""

    shell: Any
    key: str
    store: Store
    after: float
    fresh: bool = False
    cells: list[Seen] = field(default_factory=list)
    candidates: list[checkpoint.Checkpoint] = field(default_factory=list)
    passed: checkpoint.Checkpoint | None = None  # newest fully matched checkpoint skipped past
    plan: Plan | None = None
    inputs: str | None = None
    run_id: str = ""
    state: checkpoint.RunState | None = None
    _began: float | None = None  # set while a cell of the run executes
    _recording: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    _read: set[str] = field(default_factory=set)

    # --- starting -------------------------------------------------------------------------
    def start(self) -> None:
        """Decide whether this run resumes the last one, say so, and start watching cells."""
        self.store.ensure()
        ns = self.shell.user_ns
        self.inputs, unhashable = _inputs_digest(ns)
        last = checkpoint.previous(self.store, self.key, fresh=self.fresh)
        state = last.state
        mine = state is not None and state.pid == os.getpid() and state.host == _host()
        reasons = list(last.reasons)
        usable: list[checkpoint.Checkpoint] = []
        if mine and state is not None and state.state == "running":
            reasons = []  # this kernel ran it to the end already: a new Run All computes again
        elif last.resumable:
            for point in last.candidates:
                why = checkpoint.stale(point)
                if why is None and unhashable:
                    why = f"cannot tell whether {unhashable} changed"
                elif why is None and point.inputs != self.inputs:
                    why = "the variables defined before %sessions resume differ"
                if why is None:
                    usable.append(point)
                else:
                    reasons.append(f"checkpoint after cell {point.cell} not used: {why}")
        self.candidates = sorted(usable, key=lambda p: p.cell)  # stable: newest first per cell
        self.run_id = ids.new_id()
        chain = state.chain if state is not None and usable else []
        self.state = checkpoint.RunState(
            script=self.key,
            state="running",
            chain=[*chain, self.run_id],
            pid=os.getpid(),
            host=_host(),
            started=time.time(),
        )
        checkpoint.write_state(self.store, self.key, self.state)
        self._read = self._recording.enter_context(file_inputs.recording())
        if usable:
            after = ", ".join(str(p.cell) for p in _newest_per_cell(usable))
            _say(
                f"{reasons[0]}: cells unchanged since its checkpoints (after cells {after}) "
                "will be skipped"
            )
            reasons = reasons[1:]
        elif reasons and last.resumable:
            reasons[0] = f"{reasons[0]}, but no checkpoint can be used"
        for line in reasons:
            _say(line)
        _say(f"checkpoints after cells of {self.after:g} s or more ({self.key})")
        self._register()

    def _register(self) -> None:
        previous = getattr(self.shell, _HOOK, None)
        if isinstance(previous, NotebookRun):
            previous.stop()
        setattr(self.shell, _HOOK, self)
        self.shell.events.register("pre_run_cell", self.pre_run_cell)
        self.shell.events.register("post_run_cell", self.post_run_cell)
        self.shell.ast_transformers.append(_Transformer(self))
        atexit.register(self.finish)

    def stop(self) -> None:
        """Stop watching cells (another %sessions resume took over, or the extension left)."""
        with contextlib.suppress(ValueError):
            self.shell.events.unregister("pre_run_cell", self.pre_run_cell)
        with contextlib.suppress(ValueError):
            self.shell.events.unregister("post_run_cell", self.post_run_cell)
        self.shell.ast_transformers[:] = [
            t
            for t in self.shell.ast_transformers
            if not (isinstance(t, _Transformer) and t.run is self)
        ]
        atexit.unregister(self.finish)
        self._recording.close()
        if getattr(self.shell, _HOOK, None) is self:
            delattr(self.shell, _HOOK)

    def finish(self) -> None:
        """At exit: a run whose last cell ran cleanly completed."""
        if self.state is not None and self.state.state == "running":
            self._set_state("completed")

    # --- each cell ------------------------------------------------------------------------
    def pre_run_cell(self, info: Any) -> None:
        source = getattr(info, "transformed_cell", None) or info.raw_cell or ""
        seen = Seen(len(self.cells) + 1, digest(source), source, _title(source))
        self.cells.append(seen)
        self.plan = self._decide(seen)
        seen.action = self.plan.action
        self._began = time.perf_counter()

    def _decide(self, seen: Seen) -> Plan:
        if not self.candidates:
            return Plan("run")
        i = seen.index
        viable = [p for p in self.candidates if p.cell >= i and p.digests[i - 1] == seen.digest]
        if viable:
            ending = [p for p in viable if p.cell == i]
            if ending and all(p.cell == i for p in viable):
                self.candidates = []
                return Plan("restore", ending[0])
            if ending:
                self.passed = ending[0]
            self.candidates = viable
            return Plan("skip")
        self.candidates = []
        skipped = [c for c in self.cells[:-1] if c.action in ("skip",)]
        if not skipped:
            return Plan("run")
        return Plan("catch-up", self.passed, f"cell {i} changed since the last run")

    def post_run_cell(self, result: Any) -> None:
        # only after a cell pre_run_cell saw (not the one holding the magic, nor an empty one)
        if self._began is None or not self.cells:
            return
        seen = self.cells[-1]
        took = time.perf_counter() - self._began
        self._began = None
        if result.error_before_exec is not None or result.error_in_exec is not None:
            self._set_state("failed")
            return
        if self.state is not None and self.state.state != "running":
            self._set_state("running")
        if seen.action in ("run", "catch-up") and took >= self.after:
            self._checkpoint(seen, took)

    def _set_state(self, value: str) -> None:
        if self.state is None:
            return
        self.state.state = value
        if value == "completed":
            self.state.finished = time.time()
            self.state.chain = []
        try:
            checkpoint.write_state(self.store, self.key, self.state)
        except SessionsError as exc:
            print(f"sessions: cannot record how the run went: {exc}", file=sys.stderr)

    def _checkpoint(self, seen: Seen, took: float) -> None:
        from sessions.core.engine.cache import closed_file
        from sessions.core.engine.save import save

        ns = self.shell.user_ns
        details = {
            "kind": "notebook",
            "script": self.key,
            "run": self.run_id,
            "cell": seen.index,
            "cells": 0,
            "digests": [c.digest for c in self.cells],
            "argv": [],
            "modules": checkpoint.record_modules(),
            "files": file_inputs.stamps(self._read, exclude=checkpoint.own_dirs(self.store)),
            "inputs": self.inputs,
            "titles": [c.title for c in self.cells],
        }
        closed = [name for name, value in ns.items() if closed_file(value)]
        try:
            saved = save(
                ns,
                store=self.store,
                name=checkpoint.checkpoint_name(self.key),
                note=f"after cell {seen.index} ({seen.title}), {took:.1f} s",
                tags=("checkpoint",),
                origin={"kind": checkpoint.ORIGIN_KIND, "path": self.key},
                private=True,
                exclude=["__*__", *closed],
                extra={"run": details},
                history=False,
            )
        except SessionsError as exc:
            print(f"sessions: checkpoint after cell {seen.index} failed: {exc}", file=sys.stderr)
            return
        held = f"; not held: {', '.join(saved.skipped)}" if saved.skipped else ""
        _say(f"checkpoint {saved.ref} after cell {seen.index} ({took:.1f} s){held}")

    # --- what replaced cells call ---------------------------------------------------------
    def skipped(self) -> None:
        seen = self.cells[-1]
        _say(f"cell {seen.index} skipped: unchanged since the last run")

    def restore(self) -> None:
        plan, seen = self.plan, self.cells[-1]
        assert plan is not None and plan.point is not None
        names = self._bring_back(plan.point)
        _say(
            f"{_span(1, seen.index)} skipped: unchanged since checkpoint {plan.point.ref} of "
            f"the last run, namespace restored ({names} names)"
        )

    def catch_up(self) -> None:
        plan, seen = self.plan, self.cells[-1]
        assert plan is not None
        start = 0
        if plan.point is not None:
            self._bring_back(plan.point)
            start = plan.point.cell
        again = self.cells[start : seen.index - 1]
        parts = [f"checkpoint {plan.point.ref} restored"] if plan.point is not None else []
        if again:
            verb = "runs" if len(again) == 1 else "run"
            span = _span(again[0].index, again[-1].index)
            parts.append(f"{span} (skipped above) {verb} again first")
        _say(f"{plan.reason}: {'; '.join(parts)}")
        for cell in again:
            cell.action = "run"
            filename = self.shell.compile.cache(cell.source)
            exec(compile(cell.source, filename, "exec"), self.shell.user_ns)

    def _bring_back(self, point: checkpoint.Checkpoint) -> int:
        """Load ``point`` into the namespace (after running the cells that made what it
        could not hold); returns how many names came back."""
        from sessions.core.engine.load import load_entry

        ns = self.shell.user_ns
        manifest = point.entry.manifest
        assert manifest is not None
        made: dict[str, Seen] = {}
        for cell in self.cells[: point.cell]:
            with contextlib.suppress(SyntaxError, ValueError):
                for name in cells_mod.names(compile(cell.source, "<cell>", "exec"))[1]:
                    made[name] = cell
        rerun: dict[int, list[str]] = {}
        for name in manifest.skipped:
            if name in made:
                rerun.setdefault(made[name].index, []).append(name)
        for index in sorted(rerun):
            cell = self.cells[index - 1]
            _say(f"cell {index} runs again: it made {', '.join(sorted(rerun[index]))}")
            exec(compile(cell.source, self.shell.compile.cache(cell.source), "exec"), ns)
        report = load_entry(self.store, point.entry, namespace=ns)
        if report.failed:
            names = ", ".join(sorted(report.failed))
            raise ResumeError(
                f"checkpoint {point.ref} could not restore {names}: run the notebook with "
                "%sessions resume --fresh"
            )
        return len(report.loaded) + len(report.imported)


class _Transformer(ast.NodeTransformer):
    """Replaces the code of a cell the run decided not to run (see the module docstring);
    only the cell's own module, once (magics such as %time transform code of their own)."""

    def __init__(self, run: NotebookRun) -> None:
        self.run = run

    def visit(self, node: ast.AST) -> Any:
        plan = self.run.plan
        if not isinstance(node, ast.Module) or plan is None or plan.applied:
            return node
        plan.applied = True
        if plan.action == "run":
            return node
        call = {"skip": "skipped", "restore": "restore", "catch-up": "catch_up"}[plan.action]
        stub = ast.parse(f"get_ipython().{_HOOK}.{call}()").body
        body = [*stub, *node.body] if plan.action == "catch-up" else stub
        new = ast.Module(body=body, type_ignores=[])
        return ast.fix_missing_locations(ast.copy_location(new, node))


def _newest_per_cell(points: list[checkpoint.Checkpoint]) -> list[checkpoint.Checkpoint]:
    seen: dict[int, checkpoint.Checkpoint] = {}
    for point in points:
        seen.setdefault(point.cell, point)
    return [seen[c] for c in sorted(seen)]


def _inputs_digest(ns: dict[str, Any]) -> tuple[str, str]:
    """(digest of the variables a run starts with, the first one that cannot be hashed)."""
    hasher = blake3.blake3(b"sessions-run inputs\0")
    fingerprints = Fingerprinter()
    for name in sorted(select_names(ns, None, ["__*__"], private=True)):
        try:
            hasher.update(name.encode() + b"\0" + fingerprints.value(ns[name], name))
        except FingerprintError:
            return hasher.hexdigest(), name
    return hasher.hexdigest(), ""


def _host() -> str:
    return socket.gethostname()


def default_key(shell: Any) -> str | None:
    """The notebook's path when the kernel knows it."""
    from sessions.core.engine.environment import origin

    return origin(shell.user_ns).get("notebook") or None
