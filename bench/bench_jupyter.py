"""Jupyter benchmark: the cost of automatic snapshots on ordinary cells, and restoring into
a running kernel from outside against the same load run inside it.

    python bench/bench_jupyter.py            # restore: the full core reference session
    python bench/bench_jupyter.py --small    # 1/10 scale

Real ipykernel kernels through jupyter_client. Cell overhead: 400 trivial cells (``x = 1``)
with automatic snapshots off and on (60 s threshold, every 5 minutes), in alternating blocks
of 100, timed from the client (execute request to reply); plus the hooks alone, timed inside
the kernel. Restore: the reference session saved once; then, in fresh kernels that already
imported numpy and pandas, ``sessions.load`` timed inside the kernel versus
``sessions-tui restore --kernel`` (kernels.outside.restore_into_kernel) timed by the caller.
Median of 3 each, alternating.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
from bench_core import BUILD  # noqa: E402
from results import run_line, write_section  # noqa: E402


class Kernel:
    def __init__(self, runtime: Path, env: dict[str, str], index: int) -> None:
        from jupyter_client.manager import KernelManager

        self.manager = KernelManager(
            kernel_name="python3", connection_file=str(runtime / f"kernel-bench{index}.json")
        )
        self.manager.start_kernel(env=env, cwd=str(runtime))
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def run(self, code: str) -> str:
        out: list[str] = []
        reply = self.client.execute_interactive(
            code,
            timeout=600,
            output_hook=lambda m: (
                out.append(m["content"].get("text", "")) if m["msg_type"] == "stream" else None
            ),
        )
        if reply["content"]["status"] != "ok":
            raise SystemExit(f"kernel error: {reply['content'].get('evalue')}")
        return "".join(out)

    def stop(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def cell_overhead(runtime: Path, env: dict[str, str]) -> dict[str, float]:
    kernel = Kernel(runtime, env, 0)
    try:
        kernel.run("%load_ext sessions\nimport numpy as np\n" + "".join(
            f"v{i} = np.zeros(10)\n" for i in range(100)
        ))  # fmt: skip
        times: dict[str, list[float]] = {"off": [], "on": []}
        for block in range(8):
            state = "on" if block % 2 else "off"
            kernel.run(
                "%sessions auto on --after 60 --every 5" if state == "on" else "%sessions auto off"
            )
            for _ in range(50 if block < 2 else 100):
                started = time.perf_counter()
                kernel.run("x = 1")
                if block >= 2:  # the first two blocks warm up
                    times[state].append(time.perf_counter() - started)
        hooks = kernel.run(
            textwrap.dedent(
                """
                import time as _t
                _m = get_ipython()._sessions_magic
                _m.start_auto(_m.auto.config, quiet=True) if _m.auto else None
                _a = _m.auto
                _n = 20000
                _s = _t.perf_counter()
                for _ in range(_n):
                    _a.pre_run_cell(None)
                    _a.post_run_cell(None)
                print((_t.perf_counter() - _s) / _n)
                """
            )
        )
        return {
            "off_median": statistics.median(times["off"]),
            "on_median": statistics.median(times["on"]),
            "off_mean": statistics.fmean(times["off"]),
            "on_mean": statistics.fmean(times["on"]),
            "hooks": float(hooks.strip().splitlines()[-1]),
        }
    finally:
        kernel.stop()


def restore_times(runtime: Path, env: dict[str, str], build: str) -> dict[str, float]:
    from sessions.kernels.outside import find_kernel, restore_into_kernel

    saver = subprocess.run(
        [sys.executable, "-c", build + "\nimport sessions\nprint(sessions.save('reference').id)"],
        env=env,
        capture_output=True,
        text=True,
    )
    if saver.returncode != 0:
        raise SystemExit(saver.stderr)
    snapshot = saver.stdout.strip().splitlines()[-1]
    inside: list[float] = []
    outside: list[float] = []
    for round_ in range(3):
        for how in ("inside", "outside") if round_ % 2 == 0 else ("outside", "inside"):
            index = 10 + round_ * 2 + (how == "outside")
            kernel = Kernel(runtime, env, index)
            try:
                kernel.run("import numpy, pandas, sessions")
                if how == "inside":
                    text = kernel.run(
                        "import time as _t\n_s = _t.perf_counter()\n"
                        f"_r = sessions.load({snapshot!r})\nprint(_t.perf_counter() - _s)"
                    )
                    inside.append(float(text.strip().splitlines()[-1]))
                else:
                    target = find_kernel(f"bench{index}")
                    started = time.perf_counter()
                    restore_into_kernel(target, snapshot, home=Path(env["SESSIONS_HOME"]))
                    outside.append(time.perf_counter() - started)
            finally:
                kernel.stop()
    return {"inside": statistics.median(inside), "outside": statistics.median(outside)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="1/10 scale session for restore")
    parser.add_argument("--no-write", action="store_true", help="do not write bench/RESULTS.md")
    args = parser.parse_args()
    scale = 10 if args.small else 1
    build = BUILD.format(arrays=8, array_len=12_500_000 // scale, rows=5_000_000 // scale)
    work = Path(tempfile.mkdtemp(prefix="sessions-bench-jupyter-"))
    runtime = work / "runtime"
    runtime.mkdir()
    env = dict(os.environ, SESSIONS_HOME=str(work / "home"), JUPYTER_RUNTIME_DIR=str(runtime))
    env["SESSIONS_CONFIG_DIR"] = str(work / "config")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    os.environ.update(
        JUPYTER_RUNTIME_DIR=str(runtime), SESSIONS_CONFIG_DIR=env["SESSIONS_CONFIG_DIR"]
    )
    try:
        print("cell overhead, automatic snapshots off and on…", flush=True)
        cells = cell_overhead(runtime, env)
        print("restore into a running kernel vs load inside it…", flush=True)
        restore = restore_times(runtime, env, build)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    overhead = cells["on_median"] - cells["off_median"]
    ratio = restore["outside"] / restore["inside"]
    lines = [
        f"{'measure':<58} {'result':>10}  target",
        "-" * 80,
        f"{'trivial cell, automatic snapshots off (median)':<58} {cells['off_median'] * 1000:>8.2f}ms",
        f"{'trivial cell, automatic snapshots on (median)':<58} {cells['on_median'] * 1000:>8.2f}ms",
        f"{'per-cell overhead, on - off (median)':<58} {overhead * 1000:>8.2f}ms  < 5 ms",
        f"{'per-cell overhead, on - off (mean)':<58} {(cells['on_mean'] - cells['off_mean']) * 1000:>8.2f}ms",
        f"{'the hooks alone, inside the kernel (100 variables)':<58} {cells['hooks'] * 1e6:>8.2f}us",
        f"{'load inside the kernel (median of 3)':<58} {restore['inside']:>9.2f}s",
        f"{'restore into the kernel from outside (median of 3)':<58} {restore['outside']:>9.2f}s",
        f"{'restore from outside / load inside':<58} {ratio:>9.2f}x  <= 1.5x",
    ]
    table = "\n".join(lines)
    print()
    print(table)
    if not args.no_write:
        write_section(
            "Jupyter",
            f"{run_line('bench_jupyter.py', args.small)} The scale is the reference session's, "
            "for the restore. Real ipykernel kernels through jupyter_client.\n\n```\n"
            + table
            + "\n```",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
