"""``%%sessions cache`` in a real notebook run by nbclient, each Run All in a new kernel.

Cached cells append to ``ran.txt`` when they really run, so "the cell did not run" is read
from that file, never from timings. The slow cell sleeps ``SLOW_SECONDS`` (short here; the
benchmark runs the real 10-second cell and measures the second Run All)."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

SLOW_SECONDS = 0.5

CELLS = [
    "%load_ext sessions",
    "N = {n}\nfrom IPython.display import HTML, display",
    (
        "%%sessions cache\n"
        "import time\n"
        "with open('ran.txt', 'a') as log:\n"
        "    log.write('slow\\n')\n"
        "time.sleep({slow})\n"
        "squares = [i * i for i in range(N)]\n"
        "print('squares', squares)\n"
        "display(HTML('<b>%d squares</b>' % len(squares)))\n"
        "squares"
    ),
    (
        "%%sessions cache\n"
        "with open('ran.txt', 'a') as log:\n"
        "    log.write('later\\n')\n"
        "total = sum(squares) + {offset}\n"
        "print('total', total)"
    ),
    "print(repr({{'N': N, 'squares': squares, 'total': total}}))",
]


def notebook(n: int = 3, offset: int = 1) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    values = {"n": n, "offset": offset, "slow": SLOW_SECONDS}
    nb.cells = [nbformat.v4.new_code_cell(text.format(**values)) for text in CELLS]
    return nb


def run_all(nb: nbformat.NotebookNode, workdir: Path) -> tuple[nbformat.NotebookNode, float]:
    """Run every cell in a new kernel; returns the executed notebook and the seconds from the
    first cell's start to the last cell's reply (kernel start-up left out)."""
    done = copy.deepcopy(nb)
    client = NotebookClient(
        done, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    )
    client.execute()
    timings = [cell.metadata.get("execution", {}) for cell in done.cells]
    start = min(t["iopub.execute_input"] for t in timings)
    end = max(t["shell.execute_reply"] for t in timings)
    return done, _seconds(end) - _seconds(start)


def _seconds(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def outputs(cell: Any) -> list[dict[str, Any]]:
    """A cell's outputs without what differs between runs of the same thing (the count, and
    how the kernel happened to chunk a stream)."""
    shown: list[dict[str, Any]] = []
    for out in cell.outputs:
        item = {k: v for k, v in out.items() if k not in ("execution_count", "metadata")}
        last = shown[-1] if shown else None
        stream = last and item["output_type"] == last["output_type"] == "stream"
        if stream and last is not None and last["name"] == item["name"]:
            last["text"] += item["text"]
            continue
        shown.append(item)
    return shown


def ran(workdir: Path) -> list[str]:
    path = workdir / "ran.txt"
    return path.read_text().split() if path.exists() else []


@pytest.mark.timeout(600)
def test_a_cached_cell_does_not_run_again_in_a_new_kernel(home: Path, tmp_path: Path) -> None:
    work = tmp_path / "nb"
    work.mkdir()
    first, first_seconds = run_all(notebook(), work)
    assert ran(work) == ["slow", "later"]
    second, second_seconds = run_all(notebook(), work)
    assert ran(work) == ["slow", "later"], "neither cached cell ran in the new kernel"
    for before, after in zip(first.cells, second.cells):
        assert outputs(after) == outputs(before), after.source
    assert outputs(second.cells[4]) == [
        {
            "output_type": "stream",
            "name": "stdout",
            "text": "{'N': 3, 'squares': [0, 1, 4], 'total': 6}\n",
        }
    ]
    kinds = [o["output_type"] for o in second.cells[2].outputs]
    assert kinds == ["stream", "display_data", "execute_result"], "print, display, Out[n]"
    print(f"Run All: first {first_seconds:.2f} s, second {second_seconds:.2f} s")

    edited = notebook(offset=2)  # a later cell changed: only it runs
    third, _ = run_all(edited, work)
    assert ran(work) == ["slow", "later", "later"]
    assert "'total': 7" in third.cells[4].outputs[0]["text"]

    changed = notebook(n=4, offset=2)  # an input of the slow cell changed: it runs again
    fourth, _ = run_all(changed, work)
    assert ran(work) == ["slow", "later", "later", "slow", "later"]
    assert "'squares': [0, 1, 4, 9], 'total': 16" in fourth.cells[4].outputs[0]["text"]


def _shell(home: Path) -> Any:
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "sessions")
    return shell


def test_force_runs_the_cell_and_in_place_changes_come_back(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    shell = _shell(home)
    try:
        shell.run_cell("items = [1]\ncount = 0")
        body = "%%sessions cache{flag}\ncount += 1\nitems.append(len(items))\nlabel = 'x'"
        shell.run_cell(body.format(flag=""))
        assert shell.user_ns["items"] == [1, 1] and shell.user_ns["count"] == 1
        shell.run_cell("items = [1]\ncount = 0")
        shell.run_cell(body.format(flag=""))
        assert shell.user_ns["items"] == [1, 1], "a hit brings back what the cell changed"
        assert shell.user_ns["count"] == 1
        shell.run_cell("items = [1]\ncount = 0\nlabel = None")
        started = time.perf_counter()
        shell.run_cell(body.format(flag=" -f"))
        assert time.perf_counter() - started < 60
        assert shell.user_ns["label"] == "x" and shell.user_ns["count"] == 1
        result = shell.run_cell("%%sessions cache --bogus\nx = 1")
        assert result.error_in_exec is not None or result.error_before_exec is not None
    finally:
        shell.run_line_magic("unload_ext", "sessions")


def test_a_cell_whose_values_cannot_be_stored_runs_every_time(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    shell = _shell(home)
    try:
        body = (
            "%%sessions cache\nimport threading\nwith open('ran.txt', 'a') as log:\n"
            "    log.write('ran\\n')\nguard = threading.Lock()"
        )
        shell.run_cell(body)
        shell.run_cell(body)
        assert ran(tmp_path) == ["ran", "ran"]
        assert "not cached (guard:" in capsys.readouterr().err
    finally:
        shell.run_line_magic("unload_ext", "sessions")
