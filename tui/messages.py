"""Messages workers post back to the app (workers never touch widgets)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.message import Message

from sessions.core.progress import Progress
from sessions.core.store.catalog import Row
from sessions.tui.data import Detail

if TYPE_CHECKING:
    from sessions.tui.operations import Operation


@dataclass
class RowsLoaded(Message):
    rows: list[Row]
    groups: list[tuple[str, int]]
    total: int
    query: str
    group: str | None
    live: bool
    final: bool = True


@dataclass
class DetailLoaded(Message):
    detail: Detail


@dataclass
class DaemonEvent(Message):
    event: dict[str, Any]


@dataclass
class DaemonState(Message):
    live: bool
    reason: str = ""


@dataclass
class ActionFailed(Message):
    message: str


@dataclass
class OperationStarted(Message):
    operation: Operation


@dataclass
class OperationProgress(Message):
    operation_id: int
    progress: Progress


@dataclass
class OperationEnded(Message):
    operation_id: int
    outcome: str = "done"  # "done", "failed" or "cancelled"


@dataclass
class SwitchHome(Message):
    """Browse another session dir (the demo, once built)."""

    root: Path
