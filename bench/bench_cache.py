"""Cache benchmark: ``@sessions.cache`` beside ``joblib.Memory`` on the same calls, plus a
notebook whose 10-second cell is under ``%%sessions cache``. Writes the "Cache" section of
bench/RESULTS.md.

    python bench/bench_cache.py            # 1 GB key, 100 MB hit, 10 s notebook cell
    python bench/bench_cache.py --small    # 1/10 scale, 1 s cell

Measured (medians, each in this process after a warm-up):
- key computation on a 1 GB float64 array argument, against raw blake3 over the same bytes
  (the target) and joblib's own argument hash (``joblib.hash``, what Memory uses);
- hit latency for a 100 MB result (the call returns the stored array);
- miss overhead on a tiny function (call time minus the function's own, each call new);
- the notebook: Run All in a new kernel, first and second time (cells only, and with
  kernel start-up).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bench_key(size: int, repeat: int) -> dict[str, float]:
    import blake3
    import joblib
    import numpy as np

    import sessions

    array = np.random.default_rng(0).random(size // 8)

    def target(a):
        return a

    cached = sessions.cache(target)
    view = memoryview(array).cast("B")
    raw = median_time(lambda: blake3.blake3(view, max_threads=blake3.blake3.AUTO).digest(), repeat)
    ours = median_time(lambda: cached.key(array), repeat)
    theirs = median_time(lambda: joblib.hash(array), repeat)
    return {"raw": raw, "ours": ours, "joblib": theirs, "bytes": float(array.nbytes)}


def bench_hit(size: int, repeat: int, work: Path) -> dict[str, float]:
    import joblib
    import numpy as np

    import sessions

    def produce(seed):
        return np.random.default_rng(seed).random(size // 8)

    ours = sessions.cache(produce, home=work / "sessions")
    memory = joblib.Memory(str(work / "joblib"), verbose=0)
    theirs = memory.cache(produce)
    ours(1), theirs(1)  # the misses that store
    ours(1), theirs(1)  # warm the page cache
    return {
        "ours": median_time(lambda: ours(1), repeat),
        "joblib": median_time(lambda: theirs(1), repeat),
        "bytes": float(size),
    }


def bench_miss(calls: int, work: Path) -> dict[str, float]:
    import joblib

    import sessions

    def tiny(x):
        return x + 1

    ours = sessions.cache(tiny, home=work / "sessions-tiny")
    theirs = joblib.Memory(str(work / "joblib-tiny"), verbose=0).cache(tiny)
    ours(-1), theirs(-1)
    plain = median_time(lambda: tiny(3), 101)
    counter = iter(range(10**9))
    ours_t = median_time(lambda: ours(next(counter)), calls) - plain
    theirs_t = median_time(lambda: theirs(next(counter)), calls) - plain
    return {"ours": ours_t, "joblib": theirs_t}


def bench_notebook(slow: float, work: Path) -> dict[str, float]:
    import test_cell_cache as nbtest

    nbtest.SLOW_SECONDS = slow
    os.environ["SESSIONS_HOME"] = str(work / "nb-home")
    folder = work / "nb"
    folder.mkdir()
    out: dict[str, float] = {}
    for label in ("first", "second"):
        started = time.perf_counter()
        _, cells = nbtest.run_all(nbtest.notebook(), folder)
        out[f"{label}_cells"] = cells
        out[f"{label}_total"] = time.perf_counter() - started
    out["ran"] = float(len(nbtest.ran(folder)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", action="store_true", help="1/10 scale")
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    options = parser.parse_args()
    scale = 10 if options.small else 1
    from results import run_line, write_section

    with tempfile.TemporaryDirectory(prefix="bench-cache-") as tmp:
        work = Path(tmp)
        os.environ.setdefault("SESSIONS_CONFIG_DIR", str(work / "config"))
        key = bench_key((1 << 30) // scale, 5)
        print("key", key, flush=True)
        hit = bench_hit((100 << 20) // scale, 7, work)
        print("hit", hit, flush=True)
        miss = bench_miss(60, work)
        print("miss", miss, flush=True)
        notebook = bench_notebook(10.0 / scale, work)
        print("notebook", notebook, flush=True)

    gb = key["bytes"] / 1e9
    rows = [
        "| measurement | sessions.cache | joblib.Memory | ratio |",
        "|---|---|---|---|",
        f"| key of a {gb:.2f} GB array argument | {key['ours']:.3f} s "
        f"({gb / key['ours']:.2f} GB/s) | {key['joblib']:.3f} s ({gb / key['joblib']:.2f} GB/s) "
        f"| {key['joblib'] / key['ours']:.1f}x faster |",
        f"| raw blake3 over the same bytes (the target) | {key['raw']:.3f} s "
        f"({gb / key['raw']:.2f} GB/s) | | key = {key['ours'] / key['raw']:.2f}x blake3 |",
        f"| hit, {hit['bytes'] / 2**20:.0f} MB result | {hit['ours'] * 1000:.1f} ms | "
        f"{hit['joblib'] * 1000:.1f} ms | {hit['joblib'] / hit['ours']:.2f}x |",
        f"| miss overhead, tiny function | {miss['ours'] * 1000:.2f} ms | "
        f"{miss['joblib'] * 1000:.2f} ms | {miss['joblib'] / miss['ours']:.2f}x |",
    ]
    slow = 10.0 / scale
    body = "\n".join(
        [
            run_line("bench_cache.py", options.small),
            "",
            *rows,
            "",
            f"Notebook with a {slow:g}-second cell under `%%sessions cache` (nbclient, a new "
            "kernel each Run All; cells = first cell's start to last cell's reply):",
            "",
            "| Run All | cells | with kernel start-up |",
            "|---|---|---|",
            f"| first (runs and stores) | {notebook['first_cells']:.2f} s | "
            f"{notebook['first_total']:.2f} s |",
            f"| second (cached cells do not run) | {notebook['second_cells']:.2f} s | "
            f"{notebook['second_total']:.2f} s |",
            "",
            "Key: content hash of the arguments (blake3 over out-of-band buffers, several "
            "threads) plus the function's code graph; joblib.hash pickles through md5. A "
            "miss stores the result as a signed snapshot written atomically without fsync "
            "(a cache is expendable: every read is hash-checked, a torn entry is a miss); "
            "joblib writes a pickle and a JSON file, without fsync either. A hit checks the "
            "entry's signature and re-hashes the result (joblib reads it unchecked). Figures "
            "from a shared, busy 2-core machine are provisional.",
        ]
    )
    print(body)
    if not options.no_write:
        write_section("Cache", body)


if __name__ == "__main__":
    main()
