"""Core benchmark: sessions.save/load against dill.dump_module/load_module, same run.

    python bench/bench_core.py            # full reference session (~0.9 GB), a few minutes
    python bench/bench_core.py --small    # a 1/10 scale session, for a quick look

Each measurement runs in a fresh Python process that builds the reference session in its
``__main__`` (eight 100 MB float64 arrays, a 5-million-row DataFrame with a string column,
a few small objects). Timings are taken inside functions, because loading a session
replaces module-level names. Bytes written come from the kernel's ``/proc/self/io``
(``wchar``); peak memory from ``VmHWM`` after resetting it through ``/proc/self/clear_refs``.
Results print as a table with ratios and are written to ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from results import compile_sessions, run_line, write_section  # noqa: E402

CHILD_PRELUDE = """
import json, os, sys, time

def _status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0

def _wchar():
    with open("/proc/self/io") as f:
        for line in f:
            if line.startswith("wchar:"):
                return int(line.split()[1])
    return 0

def _reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass

def _measure(fn):
    _reset_peak()
    before_rss, before_w = _status("VmRSS"), _wchar()
    t0 = time.perf_counter()
    fn()
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "written": _wchar() - before_w,
            "rss_before": before_rss, "peak": _status("VmHWM")}
"""

BUILD = """
import numpy as np, pandas as pd
_rng = np.random.default_rng(0)
_N_ARRAYS, _ARRAY_LEN, _ROWS = {arrays}, {array_len}, {rows}
for _i in range(_N_ARRAYS):
    globals()[f"a{{_i}}"] = _rng.random(_ARRAY_LEN)
frame = pd.DataFrame({{
    "id": np.arange(_ROWS),
    "value": _rng.random(_ROWS),
    "label": [f"item-{{j % 50_000}}-{{j % 7}}" for j in range(_ROWS)],
}})
config = {{"lr": 0.01, "epochs": 10, "layers": [64, 32]}}
names = ["alpha", "beta", "gamma"]
threshold = 0.75
"""

# How pandas stores the string column: Python objects (pandas without pyarrow) or Arrow.
STRINGS = "import pandas as pd\npd.set_option('mode.string_storage', {storage!r})\n"
STORAGE_NAMES = {"python": "Python objects (no pyarrow)", "pyarrow": "Arrow (pyarrow installed)"}

# Load children import numpy and pandas before timing, as a working session would have:
# both loaders then pay only for the data, not for importing libraries.
IMPORTS = "import numpy, pandas\n"

SCENARIOS = {
    "dill_save": """
import dill
def _run():
    return _measure(lambda: dill.dump_module(os.environ["BENCH_DILL_FILE"]))
print("RESULT " + json.dumps(_run()))
""",
    "sessions_save": """
import sessions
def _run():
    out = {}
    out["save"] = _measure(lambda: sessions.save("ref"))
    def _change():
        a0[:] = _rng.random(a0.shape[0])
    _change()
    out["resave_one"] = _measure(lambda: sessions.save("ref"))
    out["resave_none"] = _measure(lambda: sessions.save("ref"))
    return out
print("RESULT " + json.dumps(_run()))
""",
    "dill_load": """
import dill
def _run():
    return _measure(lambda: dill.load_module(os.environ["BENCH_DILL_FILE"]))
print("RESULT " + json.dumps(_run()))
""",
    "sessions_load": """
import sessions
def _run():
    holder = {}
    def _load():
        holder["report"] = sessions.load("ref@1")
    out = _measure(_load)
    assert not holder["report"].failed, holder["report"].failed
    return out
print("RESULT " + json.dumps(_run()))
""",
    "sessions_load_one": """
import sessions
def _run():
    holder = {}
    def _load():
        holder["report"] = sessions.load("ref@1", names=["a3"])
    out = _measure(_load)
    assert holder["report"].loaded == ["a3"], holder["report"].loaded
    return out
print("RESULT " + json.dumps(_run()))
""",
}


def _child(code: str, env: dict[str, str], build: str | None) -> dict:
    source = CHILD_PRELUDE + (build or "") + code
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{done.stdout}\n{done.stderr}")
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def disk_write_speed(directory: Path, size: int) -> float:
    """Sequential write with fsync, bytes per second: the disk's own speed, for context."""
    block = os.urandom(8 << 20)
    path = directory / "disk-speed.bin"
    t0 = time.perf_counter()
    with open(path, "wb") as handle:
        written = 0
        while written < size:
            handle.write(block)
            written += len(block)
        handle.flush()
        os.fsync(handle.fileno())
    seconds = time.perf_counter() - t0
    path.unlink()
    return written / seconds


