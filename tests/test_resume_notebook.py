"""``%sessions resume``: a notebook run by nbclient (a new kernel each run, as papermill and
``nbconvert --execute`` do) that failed or whose kernel died resumes after the cells it
completed, and ends with the namespace an uninterrupted run has.

Every cell appends its number to ``calls.txt`` when it really runs, so which cells ran is
read from that file, never from timings."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import nbformat
import pytest
from conftest import cli
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, DeadKernelError

SETUP = "%load_ext sessions\n%sessions resume {name} --after 0"
CELLS = [
    "import json, os\nimport numpy as np\n\ndef ran(n):\n    with open('calls.txt', 'a') as handle:\n"
    "        handle.write(f'{{n}}\\n')\n\nran(1)",
    "ran(2)\ndata = np.arange(1_000, dtype=np.float64) * {scale}\nlabels = {{'kind': 'ramp'}}",
    "ran(3)\n_private = [data.sum()]\ntotal = float(data.sum())",
    "ran(4)\nif os.path.exists('fail'):\n    raise RuntimeError('not yet')\n"
    "if os.path.exists('die'):\n    os.remove('die')\n    os.kill(os.getpid(), 9)\ntotal += 1",
    "ran(5)\nIPYTHON = {{'In', 'Out', 'get_ipython', 'exit', 'quit', 'open'}}\n"
    "names = sorted(k for k in globals() if k not in IPYTHON and not k.startswith('_i')\n"
    "               and k not in ('_', '__', '___', '_oh', '_dh', '_ih') and not k.startswith('__'))\n"
    "with open('final.json', 'w') as handle:\n"
    "    json.dump({{k: repr(globals()[k]) for k in ('data', 'labels', 'total', '_private')}}\n"
    "              | {{'names': repr(names)}}, handle, sort_keys=True)",
]


def notebook(name: str = "nbrun", scale: int = 2, third: str = "") -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    sources = [SETUP.format(name=name), *(c.format(scale=scale) for c in CELLS)]
    if third:
        sources[3] += f"\n{third}"
    nb.cells = [nbformat.v4.new_code_cell(text) for text in sources]
    return nb


def run_all(nb: nbformat.NotebookNode, workdir: Path) -> nbformat.NotebookNode:
    """Run every cell in a new kernel, as nbclient does; returns the executed notebook (its
    cells executed so far when a cell fails or the kernel dies: the exception says which)."""
    done = copy.deepcopy(nb)
    client = NotebookClient(
        done, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    )
    client.execute()
    return done


def text(cell: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o["output_type"] == "stream")


def calls(workdir: Path) -> list[int]:
    path = workdir / "calls.txt"
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def uninterrupted(tmp_path: Path) -> dict[str, str]:
    straight = tmp_path / "straight"
    straight.mkdir()
    run_all(notebook(name="straight"), straight)
    assert calls(straight) == [1, 2, 3, 4, 5]
    return json.loads((straight / "final.json").read_text())


@pytest.mark.timeout(600)
@pytest.mark.parametrize("how", ["raises", "kernel killed"])
def test_a_failed_notebook_resumes_after_its_last_checkpoint(
    home: Path, tmp_path: Path, how: str
) -> None:
    work = tmp_path / "nb"
    work.mkdir()
    (work / ("fail" if how == "raises" else "die")).touch()
    with pytest.raises(CellExecutionError if how == "raises" else DeadKernelError):
        run_all(notebook(), work)
    assert calls(work) == [1, 2, 3, 4]
    (work / "fail").unlink(missing_ok=True)

    second = run_all(notebook(), work)
    assert calls(work) == [1, 2, 3, 4, 4, 5], "cells 1-3 skipped, 4 and 5 ran again"
    said = text(second.cells[0])
    assert ("the last run failed" if how == "raises" else "did not finish") in said
    assert "cells unchanged since its checkpoints (after cells 1, 2, 3) will be skipped" in said
    assert "cell 1 skipped: unchanged since the last run" in text(second.cells[1])
    assert "cell 2 skipped" in text(second.cells[2])
    assert "cells 1-3 skipped: unchanged since checkpoint run:nbrun@3" in text(second.cells[3])
    assert "namespace restored" in text(second.cells[3])
    assert json.loads((work / "final.json").read_text()) == uninterrupted(tmp_path)

    third = run_all(notebook(), work)  # the last run completed: nothing is skipped
    assert calls(work)[-5:] == [1, 2, 3, 4, 5]
    assert "skipped" not in "".join(text(c) for c in third.cells)


@pytest.mark.timeout(600)
def test_a_changed_cell_runs_on_the_state_it_would_have_had(home: Path, tmp_path: Path) -> None:
    """Checkpoints after cells 1 and 3 only (the one after 2 removed, as if cell 2 had been
    quick); cell 3 edited: cell 1 comes back from its checkpoint, cell 2 runs again before
    cell 3, and the end is as an uninterrupted run of the edited notebook."""
    work = tmp_path / "nb"
    work.mkdir()
    (work / "fail").touch()
    with pytest.raises(CellExecutionError):
        run_all(notebook(), work)
    assert cli(home, "rm", "run:nbrun@2").returncode == 0
    (work / "fail").unlink()
    edited = notebook(third="total *= 1")  # same result, other code
    second = run_all(edited, work)
    assert calls(work) == [1, 2, 3, 4, 2, 3, 4, 5]
    said = text(second.cells[3])
    assert "cell 3 changed since the last run" in said
    assert "checkpoint run:nbrun@1 restored; cell 2 (skipped above) runs again first" in said
    assert json.loads((work / "final.json").read_text()) == uninterrupted(tmp_path)


@pytest.mark.timeout(600)
def test_changed_parameters_before_the_magic_start_from_the_beginning(
    home: Path, tmp_path: Path
) -> None:
    work = tmp_path / "nb"
    work.mkdir()
    (work / "fail").touch()
    nb = notebook()
    nb.cells.insert(0, nbformat.v4.new_code_cell("threshold = 0.5  # papermill parameters"))
    with pytest.raises(CellExecutionError):
        run_all(nb, work)
    (work / "fail").unlink()
    nb.cells[0].source = "threshold = 0.7  # papermill parameters"
    second = run_all(nb, work)
    assert calls(work) == [1, 2, 3, 4, 1, 2, 3, 4, 5]
    said = text(second.cells[1])
    assert "no checkpoint can be used" in said
    assert "the variables defined before %sessions resume differ" in said


def test_a_kernel_that_cannot_name_its_notebook_asks_for_a_name(home: Path, tmp_path: Path) -> None:
    nb = notebook()
    nb.cells[0].source = "%load_ext sessions\n%sessions resume"
    with pytest.raises(CellExecutionError) as failed:
        run_all(nb, tmp_path)
    assert "name the run, e.g. %sessions resume my-analysis" in str(failed.value)
    assert calls(tmp_path) == [], "nothing ran past the magic"
