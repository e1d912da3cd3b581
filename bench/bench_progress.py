"""Progress: what reporting costs, and how often a user hears from long work.

For a 1 GiB session (two float arrays) and for 5,000 small variables, save, load, push and
pull each run with ``progress=None`` (the baseline) and with a callback, alternating, in
fresh session dirs, same process. Reported: the median time of each, their ratio, how many
times the callback ran, and the longest silence between two calls (what a user waits
before the display moves). A third column draws the rich terminal bar into a string buffer
(the CLI's display, without a terminal's write cost).

    python bench/bench_progress.py [--small]     # --small: 1/10 scale
"""

from __future__ import annotations

import argparse
import gc
import io
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import run_line, write_section


class Counting:
    """A callback that counts calls and the longest gap between two."""

    def __init__(self) -> None:
        self.calls = 0
        self.last = time.perf_counter()
        self.longest = 0.0

    def __call__(self, progress: Any) -> None:
        now = time.perf_counter()
        self.longest = max(self.longest, now - self.last)
        self.last = now
        self.calls += 1


def _rich_bar(label: str) -> Any:
    from rich.console import Console

    from sessions.tui.progress import TerminalProgress

    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    return TerminalProgress(label, console=console, transient=True)


def _sessions(scale: float) -> dict[str, dict[str, Any]]:
    import numpy as np

    rng = np.random.default_rng(3)
    half = int((1 << 26) * scale)
    small = int(5_000 * scale)
    return {
        "1 GiB, two arrays" if scale == 1 else f"{scale:g} GiB, two arrays": {
            "first": rng.random(half),
            "second": rng.random(half),
        },
        f"{small} small variables": {f"v{i}": (i, f"value {i}") for i in range(small)},
    }


def _once(namespace: dict[str, Any], mode: str, work: Path) -> dict[str, tuple[float, Any]]:
    """Save, load, push and pull ``namespace`` once; ``mode`` picks the callback."""
    from sessions.core.engine.load import load
    from sessions.core.engine.save import save
    from sessions.core.sharing.remote import Remote, RemoteConfig
    from sessions.core.store.session_dir import Store

    shutil.rmtree(work, ignore_errors=True)
    store, other = Store(work / "home"), Store(work / "other")
    remote = Remote(RemoteConfig("bench", str(work / "remote")))
    remote.init()

    def callback(label: str) -> Any:
        if mode == "none":
            return None
        return Counting() if mode == "callback" else _rich_bar(label)

    out: dict[str, tuple[float, Any]] = {}

    def timed(task: str, run: Callable[[Any], Any]) -> Any:
        cb = callback(task)
        gc.collect()
        began = time.perf_counter()
        result = run(cb)
        out[task] = (time.perf_counter() - began, cb)
        return result

    timed("save", lambda cb: save(namespace, store=store, name="bench", progress=cb))
    timed("load", lambda cb: load(store, "bench", namespace={}, progress=cb))
    pushed = timed("push", lambda cb: remote.push(store, "bench", owner="bench", progress=cb))
    timed("pull", lambda cb: remote.pull(other, pushed.ref, trust_once=True, progress=cb))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    scale = 0.1 if args.small else 1.0
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-progress-") as tmp:
        work = Path(tmp) / "work"
        for shape, namespace in _sessions(scale).items():
            times: dict[str, dict[str, list[float]]] = {}
            calls: dict[str, list[int]] = {}
            gaps: dict[str, list[float]] = {}
            _once(namespace, "none", work)  # warm-up, not counted
            modes = ["none", "callback", "rich"]
            for round_ in range(args.repeat):
                for mode in modes[round_ % 3 :] + modes[: round_ % 3]:
                    for task, (seconds, cb) in _once(namespace, mode, work).items():
                        times.setdefault(task, {}).setdefault(mode, []).append(seconds)
                        if mode == "callback":
                            calls.setdefault(task, []).append(cb.calls)
                            gaps.setdefault(task, []).append(cb.longest)
            for task, by_mode in times.items():
                base = statistics.median(by_mode["none"])
                with_cb = statistics.median(by_mode["callback"])
                with_rich = statistics.median(by_mode["rich"])
                rows.append(
                    f"| {shape} | {task} | {base:.3f} s | {with_cb / base:.2f}x | "
                    f"{with_rich / base:.2f}x | {statistics.median(calls[task]):.0f} | "
                    f"{max(gaps[task]):.2f} s |"
                )
                print(rows[-1], flush=True)
    body = "\n".join(
        [
            run_line("bench_progress.py", args.small),
            f"Median of {args.repeat} runs each after one warm-up, order rotated, fresh session "
            "dirs; ratios against the same operation with `progress=None` in the same process. "
            "Calls: how often the callback ran; longest silence: the longest wait between two "
            "calls (what a user waits before the display moves).",
            "",
            "| session | operation | no progress | with a callback | with the rich bar | "
            "calls | longest silence |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
            "Figures from a shared, busy 2-core machine are provisional: ratios within about "
            "±25 % are noise there. Pull's longest silence is the staging of a big object after "
            "it was read (checked, written and fsynced in one step).",
        ]
    )
    write_section("Progress", body)


if __name__ == "__main__":
    main()
