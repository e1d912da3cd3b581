"""Checkpoints of a script or notebook run cell by cell, and where a new run may resume.

A run is keyed by its script's absolute path (``sessions-tui run``, sessions.core.engine.run)
or by its notebook's path or a name (``%sessions resume``, sessions.kernels.resume).

Format
------
A checkpoint is a snapshot (sessions.core.store.manifest, schema 1.2) of the run's namespace
after a cell, named ``run:<stem of the key>``, origin ``{"kind": "run", "path": <key>}``,
whose manifest's ``run`` key holds::

    {"script": <key>, "run": <run id>, "cell": <index>, "cells": <count, 0 if unknown>,
     "digests": [<digest of cell 1>, …, <digest of cell index>], "argv": [<arguments>],
     "modules": {"<local module>=<its file>": <blake3 of the file>},
     "files": [[<path>, <size>, <mtime ns>], …],     # files the run read (optional)
     "kind": "script" | "notebook",                    # optional, "script" when absent
     "inputs": <64 hex digits>,                       # notebooks: the variables defined
                                                      # before %sessions resume (optional)
     "titles": [<first line of cell 1>, …]}           # optional, for people

Variables the snapshot could not hold (a connection, an open file: its ``skipped``) are made
again on a resume by running the cells that assigned them before restoring the rest.

The state of a key's runs lives in ``runs/<16 hex digits of blake3(key)>.msgpack``
(``{"format": "sessions.run", "schema": 1, "script", "state": "running" | "failed" |
"completed", "chain": [run ids since the last completed run], "pid", "host", "started",
"finished"}``), replaced atomically. A run resumes only when the last one did not complete
(it failed, was interrupted or killed — a "running" state whose process is gone), and only
from a checkpoint of a run in ``chain``, whose cells up to it, arguments, local modules and
the files the run had read are unchanged. Both files are read as hostile: bounded, every
field checked.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import blake3
import msgpack

from sessions.core.engine import file_inputs
from sessions.core.engine.cells import Cell
from sessions.core.errors import FormatError, NewerFormatError
from sessions.core.store.atomic import ensure_dir, write_file
from sessions.core.store.session_dir import Entry, Store

FORMAT = "sessions.run"
SCHEMA = 1
ORIGIN_KIND = "run"
MAX_STATE_BYTES = 256 * 1024
_HEX = re.compile(r"[0-9a-f]{64}")


def checkpoint_name(script: str | Path) -> str:
    return f"run:{Path(script).stem or 'script'}"


# --- the state of a script's runs -------------------------------------------------------------


@dataclass
class RunState:
    script: str
    state: str = "completed"
    chain: list[str] = field(default_factory=list)
    pid: int = 0
    host: str = ""
    started: float = 0.0
    finished: float = 0.0

    def encode(self) -> bytes:
        return msgpack.packb(
            {
                "format": FORMAT,
                "schema": SCHEMA,
                "script": self.script,
                "state": self.state,
                "chain": self.chain[-1000:],
                "pid": self.pid,
                "host": self.host,
                "started": self.started,
                "finished": self.finished,
            },
            use_bin_type=True,
        )

    @classmethod
    def decode(cls, data: bytes) -> RunState:
        if len(data) > MAX_STATE_BYTES:
            raise FormatError("run state is too large")
        try:
            raw = msgpack.unpackb(data, raw=False, max_str_len=65536, max_array_len=10_000)
        except Exception:
            raise FormatError("run state is not valid msgpack") from None
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise FormatError("not a sessions run state")
        schema = raw.get("schema")
        if not isinstance(schema, int) or schema > SCHEMA:
            raise NewerFormatError("run state is newer than this sessions-tui understands")
        chain = raw.get("chain")
        state = raw.get("state")
        return cls(
            script=str(raw.get("script", "")),
            state=state if state in ("running", "failed", "completed") else "completed",
            chain=[str(c) for c in chain if isinstance(c, str)] if isinstance(chain, list) else [],
            pid=_int(raw.get("pid")),
            host=str(raw.get("host", "")),
            started=_float(raw.get("started")),
            finished=_float(raw.get("finished")),
        )

    def alive(self) -> bool:
        """Whether the run it describes is still going (its process exists on this host)."""
        if self.state != "running" or self.host != socket.gethostname() or self.pid <= 0:
            return False
        if self.pid == os.getpid():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _float(value: Any) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    return float(value) if ok else 0.0


def state_path(store: Store, script: str | Path) -> Path:
    key = blake3.blake3(str(script).encode()).hexdigest()[:16]
    return store.root / "runs" / f"{key}.msgpack"


def read_state(store: Store, script: str | Path) -> RunState | None:
    """The state of ``script``'s runs; None when it never ran here or the file is damaged."""
    try:
        state = RunState.decode(state_path(store, script).read_bytes())
    except (OSError, FormatError):
        return None
    return state if state.script == str(script) else None


def write_state(store: Store, script: str | Path, state: RunState) -> None:
    path = state_path(store, script)
    ensure_dir(path.parent)
    write_file(path, [state.encode()])


# --- checkpoints -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    entry: Entry
    run: str
    cell: int
    digests: tuple[str, ...]
    argv: tuple[str, ...]
    modules: dict[str, str]
    files: Any = None  # as recorded (checked by file_inputs.unchanged when used)
    inputs: str | None = None
    titles: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        return self.entry.ref


