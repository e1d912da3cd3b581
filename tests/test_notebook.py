"""Notebooks as nbclient (and papermill) run them: progress bars in the executed notebook, a
failing ``%sessions`` cell that stops the run, loads that say what they replaced, rich HTML
output, default names that never mix two contexts, and classes defined in cells that keep
their source — all against real kernels."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import nbformat
import pytest
from conftest import ROOT, cli
from jupyter_kernels import Kernels
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from sessions.core.progress import Progress

HALF = 1 << 26  # float64 values in each of two arrays: 512 MiB each, 1 GiB in all


class Recording(NotebookClient):
    """An nbclient run that also keeps every display message, as a live frontend sees them
    (the saved notebook keeps only the final state of a display updated in place)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.displays: list[tuple[int, str, dict[str, Any]]] = []

    def process_message(self, msg: dict[str, Any], cell: Any, cell_index: int) -> Any:
        if msg["msg_type"] in ("display_data", "update_display_data"):
            self.displays.append((cell_index, msg["msg_type"], msg["content"]["data"]))
        return super().process_message(msg, cell, cell_index)


def _notebook(*cells: str) -> Any:
    return nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(textwrap.dedent(c).strip()) for c in cells],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    )


def _run(notebook: Any, where: Path) -> Recording:
    client = Recording(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(where)}}
    )
    client.execute()
    return client


