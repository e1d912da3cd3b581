"""``sessions-tui run``: a script behaves as under ``python script.py``, and a run that failed
or was killed resumes after its last completed cell whose code and inputs are unchanged.

Every cell appends its number to ``calls.txt``, so which cells ran is read from that file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from conftest import child_env

JOB = '''\
"""Five cells; the fourth waits while the file 'hold' exists."""
import json, os, sys, time
import numpy as np

def ran(n):
    with open("calls.txt", "a") as handle:
        handle.write(f"{{n}}\\n")

ran(1)
# %%
ran(2)
data = np.arange(1_000, dtype=np.float64) * {scale}
labels = {{"kind": "ramp", "args": sys.argv[1:]}}
# %%
ran(3)
_private = [data.sum()]
total = float(data.sum())
# %%
ran(4)
open("in-cell-4", "w").close()
while os.path.exists("hold"):
    time.sleep(0.05)
total += 1
# %%
ran(5)
state = {{k: repr(v) for k, v in sorted(globals().items())
         if not k.startswith("__") and not callable(v) and type(v).__name__ != "module"}}
with open("final.json", "w") as handle:
    json.dump(state, handle, sort_keys=True)
print("total", total)
'''


def write(workdir: Path, text: str, name: str = "job.py") -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / name
    path.write_text(text)
    return path


def run(home: Path, workdir: Path, *args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sessions.tui.cli", "run", *args],
        env=child_env(home),
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=180,
        **kwargs,
    )


def calls(workdir: Path) -> list[int]:
    path = workdir / "calls.txt"
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def test_a_script_killed_in_its_fourth_cell_resumes_after_the_third(
    home: Path, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    write(work, JOB.format(scale=2))
    (work / "hold").touch()
    command = ["run", "--checkpoint-after=0", "job.py", "a", "b"]
    child = subprocess.Popen(
        [sys.executable, "-m", "sessions.tui.cli", *command],
        env=child_env(home),
        cwd=work,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (work / "in-cell-4").exists():
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "the run never reached cell 4"
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.communicate()
    assert calls(work) == [1, 2, 3, 4]

    (work / "hold").unlink()
    resumed = run(home, work, "--checkpoint-after", "0", "job.py", "a", "b")
    assert resumed.returncode == 0, resumed.stderr
    assert calls(work) == [1, 2, 3, 4, 4, 5], "cells 1-3 skipped, 4 and 5 ran again"
    assert "did not finish" in resumed.stderr
    assert "cells 1-3 skipped" in resumed.stderr
    assert "resuming at cell 4 of 5" in resumed.stderr
    assert resumed.stdout.split() == ["total", "999001.0"]
    resumed_state = json.loads((work / "final.json").read_text())

    straight = tmp_path / "straight"
    write(straight, JOB.format(scale=2))
    plain = subprocess.run(
        [sys.executable, "job.py", "a", "b"],
        cwd=straight,
        env=child_env(home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert plain.returncode == 0, plain.stderr
    assert json.loads((straight / "final.json").read_text()) == resumed_state
    assert "_private" in resumed_state and "labels" in resumed_state


def _fail_in_cell_4(home: Path, work: Path, scale: int = 2) -> None:
    write(work, JOB.format(scale=scale).replace("total += 1", "total += 1\nraise SystemExit(3)"))
    failed = run(home, work, "--checkpoint-after", "0", "job.py")
    assert failed.returncode == 3


def test_a_changed_cell_runs_again_from_there(home: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    _fail_in_cell_4(home, work)
    write(work, JOB.format(scale=5))  # cell 2 changed (and the failure fixed)
    again = run(home, work, "--checkpoint-after", "0", "job.py")
    assert again.returncode == 0, again.stderr
    assert calls(work) == [1, 2, 3, 4, 2, 3, 4, 5], "only cell 1 was kept"
    assert "cell 2 (lines 11-13) changed" in again.stderr
    assert again.stdout.split() == ["total", str(sum(range(1000)) * 5.0 + 1)]


def test_other_arguments_start_from_the_beginning(home: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    _fail_in_cell_4(home, work)
    write(work, JOB.format(scale=2))
    again = run(home, work, "--checkpoint-after", "0", "job.py", "--other")
    assert again.returncode == 0, again.stderr
    assert calls(work) == [1, 2, 3, 4, 1, 2, 3, 4, 5]
    assert "the arguments differ" in again.stderr


def test_a_completed_run_is_not_resumed_and_fresh_ignores_checkpoints(
    home: Path, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    write(work, JOB.format(scale=2))
    assert run(home, work, "--checkpoint-after", "0", "job.py").returncode == 0
    assert run(home, work, "--checkpoint-after", "0", "job.py").returncode == 0
    assert calls(work) == [1, 2, 3, 4, 5] * 2
    _fail_in_cell_4(home, work)
    write(work, JOB.format(scale=2))
    fresh = run(home, work, "--fresh", "job.py")
    assert fresh.returncode == 0 and "--fresh" in fresh.stderr
    assert calls(work)[-5:] == [1, 2, 3, 4, 5]


def test_what_a_checkpoint_cannot_hold_is_made_again_by_its_cell(
    home: Path, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    script = textwrap.dedent(
        """\
        import os, threading
        lock = threading.Lock()
        with open("calls.txt", "a") as f: f.write("1\\n")
        # %%
        with open("calls.txt", "a") as f: f.write("2\\n")
        value = 41
        # %%
        with open("calls.txt", "a") as f: f.write("3\\n")
        if os.path.exists("fail"):
            raise RuntimeError("not yet")
        with lock:
            print(value + 1)
        """
    )
    write(work, script)
    (work / "fail").touch()
    first = run(home, work, "--checkpoint-after", "0", "job.py")
    assert first.returncode == 1 and "RuntimeError: not yet" in first.stderr
    (work / "fail").unlink()
    again = run(home, work, "--checkpoint-after", "0", "job.py")
    assert again.returncode == 0, again.stderr
    assert again.stdout.split() == ["42"]
    assert calls(work) == [1, 2, 3, 1, 3], "cell 1 ran again for the lock; cell 2 was restored"
    assert "cell 1 runs again: it made lock" in again.stderr


CASES = {
    "ok": "import sys\nprint(sys.argv[1:], __file__ == __import__('os').path.abspath('c.py'))\n",
    "exit3": "print('before')\nraise SystemExit(3)\n",
    "message": "import sys\nsys.exit('bad input')\n",
    "error": "def f():\n    return 1 / 0\n\nx = 1\nf()\n",
    "syntax": "x = (\n",
    "name": "import sys\nprint(__name__, sys.path[0] == __import__('os').getcwd(), __doc__)\n",
}


def test_argv_file_exit_codes_and_tracebacks_are_those_of_python(
    home: Path, tmp_path: Path
) -> None:
    for label, text in CASES.items():
        work = tmp_path / label
        write(work, text, "c.py")
        plain = subprocess.run(
            [sys.executable, "c.py", "one", "two"],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=60,
            env=child_env(home),
        )
        ours = run(home, work, "c.py", "one", "two")
        assert (ours.returncode, ours.stdout) == (plain.returncode, plain.stdout), label
        ours_err = [line for line in ours.stderr.splitlines() if "sessions-tui run:" not in line]
        assert ours_err == plain.stderr.splitlines(), label
    missing = run(home, tmp_path, "no-such-script.py")
    assert missing.returncode != 0 and "Traceback" not in missing.stderr
    assert "no-such-script.py" in missing.stderr


def test_a_file_read_before_a_checkpoint_that_changed_makes_it_unusable(
    home: Path, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    script = textwrap.dedent(
        """\
        import os
        with open("calls.txt", "a") as f: f.write("1\\n")
        # %%
        with open("calls.txt", "a") as f: f.write("2\\n")
        with open("data.txt") as f: words = f.read().split()
        # %%
        with open("calls.txt", "a") as f: f.write("3\\n")
        if os.path.exists("fail"):
            raise RuntimeError("not yet")
        print(len(words))
        """
    )
    write(work, script)
    (work / "data.txt").write_text("a b")
    (work / "fail").touch()
    assert run(home, work, "--checkpoint-after", "0", "job.py").returncode == 1
    (work / "fail").unlink()
    (work / "data.txt").write_text("a b c")
    again = run(home, work, "--checkpoint-after", "0", "job.py")
    assert again.returncode == 0, again.stderr
    assert again.stdout.split() == ["3"], "the new data, not the checkpoint's"
    assert calls(work) == [1, 2, 3, 2, 3], "cell 1's checkpoint was used, cell 2's was not"
    assert "checkpoint after cell 2 not used:" in again.stderr
    assert "data.txt changed since it was taken" in again.stderr
