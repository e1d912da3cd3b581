"""Daemon benchmark: event latency, first index, restart reconcile, catalog query speed.

    python bench/bench_daemon.py

Runs the real daemon as a subprocess on a temp session dir and measures:
- latency from ``sessions.save()`` returning in another process to the event reaching a
  subscribed client, over 200 saves (p50, p95, max);
- first index of 10,000 snapshots (daemon start to ready with all of them in the catalog);
- restart with the catalog present (start to ready);
- the newest-200 query, unfiltered and filtered by text, on a 100,000-entry catalog.
There is no other tool doing this job to compare against; the issue's targets are shown
beside each figure. Results are appended to ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from results import run_line, write_section  # noqa: E402

sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from synth import make_snapshots  # noqa: E402

from sessions.core.store.catalog import Catalog, catalog_path  # noqa: E402
from sessions.daemon.client import DaemonClient, status  # noqa: E402

SAVER = """
import sys, time, sessions
for i in range(int(sys.argv[1])):
    value = list(range(i, i + 100))
    result = sessions.save("latency")
    print(result.id, time.time(), flush=True)
    time.sleep(0.02)
"""


def _env(base: Path, home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        SESSIONS_HOME=str(home),
        SESSIONS_RUNTIME_DIR=str(base / "run"),
        SESSIONS_CACHE_DIR=str(base / "cache"),
        SESSIONS_LOG_DIR=str(base / "logs"),
        SESSIONS_CONFIG_DIR=str(base / "config"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])),
    )
    return env


def _start(home: Path, env: dict[str, str]) -> tuple[subprocess.Popen, float]:
    t0 = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "sessions.daemon", "run", "--home", str(home), "--detached"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while True:
        info = status(home)
        if info is not None and info.get("ready"):
            return process, time.perf_counter() - t0
        if process.poll() is not None:
            raise SystemExit("daemon exited")
        time.sleep(0.01)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=20)


def latency(base: Path, saves: int) -> list[float]:
    home = base / "latency-home"
    env = _env(base, home)
    os.environ.update({k: v for k, v in env.items() if k.startswith("SESSIONS_")})
    process, _ = _start(home, env)
    try:
        client = DaemonClient(home).connect()
        arrivals: dict[str, float] = {}
        done = threading.Event()

        def pump() -> None:
            for event in client.subscribe():
                if event["event"] == "added":
                    arrivals[event["entry"]["id"]] = time.time()
                if done.is_set():
                    return

        threading.Thread(target=pump, daemon=True).start()
        time.sleep(0.3)
        saver = subprocess.run(
            [sys.executable, "-c", SAVER, str(saves)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        committed = {line.split()[0]: float(line.split()[1]) for line in saver.stdout.splitlines()}
        deadline = time.time() + 10
        while len(arrivals) < len(committed) and time.time() < deadline:
            time.sleep(0.05)
        done.set()
        missing = set(committed) - set(arrivals)
        if missing:
            raise SystemExit(f"{len(missing)} saves produced no event")
        return [arrivals[i] - committed[i] for i in committed]
    finally:
        _stop(process)


def indexing(base: Path, count: int) -> tuple[float, float]:
    home = base / "index-home"
    env = _env(base, home)
    os.environ.update({k: v for k, v in env.items() if k.startswith("SESSIONS_")})
    make_snapshots(home, count, names=200)
    process, first = _start(home, env)
    info = status(home)
    assert info is not None and info["snapshots"] == count, info
    _stop(process)
    process, again = _start(home, env)
    _stop(process)
    return first, again


def query(base: Path, rows: int) -> dict[str, float]:
    import json
    import random

    os.environ["SESSIONS_CACHE_DIR"] = str(base / "cache")
    path = catalog_path(base / "query-home")
    catalog = Catalog(path)
    rng = random.Random(1)
    words = ["alpha", "beta", "gamma", "delta", "model", "frame", "churn", "sales", "clean", "raw"]
    with catalog.db:
        for i in range(rows):
            name = f"{rng.choice(words)}-{i % 500}"
            variables = " ".join(rng.choice(words) + str(rng.randint(0, 99)) for _ in range(12))
            catalog.upsert(
                {
                    "path": f"/s/{i}",
                    "id": f"{i:026d}",
                    "kind": "snapshot",
                    "name": name,
                    "version": i // 500 + 1,
                    "created": 1e9 + i,
                    "note": f"note {rng.choice(words)}",
                    "tags": json.dumps([rng.choice(words)]),
                    "origin_kind": rng.choice(["script", "notebook", "kernel"]),
                    "origin_path": "",
                    "user": "u",
                    "host": "h",
                    "python": "3.11",
                    "nvars": 12,
                    "nskipped": 0,
                    "stored": 1000,
                    "memory": 1000,
                    "pinned": 0,
                    "annotated": 0,
                    "damaged": None,
                    "search": f"{name} {variables}",
                    "mtime_ns": 0,
                    "size": 0,
                }
            )
    catalog.close()
    reader = Catalog(path, readonly=True)
    out = {}
    for label, text in [
        ("unfiltered", None),
        ("common word", "alpha"),
        ("rare word", "zzzz-none"),
        ("name prefix", "churn-42"),
    ]:
        times = []
        for _ in range(20):
            t0 = time.perf_counter()
            reader.newest(200, text)
            times.append(time.perf_counter() - t0)
        out[label] = max(times)
    reader.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=200)
    parser.add_argument("--snapshots", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="sbd-"))
    try:
        print("event latency…", flush=True)
        lat = sorted(latency(base, args.saves))
        print("first index and restart…", flush=True)
        first, again = indexing(base, args.snapshots)
        print("catalog queries…", flush=True)
        queries = query(base, args.rows)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    p95 = lat[int(len(lat) * 0.95) - 1]
    lines = [
        f"{'measure':<52} {'result':>10}  target",
        "-" * 74,
        f"{f'save -> subscriber event, p50 ({len(lat)} saves)':<52} {statistics.median(lat) * 1000:>8.0f}ms",
        f"{'save -> subscriber event, p95':<52} {p95 * 1000:>8.0f}ms  < 1000 ms",
        f"{'save -> subscriber event, max':<52} {lat[-1] * 1000:>8.0f}ms",
        f"{f'first index of {args.snapshots:,} snapshots':<52} {first:>9.2f}s  < 20 s",
        f"{'restart with catalog present, to ready':<52} {again:>9.2f}s  < 2 s",
    ]
    for label, seconds in queries.items():
        lines.append(
            f"{f'newest 200 of {args.rows:,}, {label} (worst of 20)':<52} {seconds * 1000:>8.1f}ms  < 50 ms"
        )
    table = "\n".join(lines)
    print()
    print(table)
    if not args.no_write:
        write_section(
            "Daemon",
            f"{run_line('bench_daemon.py')} The real daemon as a subprocess on a temp session "
            f"dir.\n\n```\n{table}\n```",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
