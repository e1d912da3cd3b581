"""Helpers for driving the real app through Textual's Pilot."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from textual.pilot import Pilot

from sessions.core.store.session_dir import Store
from sessions.tui.app import SessionsApp


def make_app(home, **kwargs) -> SessionsApp:
    kwargs.setdefault("watch_daemon", False)
    return SessionsApp(Store(home), **kwargs)


async def settle(pilot: Pilot, timeout: float = 10.0) -> None:
    """Wait until workers are done and the screen has caught up."""
    app = pilot.app
    deadline = time.monotonic() + timeout
    await pilot.pause(0.1)
    while time.monotonic() < deadline:
        busy = [w for w in app.workers if w.is_running and w.group not in ("daemon-events",)]
        if not busy:
            await pilot.pause(0.12)  # timers (detail debounce) then one more round
            busy = [w for w in app.workers if w.is_running and w.group not in ("daemon-events",)]
            if not busy:
                return
        await asyncio.sleep(0.02)


async def ready(pilot: Pilot, rows: int | None = None, timeout: float = 15.0) -> None:
    """Wait for the snapshot table to be filled (with ``rows`` rows if given)."""
    app = pilot.app
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await settle(pilot)
        table = app.query_one("#snapshots")
        if table.row_count and (rows is None or table.row_count == rows) and app.detail is not None:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"table has {app.query_one('#snapshots').row_count} rows")


async def until(
    pilot: Pilot, condition: Callable[[], object], what: str, timeout: float = 30
) -> None:
    """Wait until ``condition()`` holds (a worker's dialog opened, a file appeared), then
    for the screen to settle."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:g} s")
        await pilot.pause(0.05)
    await settle(pilot)


async def press(pilot: Pilot, *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
        await settle(pilot)


async def goto_snapshot(pilot: Pilot, ref: str) -> None:
    app = pilot.app
    table = app.query_one("#snapshots")
    for index in range(table.row_count):
        if table.rows_by_key[table.coordinate_to_cell_key((index, 0)).row_key.value].ref == ref:
            table.move_cursor(row=index)
            await settle(pilot)
            return
    raise AssertionError(f"{ref} not listed")


async def goto_variable(pilot: Pilot, name: str) -> None:
    app = pilot.app
    table = app.query_one("#variables")
    for index in range(table.row_count):
        if table.coordinate_to_cell_key((index, 0)).row_key.value == name:
            table.move_cursor(row=index)
            await settle(pilot)
            return
    raise AssertionError(f"{name} not listed")
