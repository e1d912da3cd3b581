"""Long operations started from the UI (export, push, pull, import, verify, gc, building the
demo, kernel snapshots): each is an :class:`Operation` that the progress panel shows.

An operation is the ``progress=`` callback the library calls on the worker thread
(``sessions.core.progress``): it forwards each :class:`Progress` record to the app as a
message (workers never touch widgets) and, once the user asked to cancel, raises
:class:`Cancelled` so the library stops at its next clean point.
"""

from __future__ import annotations

import itertools
import threading

from textual.message_pump import MessagePump

from sessions.core.errors import Cancelled
from sessions.core.progress import Progress
from sessions.tui.messages import OperationProgress

_ids = itertools.count(1)


class Operation:
    """One long operation: what the panel shows for it, and its progress callback."""

    def __init__(self, target: MessagePump, title: str, *, cancellable: bool = True) -> None:
        self.id = next(_ids)
        self.target = target
        self.title = title
        self.cancellable = cancellable
        self._cancel = threading.Event()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Ask the operation to stop: its next progress call raises ``Cancelled``."""
        if self.cancellable:
            self._cancel.set()

    def __call__(self, progress: Progress) -> None:
        if self._cancel.is_set() and not progress.finished:
            raise Cancelled(f"{self.title}: cancelled")
        self.relay(progress)

    def relay(self, progress: Progress) -> None:
        """Show ``progress`` without ever raising: for work that runs elsewhere (a Jupyter
        kernel's save or load), which is stopped through ``cancel_requested`` instead, so
        that the kernel is told to stop rather than merely no longer watched."""
        self.target.post_message(OperationProgress(self.id, progress))
