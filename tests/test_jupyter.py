"""Jupyter: the %sessions magic, automatic snapshots, and saving from / restoring into running
kernels from outside — all against real ipykernel kernels through jupyter_client."""

from __future__ import annotations

import json
import os
import signal
import site
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, cli
from jupyter_kernels import Kernel, Kernels, kernel_env, kernel_id

STATE = """
import numpy as np, pandas as pd

class Scaler:
    def __init__(self, factor):
        self.factor = factor
    def apply(self, values):
        return values * self.factor

def summarize(frame):
    return {"rows": len(frame), "total": float(frame["amount"].sum())}

weights = np.linspace(0, 1, 1001)
counts = np.arange(12, dtype=np.int64).reshape(3, 4)
orders = pd.DataFrame({"city": ["Oslo", "Lima", "Pune", "Oslo"], "amount": [10.5, 3.0, 7.25, 1.0]})
scaler = Scaler(3)
"""

CHECK = """
import json as _j
print(_j.dumps({
    "weights": [float(weights.sum()), weights.shape[0]],
    "counts": counts.tolist(),
    "orders": [orders["city"].tolist(), float(orders["amount"].sum())],
    "scaler": [type(scaler).__name__, isinstance(scaler, Scaler), scaler.apply(2)],
    "summarize": summarize(orders),
}))
"""


def _values(kernel: Kernel) -> dict:
    done = kernel.run(CHECK)
    assert done["error"] is None, done["error"]
    return json.loads(done["stdout"].strip().splitlines()[-1])


def test_magic_save_then_load_in_a_new_kernel(kernels: Kernels, home: Path) -> None:
    notebook = str(home.parent / "work" / "orders.ipynb")
    first = kernels.start(JPY_SESSION_NAME=notebook)
    assert first.run("%load_ext sessions")["error"] is None
    assert first.run(STATE)["error"] is None
    want = _values(first)
    saved = first.run("%sessions save -n 'cleaned orders' -t q3")
    assert "saved orders@1" in saved["display"], saved  # named after the notebook
    listed = first.run("%sessions list")["display"]
    assert "orders@1" in listed and "cleaned orders" in listed
    shown = first.run("%sessions show orders")["display"]
    assert "orders" in shown and "pandas.DataFrame" in shown and "Scaler" in shown
    first.stop()

    # the extension loaded from configuration (as a profile's extensions list would)
    second = kernels.start(args=("--InteractiveShellApp.extensions=['sessions']",))
    matches = second.complete("%sessions load orders ")
    assert {"weights", "orders", "scaler", "Scaler", "summarize"} <= set(matches)
    assert "orders@1" in second.complete("%sessions show ")
    assert set(second.complete("%sessions ")) >= {"save", "load", "list", "show", "auto"}
    loaded = second.run("%sessions load orders")
    assert "loaded" in loaded["display"] and loaded["error"] is None, loaded
    assert _values(second) == want

    manifest = json.loads(cli(home, "show", "orders", "--json").stdout)["manifest"]
    assert manifest["origin"]["notebook"] == notebook and manifest["origin"]["kind"] == "notebook"
    assert any("Scaler" in cell for cell in manifest["history"])  # the cell inputs
    assert manifest["origin"]["kernel_id"]


def test_save_from_outside_and_restore_into_a_running_kernel(kernels: Kernels, home: Path) -> None:
    source = kernels.start()
    assert source.run(STATE)["error"] is None
    want = _values(source)
    before = source.run("print(len(In), sorted(k for k in globals() if not k.startswith('_')))")

    listed = cli(home, "kernels")
    assert kernel_id(source) in listed.stdout, listed
    done = cli(home, "save", "--kernel", kernel_id(source)[:6], "from-outside", "--note", "x")
    assert done.returncode == 0, done.stderr
    assert "saved from-outside@1" in done.stdout
    after = source.run("print(len(In) - 1, sorted(k for k in globals() if not k.startswith('_')))")
    assert after["stdout"] == before["stdout"], "nothing added to the notebook or its history"

    target = kernels.start()
    target.run("untouched = 'still here'")
    done = cli(
        home, "restore", "from-outside", "--kernel", kernel_id(target), "--vars", "scaler,orders"
    )
    assert done.returncode == 0, done.stderr
    assert "loaded" in done.stdout
    got = target.run(
        "import json\nprint(json.dumps([sorted(k for k in globals() if not k.startswith('_') "
        "and k not in ('In', 'Out', 'exit', 'quit', 'get_ipython', 'open', 'json')), "
        "scaler.apply(2), float(orders['amount'].sum()), untouched]))"
    )
    names, applied, total, untouched = json.loads(got["stdout"].strip().splitlines()[-1])
    assert names == ["Scaler", "orders", "scaler", "untouched"]  # marked ones and what they need
    assert [applied, total, untouched] == [want["scaler"][2], want["orders"][1], "still here"]

    bad = cli(home, "save", "--kernel", "nope")
    assert bad.returncode == 2 and "no running kernel matches 'nope'" in bad.stderr


