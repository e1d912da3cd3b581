"""Terminal UI benchmark: first paint with rows, and cursor movement, on 10,000 snapshots.

    python bench/bench_tui.py

Builds 10,000 real snapshots, lets the real daemon index them, then runs the real app
headless (Textual's Pilot) and measures: time from starting the app to the first frame that
shows rows; and, moving the cursor down through 1,000 rows one key at a time, the time each
key takes until its frame is drawn (max and p95). Results go to ``bench/RESULTS.md``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from results import run_line, write_section  # noqa: E402

sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


async def measure(home: Path, moves: int) -> tuple[float, list[float], int]:
    from textual import events

    from sessions.core.store.session_dir import Store
    from sessions.tui.app import SessionsApp

    started = time.perf_counter()
    app = SessionsApp(Store(home), watch_daemon=True)
    painted: list[float] = []
    async with app.run_test(size=(140, 44)) as pilot:
        table = app.query_one("#snapshots")
        while not table.row_count:
            await asyncio.sleep(0.002)
        app.call_after_refresh(lambda: painted.append(time.perf_counter()))
        while not painted:
            await asyncio.sleep(0.002)
        first_paint = painted[0] - started
        while table.row_count < 10_000:  # every row listed, then move
            await asyncio.sleep(0.01)
        await pilot.pause(0.5)
        table.focus()
        await pilot.pause(0.2)
        frames = []
        for _ in range(moves):
            # the key goes straight to the table (Pilot's own press waits ~60 ms by design);
            # the frame counts until the screen has been refreshed after handling it
            done: list[float] = []
            t0 = time.perf_counter()
            app.post_message(events.Key("j", "j"))
            await asyncio.sleep(0)
            app.call_after_refresh(lambda done=done: done.append(time.perf_counter()))
            deadline = time.perf_counter() + 5
            while not done and time.perf_counter() < deadline:
                await asyncio.sleep(0.0005)
            frames.append((done[0] if done else time.perf_counter()) - t0)
        assert table.cursor_row == moves, table.cursor_row
        rows = table.row_count
    return first_paint, frames, rows


def main() -> int:
    from synth import make_snapshots

    from sessions.daemon.client import start, stop

    base = Path(tempfile.mkdtemp(prefix="sbt-"))
    home = base / "home"
    for name in ("runtime", "cache", "log", "config"):
        os.environ[f"SESSIONS_{name.upper()}_DIR"] = str(base / name)
    try:
        print("making 10,000 snapshots…", flush=True)
        make_snapshots(home, 10_000, names=300)
        print("indexing…", flush=True)
        start(home, timeout=120)
        while True:
            from sessions.daemon.client import status

            info = status(home)
            if info and info.get("ready") and info["snapshots"] >= 10_000:
                break
            time.sleep(0.2)
        print("measuring…", flush=True)
        first_paint, frames, rows = asyncio.run(measure(home, 1000))
    finally:
        stop(home)
        shutil.rmtree(base, ignore_errors=True)
    frames.sort()
    p95 = frames[int(len(frames) * 0.95) - 1]
    lines = [
        f"{'measure':<52} {'result':>10}  target",
        "-" * 74,
        f"{'first paint with rows (10,000 in the catalog)':<52} {first_paint * 1000:>8.0f}ms  < 500 ms",
        f"{'rows listed':<52} {rows:>10,}",
        f"{'cursor down 1,000 rows: frame time, median':<52} {statistics.median(frames) * 1000:>8.1f}ms",
        f"{'cursor down 1,000 rows: frame time, p95':<52} {p95 * 1000:>8.1f}ms",
        f"{'cursor down 1,000 rows: frame time, max':<52} {frames[-1] * 1000:>8.1f}ms  < 50 ms",
    ]
    table = "\n".join(lines)
    print()
    print(table)
    write_section(
        "Terminal UI",
        f"{run_line('bench_tui.py')} The real app headless "
        "(Textual Pilot) over a catalog the real daemon built.\n\n```\n" + table + "\n```",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
