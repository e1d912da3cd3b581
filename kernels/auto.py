"""Automatic snapshots in IPython and Jupyter: after a long cell, and every few minutes.

Two IPython event hooks. ``pre_run_cell`` notes the time; ``post_run_cell`` decides, with two
comparisons, whether a save is due: the cell ran at least ``after`` seconds, or ``every``
minutes passed since the last automatic save and the namespace's bindings changed. Only
then is anything saved — incrementally (unchanged variables are not written again) and only
if something changed (``only_if_changed``) — followed by one status line. An ordinary cell
costs a clock read and a comparison.

Turned on by ``%sessions auto on`` or by ``[auto]`` in config.toml (``enabled = true``,
``after_seconds``, ``every_minutes``, ``name``).
"""

from __future__ import annotations

import contextlib
import sys
import time
from typing import Any

from sessions.core.config import AutoPolicy

DEFAULT_AFTER = 60.0


class AutoSaver:
    """The hooks; :meth:`register` / :meth:`unregister` them on a shell."""

    def __init__(self, shell: Any, config: AutoPolicy, home: Any = None) -> None:
        self.shell = shell
        self.config = config
        self.home = home
        self.started = time.monotonic()  # the cell that turns this on counts from now
        self.last_save = time.monotonic()
        self.last_bindings: dict[str, int] = self._bindings()

    def register(self) -> None:
        self.shell.events.register("pre_run_cell", self.pre_run_cell)
        self.shell.events.register("post_run_cell", self.post_run_cell)

    def unregister(self) -> None:
        for event, hook in (
            ("pre_run_cell", self.pre_run_cell),
            ("post_run_cell", self.post_run_cell),
        ):
            with contextlib.suppress(ValueError):  # not registered
                self.shell.events.unregister(event, hook)

    def pre_run_cell(self, info: Any = None) -> None:
        self.started = time.monotonic()

    def post_run_cell(self, result: Any = None) -> None:
        now = time.monotonic()
        config = self.config
        long_cell = config.after is not None and now - self.started >= config.after
        timer = config.every is not None and now - self.last_save >= config.every * 60
        if not (long_cell or timer):
            return
        if getattr(result, "error_in_exec", None) is not None and not long_cell:
            return
        bindings = self._bindings()
        if not long_cell and bindings == self.last_bindings:
            self.last_save = now  # nothing rebound: look again in ``every`` minutes
            return
        self.last_bindings = bindings
        self.last_save = now
        self._save("a long cell" if long_cell else f"{config.every:g} min passed")

    def _bindings(self) -> dict[str, int]:
        return {k: id(v) for k, v in self.shell.user_ns.items() if not k.startswith("_")}

    def _save(self, why: str) -> None:
        from sessions.core.engine.save import save
        from sessions.core.errors import SessionsError
        from sessions.core.store.session_dir import Store

        try:
            result = save(
                self.shell.user_ns,
                store=Store(self.home) if self.home else None,
                name=self.config.name,
                note=f"automatic: {why}",
                tags=("auto",),
                only_if_changed=True,
            )
        except SessionsError as exc:
            print(f"sessions: automatic snapshot failed: {exc}", file=sys.stderr)
            return
        except Exception as exc:  # never break the user's cell over a background nicety
            print(
                f"sessions: automatic snapshot failed: {type(exc).__name__}: {exc}", file=sys.stderr
            )
            return
        if result.unchanged:
            return
        skipped = f", {len(result.skipped)} skipped" if result.skipped else ""
        print(
            f"sessions: auto-saved {result.ref} ({why}; {len(result.saved)} variables{skipped}, "
            f"{result.seconds:.1f} s)"
        )
