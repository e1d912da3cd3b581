"""Long work shows progress on a terminal: a 1 GiB session saved from a script, pushed and
pulled with ``sessions-tui``, and loaded in a restore shell, each captured mid-operation in
tmux — and nothing of it when the output is piped.

"Mid-operation" is made deterministic, not a timing guess: the child processes run with a
``sitecustomize`` that holds the second big object of the operation (its write, upload,
download or read) until the test has read the screen, so the capture always falls after the
first half and before the second.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from tmux import Tmux, requires_tmux

pytestmark = requires_tmux

SESSIONS_TUI = Path(sys.executable).parent / "sessions-tui"
HALF = 1 << 26  # float64 values in each of the two arrays: 512 MiB each, 1 GiB in all

HOLD = """
import os
if os.environ.get("SESSIONS_TEST_HOLD"):
    import importlib, pathlib, threading, time
    where = pathlib.Path(os.environ["SESSIONS_TEST_HOLD_DIR"])
    targets = {
        "put": ("sessions.core.store.blobs", "BlobStore", "put",
                lambda self, data, *a, **k: memoryview(data).nbytes),
        "read": ("sessions.core.store.blobs", "BlobStore", "_read_file",
                 lambda self, digest, path, *a, **k: path.stat().st_size),
        "write": ("sessions.core.sharing.remote", "_Folder", "write",
                  lambda self, path, data, *a, **k: len(data)),
        "fetch": ("sessions.core.sharing.remote", "_Folder", "read",
                  lambda self, path, *a, **k: (self.root / path).stat().st_size),
    }
    module, owner, name, size_of = targets[os.environ["SESSIONS_TEST_HOLD"]]
    cls = getattr(importlib.import_module(module), owner)
    original = getattr(cls, name)
    seen = [0]
    lock = threading.Lock()

    def held(*args, **kwargs):
        if size_of(*args, **kwargs) >= 128 << 20:
            with lock:
                seen[0] += 1
                second = seen[0] == 2
            if second:  # the first big object is done: hold the second until told
                (where / "held").touch()
                while not (where / "release").exists():
                    time.sleep(0.05)
        return original(*args, **kwargs)

    setattr(cls, name, held)
"""

SAVE = f"""
import numpy as np, sessions
rng = np.random.default_rng(1)
first = rng.random({HALF})
second = rng.random({HALF})
print(sessions.save("big"))
"""


class Held:
    """One held operation in tmux: its screen while held, then its screen when done."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.tmp_path = tmp_path
        self.env = env
        self.count = 0

    def run(self, command: list[str], hold: str, done: str) -> tuple[str, str]:
        self.count += 1
        gate = self.tmp_path / f"gate-{self.count}"
        gate.mkdir()
        env = dict(self.env, SESSIONS_TEST_HOLD=hold, SESSIONS_TEST_HOLD_DIR=str(gate))
        terminal = Tmux(command, env, size=(150, 30))
        try:
            deadline = time.monotonic() + 300
            while not (gate / "held").exists():
                assert time.monotonic() < deadline, f"never held; screen:\n{terminal.screen()}"
                assert "APP-EXITED" not in terminal.screen(), terminal.screen()
                time.sleep(0.1)
            # the display redraws from its own thread at 10/s: wait for the held state
            middle = terminal.wait("512.0 MiB of 1.0 GiB", timeout=30)
            (gate / "release").touch()
            end = terminal.wait(done, timeout=300)
            return middle, end
        finally:
            terminal.close()


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``sessions-tui`` with its output piped (not a terminal)."""
    return subprocess.run(
        [str(SESSIONS_TUI), *args], env=env, capture_output=True, text=True, timeout=300
    )


def _bar(screen: str, label: str) -> str:
    """The progress line for ``label`` on ``screen``."""
    for line in screen.splitlines():
        if label in line and "%" in line:
            return line
    raise AssertionError(f"no progress line for {label!r}:\n{screen}")


def _halfway(line: str) -> None:
    percent = int(re.search(r"(\d+)%", line).group(1))
    assert 0 < percent < 100, line
    assert "512.0 MiB of 1.0 GiB" in line, line  # binary units, labelled as such


def test_a_1gib_save_push_pull_and_load_each_show_progress_mid_operation(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(HOLD)
    home = tmp_path / "home"
    config = tmp_path / "config"
    env = {
        "SESSIONS_HOME": str(home),
        "SESSIONS_CONFIG_DIR": str(config),
        "PYTHONPATH": str(site),
        "PATH": os.environ.get("PATH", ""),
        "TERM": "xterm-256color",
        "HOME": str(tmp_path),
        # the test process may carry COLUMNS/LINES of another size (pytest sets them)
        "COLUMNS": "150",
        "LINES": "30",
    }
    (tmp_path / "save_big.py").write_text(SAVE)
    held = Held(tmp_path, env)

    middle, end = held.run([sys.executable, str(tmp_path / "save_big.py")], "put", "saved big@1")
    line = _bar(middle, "save big")
    _halfway(line)
    assert "of 3 variables" in line, line  # first, second and rng (numpy is an import)
    assert "1.0 GiB written" in end

    remote = tmp_path / "remote"
    plain = dict(os.environ, SESSIONS_HOME=str(home), SESSIONS_CONFIG_DIR=str(config))
    added = _cli(plain, "remote", "add", "team", str(remote))
    assert added.returncode == 0, added.stderr

    tui = str(SESSIONS_TUI)
    middle, end = held.run([tui, "push", "big", "team", "--owner", "alice"], "write", "pushed")
    _halfway(_bar(middle, "push big"))
    assert "pushed alice/big@1 to team" in end

    other = tmp_path / "other-home"
    middle, end = held.run(
        [tui, "--home", str(other), "pull", "alice/big", "team"], "fetch", "pulled"
    )
    _halfway(_bar(middle, "pull alice/big"))
    assert "pulled alice/big@1" in end

    # load: the restore shell loads the snapshot (its bar appears once loading takes 1 s)
    middle, end = held.run([tui, "restore", "big"], "read", "loaded")
    _halfway(_bar(middle, "load"))
    assert "loaded 3 variables from big@1" in end

    # piped, the same command draws nothing: stderr holds no bar, stdout only the result
    piped = _cli(plain, "push", "big", "team", "--owner", "bob")
    assert piped.returncode == 0 and piped.stderr == "", piped.stderr
    assert piped.stdout.startswith("pushed bob/big@1 to team")