def _mb(n: float) -> str:
    return f"{n / 1e6:,.0f} MB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="1/10 scale session")
    parser.add_argument("--dir", help="work dir (default: a temp dir)")
    parser.add_argument("--no-write", action="store_true", help="do not write bench/RESULTS.md")
    args = parser.parse_args()
    scale = 10 if args.small else 1
    compile_sessions()
    storages = ["python"]
    try:
        import pyarrow  # noqa: F401

        storages.append("pyarrow")
    except ModuleNotFoundError:
        pass
    tables = []
    for storage in storages:
        build = STRINGS.format(storage=storage) + BUILD.format(
            arrays=8, array_len=12_500_000 // scale, rows=5_000_000 // scale
        )
        print(f"strings stored as {storage}:", flush=True)
        tables.append((storage, _run_once(args, build, scale)))
    table = "\n\n".join(f"strings as {STORAGE_NAMES[storage]}:\n{text}" for storage, text in tables)
    print()
    print(table)
    if not args.no_write:
        section = (
            f"{run_line('bench_core.py', args.small)} Python {platform.python_version()}.\n\n"
            "Reference session: eight 100 MB float64 arrays, a 5-million-row DataFrame "
            "(int, float and string columns), a few small objects; every step in a fresh "
            "process, dill and sessions in the same run. Speedup = dill time / sessions time "
            "(for one-array load and re-saves, against dill's full load or save, the only "
            "thing dill can do). Load children import numpy and pandas before timing. "
            "The string column is measured twice: as Python objects (pandas without pyarrow, "
            "the setting the issue measured dill in) and as Arrow (pandas 3 with pyarrow), "
            "where dill pickles few objects and its save is bound by the disk; sessions "
            "fsyncs every file it writes, dill does not.\n\n"
            "```\n" + table + "\n```\n"
        )
        write_section("Core", section)
    return 0


def _run_once(args: argparse.Namespace, build: str, scale: int) -> str:
    work = Path(args.dir or tempfile.mkdtemp(prefix="sessions-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["SESSIONS_HOME"] = str(work / "home")
    env["BENCH_DILL_FILE"] = str(work / "session.dill")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    # measured processes run sessions from compiled bytecode, as they do every installed
    # package: with PYTHONDONTWRITEBYTECODE set, each would compile sessions anew
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    shutil.rmtree(work / "home", ignore_errors=True)
    try:
        print("measuring disk write speed…", flush=True)
        disk = disk_write_speed(work, (1 << 30) // scale)
        print("dill.dump_module…", flush=True)
        dill_save = _child(SCENARIOS["dill_save"], env, build)
        print("sessions.save (and re-saves)…", flush=True)
        ours = _child(SCENARIOS["sessions_save"], env, build)
        print("dill.load_module…", flush=True)
        dill_load = _child(SCENARIOS["dill_load"], env, IMPORTS)
        print("sessions.load…", flush=True)
        our_load = _child(SCENARIOS["sessions_load"], env, IMPORTS)
        print("sessions.load one array…", flush=True)
        our_one = _child(SCENARIOS["sessions_load_one"], env, IMPORTS)
        session_bytes = os.path.getsize(env["BENCH_DILL_FILE"])
    finally:
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)

    def peak_ratio(m: dict) -> float:
        return m["peak"] / m["rss_before"]

    rows = [
        # (what, dill seconds, sessions seconds, ratio dill/sessions, detail)
        (
            "full save",
            dill_save["seconds"],
            ours["save"]["seconds"],
            f"written {_mb(ours['save']['written'])} vs dill {_mb(dill_save['written'])}",
        ),
        ("full load", dill_load["seconds"], our_load["seconds"], ""),
        (
            "load one 100 MB array",
            dill_load["seconds"],
            our_one["seconds"],
            "dill can only load everything",
        ),
        (
            "re-save, one array changed",
            dill_save["seconds"],
            ours["resave_one"]["seconds"],
            f"written {_mb(ours['resave_one']['written'])}",
        ),
        (
            "re-save, nothing changed",
            dill_save["seconds"],
            ours["resave_none"]["seconds"],
            f"written {ours['resave_none']['written'] / 1e3:,.0f} KB",
        ),
    ]
    header = f"{'operation':<28} {'dill s':>8} {'sessions s':>11} {'speedup':>8}  notes"
    lines = [header, "-" * len(header)]
    for what, theirs, mine, note in rows:
        lines.append(f"{what:<28} {theirs:>8.2f} {mine:>11.2f} {theirs / mine:>7.1f}×  {note}")
    lines.append("")
    lines.append(
        f"peak memory while saving / before: sessions {peak_ratio(ours['save']):.2f}×, "
        f"dill {peak_ratio(dill_save):.2f}×"
    )
    lines.append(
        f"disk sequential write (fsync): {disk / 1e9:.2f} GB/s; session file from dill: {_mb(session_bytes)}"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