def test_a_busy_kernel_makes_the_caller_wait_and_can_be_cancelled(
    kernels: Kernels, home: Path
) -> None:
    kernel = kernels.start()
    kernel.run("x = 1")
    busy_id = kernel_id(kernel)
    kernel.start_busy("import time; time.sleep(6); y = 2")  # busy, not awaited
    done = cli(home, "save", "--kernel", busy_id, "busy")
    assert done.returncode == 0, done.stderr
    assert "is busy running a cell; waiting (Ctrl-C to cancel)" in done.stderr
    assert "saved busy@1" in done.stdout
    saved = json.loads(cli(home, "show", "busy", "--json").stdout)["manifest"]["variables"]
    assert {"x", "y"} <= {v["name"] for v in saved}  # saved after the running cell finished

    kernel.start_busy("time.sleep(8)")
    waiting = subprocess.Popen(
        [sys.executable, "-m", "sessions.tui.cli", "save", "--kernel", busy_id, "cancelled"],
        env=kernel_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert waiting.stderr is not None
    first = waiting.stderr.readline()  # blocks until the caller says it is waiting
    assert "is busy running a cell; waiting" in first, first
    waiting.send_signal(signal.SIGINT)
    out, err = waiting.communicate(timeout=30)
    err = first + err
    assert waiting.returncode == 1, (out, err)
    assert "cancelled while the kernel was busy: nothing was done in the kernel" in err
    assert "Traceback" not in err
    kernel.run("z = 3")  # the kernel is free again and the cancelled request did nothing
    listed = json.loads(cli(home, "ls", "--json").stdout)["snapshots"]
    assert [s["ref"] for s in listed] == ["busy@1"]


def test_a_kernel_without_the_package_gets_the_install_command(
    kernels: Kernels, home: Path, tmp_path: Path
) -> None:
    """A kernel whose Python cannot import sessions: run without site processing, so the
    editable install's .pth hook is not applied (the packages themselves are on the path)."""
    spec = tmp_path / "kernelspecs" / "kernels" / "bare"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [
                    sys.executable,
                    "-S",
                    "-m",
                    "ipykernel_launcher",
                    "-f",
                    "{connection_file}",
                ],
                "display_name": "bare",
                "language": "python",
                "env": {"PYTHONPATH": os.pathsep.join(site.getsitepackages())},
            }
        )
    )
    os.environ["JUPYTER_PATH"] = str(spec.parent.parent)
    try:
        kernel = kernels.start("bare", PYTHONPATH=os.pathsep.join(site.getsitepackages()))
    finally:
        del os.environ["JUPYTER_PATH"]
    assert "No module named 'sessions'" in str(kernel.run("import sessions")["error"])
    kernel.run("a = 1")
    done = cli(home, "save", "--kernel", kernel_id(kernel))
    assert done.returncode == 1
    assert f"runs {sys.executable}, which lacks sessions-tui; install it there: " in done.stderr
    assert f"{sys.executable} -m pip install sessions-tui" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_automatic_snapshots_after_a_long_cell_only(kernels: Kernels, home: Path) -> None:
    kernel = kernels.start()
    kernel.run("%load_ext sessions")
    on = kernel.run("%sessions auto on --after 1 --name auto-nb")
    assert "automatic snapshots on, after cells of 1 s or more" in on["stdout"]
    short = kernel.run("a = 1")
    assert short["stdout"] == ""
    assert not (home / "snapshots").exists() or not list((home / "snapshots").rglob("*.msgpack"))
    long = kernel.run("import time\ntime.sleep(1.3)\nb = 2")
    assert long["stdout"].startswith("sessions: auto-saved auto-nb@1 (a long cell")
    assert long["stdout"].count("\n") == 1  # one status line
    again = kernel.run("time.sleep(1.3)")  # long, but nothing changed: no new snapshot
    assert again["stdout"] == ""
    kernel.run("%sessions auto off")
    kernel.run("time.sleep(1.3)\nc = 3")
    listed = json.loads(cli(home, "ls", "--json").stdout)["snapshots"]
    assert [s["ref"] for s in listed] == ["auto-nb@1"]
    assert listed[0]["tags"] == ["auto"]
