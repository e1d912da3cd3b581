"""Messages workers post back to the app (workers never touch widgets)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message

from sessions.core.store.catalog import Row
from sessions.tui.data import Detail


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