def section(entry: Entry, script: str | Path) -> Checkpoint | None:
    """The checkpoint ``entry`` is for ``script``, checked; None when it is not one."""
    manifest = entry.manifest
    if manifest is None:
        return None
    raw = manifest.extra.get("run")
    if not isinstance(raw, dict) or raw.get("script") != str(script):
        return None
    digests = raw.get("digests")
    cell = raw.get("cell")
    argv = raw.get("argv")
    if not isinstance(digests, list) or not all(
        isinstance(d, str) and _HEX.fullmatch(d) for d in digests
    ):
        return None
    if not isinstance(cell, int) or isinstance(cell, bool) or cell != len(digests) or cell < 1:
        return None
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        return None
    modules = raw.get("modules")
    if not isinstance(modules, dict):
        modules = {}
    inputs = raw.get("inputs")
    titles = raw.get("titles")
    return Checkpoint(
        entry=entry,
        run=str(raw.get("run", "")),
        cell=cell,
        digests=tuple(digests),
        argv=tuple(argv),
        modules={str(k): str(v) for k, v in modules.items()},
        files=raw.get("files"),
        inputs=inputs if isinstance(inputs, str) and _HEX.fullmatch(inputs) else None,
        titles=tuple(t for t in titles if isinstance(t, str))[:cell]
        if isinstance(titles, list)
        else (),
    )


def checkpoints(store: Store, script: str | Path) -> list[Checkpoint]:
    """The checkpoints of ``script``, newest first."""
    found = []
    for version, snapshot_id, path in reversed(store.versions(checkpoint_name(script))):
        entry = store.entry_at(version, snapshot_id, path)
        point = section(entry, script)
        if point is not None:
            found.append(point)
    return found


def own_dirs(store: Store) -> list[str]:
    """Directories whose files Sessions itself reads during a run (the session dir, the
    config dir with its keys and trust list): not inputs of the run."""
    from sessions.core.paths import config_dir

    return [str(store.root), str(config_dir())]


def module_digest(file: str) -> str:
    try:
        with open(file, "rb") as handle:
            return blake3.blake3(handle.read()).hexdigest()
    except OSError:
        return "unreadable"


@dataclass(frozen=True)
class Resume:
    """Where a run starts: after ``checkpoint`` (None: from the start), and why."""

    checkpoint: Checkpoint | None
    reasons: list[str]


@dataclass(frozen=True)
class Previous:
    """What the last run of a key left: whether a new run may resume it (``resumable``),
    the checkpoints it may resume from (newest first, not yet checked against the cells),
    and what to tell the user."""

    resumable: bool
    reasons: list[str]
    candidates: list[Checkpoint]
    state: RunState | None


def previous(store: Store, key: str | Path, *, fresh: bool = False) -> Previous:
    """The last run of ``key`` and the checkpoints a new run may start from."""
    if fresh:
        return Previous(False, ["--fresh: running from the start"], [], None)
    state = read_state(store, key)
    if state is None or state.state == "completed":
        return Previous(False, [], [], state)
    if state.alive():
        return Previous(
            False,
            [f"another run of {Path(key).name} is going (pid {state.pid}): not resuming it"],
            [],
            state,
        )
    what = "failed" if state.state == "failed" else "did not finish (killed?)"
    chain = set(state.chain)
    found = [point for point in checkpoints(store, key) if point.run in chain]
    return Previous(True, [f"the last run {what}"], found, state)


def stale(point: Checkpoint) -> str | None:
    """Why ``point`` cannot be used whatever the cells are (a local module or a file the run
    read changed, or it is damaged); None when it can."""
    for module, digest in sorted(point.modules.items()):
        path = module.split("=", 1)[-1]
        if module_digest(path) != digest:
            return f"{path} changed"
    changed = file_inputs.unchanged(point.files)
    if changed is not None:
        return f"{changed} since it was taken"
    if point.entry.manifest is None:
        return f"it is damaged: {point.entry.error}"
    return None


def plan(
    store: Store, script: Path, cells: list[Cell], argv: list[str], *, fresh: bool = False
) -> Resume:
    """Decide where a run of ``script`` starts (see the module docstring)."""
    last = previous(store, script, fresh=fresh)
    if not last.resumable:
        return Resume(None, last.reasons)
    reasons: list[str] = []
    for point in last.candidates:
        why = _invalid(point, cells, argv)
        if why is None:
            return Resume(point, [*last.reasons, *reasons])
        reasons.append(f"checkpoint after cell {point.cell} not used: {why}")
    return Resume(None, [f"{last.reasons[0]}, but no checkpoint can be used", *reasons])


def _invalid(point: Checkpoint, cells: list[Cell], argv: list[str]) -> str | None:
    if tuple(argv) != point.argv:
        return "the arguments differ"
    if point.cell > len(cells):
        return f"the script has {len(cells)} cells now"
    for cell, digest in zip(cells, point.digests):
        if cell.digest != digest:
            return f"cell {cell.index} ({cell.lines}) changed"
    return stale(point)


def record_modules() -> dict[str, str]:
    """``{"name=path": digest}`` of the modules imported from files that are neither installed
    nor the standard library: code a checkpoint's state came from, beside the script."""
    import sys

    from sessions.core.engine.fingerprint import _release

    out: dict[str, str] = {}
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if name == "__main__" or not isinstance(file, str) or not file.endswith(".py"):
            continue
        if _release(name) is not None or name.startswith("sessions"):
            continue
        with contextlib.suppress(ValueError):
            out[f"{name}={os.path.abspath(file)}"] = module_digest(file)
        if len(out) >= 500:
            break
    return out