@pytest.fixture
def kernel_env(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Kernels nbclient starts inherit this process's environment: the session dir, a
    private config dir and the source tree."""
    monkeypatch.setenv("SESSIONS_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    )
    return home


def _bars(outputs: list[Any]) -> list[str]:
    """The progress bars among a cell's saved outputs, as their text."""
    return [
        o["data"]["text/plain"]
        for o in outputs
        if o.get("output_type") == "display_data"
        and 'class="sessions-progress"' in o["data"].get("text/html", "")
    ]


def test_a_1gib_save_push_pull_and_load_show_progress_in_the_executed_notebook(
    kernel_env: Path, tmp_path: Path
) -> None:
    remote, other = tmp_path / "remote", tmp_path / "other-home"
    done = cli(kernel_env, "remote", "add", "team", str(remote))
    assert done.returncode == 0, done.stderr
    notebook = _notebook(
        "%load_ext sessions",
        f"""
        import numpy as np, sessions
        rng = np.random.default_rng(1)
        first = rng.random({HALF})
        second = rng.random({HALF})
        """,
        "%sessions save big",
        f"pushed = sessions.push('big', {str(remote)!r}, owner='alice', progress=True)",
        f"sessions.pull('alice/big', {str(remote)!r}, home={str(other)!r}, progress=True)",
        "first = None\n%sessions load big",
    )
    run = _run(notebook, tmp_path)
    cells = run.nb.cells
    for index, task in ((2, "save big"), (3, "push big"), (4, "pull alice/big"), (5, "load big")):
        bars = _bars(cells[index].outputs)
        assert len(bars) == 1, (task, cells[index].outputs)
        assert bars[0].startswith(task) and "1.0 GiB" in bars[0] and "100%" in bars[0], bars
        live = [
            data["text/plain"]
            for cell, _kind, data in run.displays
            if cell == index and 'data-state="running"' in data.get("text/html", "")
        ]
        assert live and " of 1.0 GiB" in live[0], (task, live)  # drawn while it ran
    loaded = "".join(o["data"]["text/plain"] for o in cells[5].outputs if "data" in o)
    assert "replaced existing rng, first, second" in loaded
    assert (other / "snapshots").is_dir()


def test_a_failing_load_stops_the_run_at_that_cell(kernel_env: Path, tmp_path: Path) -> None:
    notebook = _notebook(
        "%load_ext sessions",
        "x = 1\n%sessions save here -q",
        "%sessions load no-such-snapshot",
        "reached = True",
    )
    client = Recording(notebook, timeout=600, kernel_name="python3")
    with pytest.raises(CellExecutionError) as failed:
        client.execute()
    assert failed.value.ename == "UnknownRefError"
    assert "sessions: no snapshot matches 'no-such-snapshot'" in str(failed.value)
    cells = client.nb.cells
    error = cells[2].outputs[-1]
    assert error["output_type"] == "error" and error["ename"] == "UnknownRefError"
    assert error["traceback"] == ["sessions: no snapshot matches 'no-such-snapshot'"]
    assert cells[3].execution_count is None  # the run stopped there
    # a bad argument is a UsageError, and stops the run just the same
    with pytest.raises(CellExecutionError, match="UsageError"):
        _run(_notebook("%load_ext sessions", "%sessions load --no-such-flag x"), tmp_path)


def test_load_over_existing_variables_names_them_and_can_keep_them(
    kernel_env: Path, tmp_path: Path
) -> None:
    notebook = _notebook(
        "%load_ext sessions",
        """
        import pandas as pd
        class Config:
            rate = 0.1
        table = pd.DataFrame({"city": ["Oslo", "Lima"], "amount": [10.5, 3.0]})
        n = 3
        """,
        "%sessions save work -q",
        "n = 99\ntable = None\n%sessions load work -q",
        "print(n)",
        "n = 7\n%sessions load work n --keep -q",
        "print(n)",
        "import sessions\nsessions.snapshots()",
        "sessions.inspect('work')",
    )
    cells = _run(notebook, tmp_path).nb.cells
    text = "".join(o["data"]["text/plain"] for o in cells[3].outputs if "data" in o)
    html = "".join(o["data"]["text/html"] for o in cells[3].outputs if "data" in o)
    assert "replaced existing Config, table, n" in text
    assert "Replaced existing variables" in html and "<code>n</code>" in html
    assert cells[4].outputs[0]["text"] == "3\n"
    kept = "".join(o["data"]["text/plain"] for o in cells[5].outputs if "data" in o)
    assert "kept existing n (not replaced)" in kept
    assert cells[6].outputs[0]["text"] == "7\n"
    listed = cells[7].outputs[0]["data"]["text/html"]
    assert "<table>" in listed and "<b>work@1</b>" in listed
    shown = cells[8].outputs[0]["data"]["text/html"]
    assert "<th>city</th><th>amount</th>" in shown  # the DataFrame preview as a table
    assert "<td>Oslo</td>" in shown
    # the class defined in a cell has its source preview (from the cell it came from)
    manifest = json.loads(cli(kernel_env, "show", "work", "--json").stdout)["manifest"]
    config = next(v for v in manifest["variables"] if v["name"] == "Config")
    assert config["preview"]["source"] == "class Config:\n    rate = 0.1\n"


def test_default_names_differ_between_a_notebook_and_a_terminal_ipython(
    kernel_env: Path, tmp_path: Path
) -> None:
    _run(_notebook("%load_ext sessions", "x = 1\n%sessions save -q"), tmp_path)
    script = tmp_path / "shell.ipy"
    script.write_text("%load_ext sessions\ny = 2\n%sessions save -q\n")
    shell = subprocess.run(
        [sys.executable, "-m", "IPython", "--no-banner", str(script)],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert shell.returncode == 0, shell.stderr
    names = [s["name"] for s in json.loads(cli(kernel_env, "ls", "--json").stdout)["snapshots"]]
    assert len(names) == 2 and len(set(names)) == 2, names
    kernel_name = next(n for n in names if n.startswith("kernel-"))
    shell_name = next(n for n in names if n.startswith("ipython-"))
    assert "session" not in (kernel_name, shell_name)


def test_kernel_save_from_outside_relays_progress(kernels: Kernels, home: Path) -> None:
    from jupyter_kernels import kernel_id

    from sessions.kernels.outside import find_kernel, save_kernel

    kernel = kernels.start()
    assert kernel.run("import numpy as np\nbig = np.ones(1 << 24)")["error"] is None
    seen: list[Progress] = []
    result = save_kernel(find_kernel(kernel_id(kernel)), name="outside", progress=seen.append)
    assert result["ref"] == "outside@1"
    assert seen and seen[-1].finished and seen[-1].task == "save"
    assert seen[-1].done_bytes == seen[-1].total_bytes >= 1 << 27


def test_a_kernel_save_cancelled_while_running_makes_no_snapshot(
    kernels: Kernels, home: Path
) -> None:
    """Cancel once the save has started in the kernel: it stops at its next progress report.
    The kernel's blob writes wait for this request's cancel file, so the save is surely
    mid-way when it is cancelled."""
    from jupyter_kernels import kernel_id

    from sessions.kernels.outside import Cancelled, find_kernel, save_kernel

    kernel = kernels.start()
    held = kernel.run(
        textwrap.dedent(
            """
            import glob, os, tempfile, time, numpy as np
            from sessions.core.store.blobs import BlobStore
            _put = BlobStore.put
            def _cancelled(since):
                # this request's cancel file: named like its progress file, written since
                where = tempfile.gettempdir()
                for report in glob.glob(os.path.join(where, "sessions-progress-*.json")):
                    token = os.path.basename(report)[len("sessions-progress-"):-len(".json")]
                    fresh = os.path.getmtime(report) >= since
                    if fresh and os.path.exists(os.path.join(where, f"sessions-cancel-{token}")):
                        return True
                return False
            def _held(self, *args, **kwargs):
                since = time.time() - 5
                deadline = time.monotonic() + 60
                while not _cancelled(since) and time.monotonic() < deadline:
                    time.sleep(0.02)
                return _put(self, *args, **kwargs)
            BlobStore.put = _held
            big = np.ones(1 << 24)
            """
        )
    )
    assert held["error"] is None, held
    seen: list[Progress] = []
    with pytest.raises(Cancelled, match="save cancelled: no snapshot was made"):
        save_kernel(
            find_kernel(kernel_id(kernel)),
            name="stopped",
            progress=seen.append,
            cancel=lambda: bool(seen),  # as soon as the save has reported once
        )
    assert seen and seen[0].task == "save"
    assert not home.exists() or not list((home / "snapshots").rglob("*.msgpack"))
    assert kernel.run("print(big.shape)")["stdout"] == "(16777216,)\n"  # the kernel goes on
