"""End to end in a real terminal: the installed ``sessions-tui`` in tmux, driven by keys,
read from the screen — filter, open, preview a DataFrame, mark two variables, restore into
a new Python shell, check the shell, exit, and see the app again."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import flip_byte_of

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

SESSIONS_TUI = Path(sys.executable).parent / "sessions-tui"


class Tmux:
    def __init__(
        self,
        command: list[str],
        env: dict[str, str],
        size: tuple[int, int] = (150, 46),
        *,
        own_server: bool = False,
    ) -> None:
        self.name = f"sessions-e2e-{uuid.uuid4().hex[:8]}"
        # own_server: a private tmux server with tmux's defaults (no user config, so
        # set-clipboard is "external": applications' OSC 52 is dropped)
        self.tmux = ["tmux", "-L", self.name, "-f", "/dev/null"] if own_server else ["tmux"]
        exports = " ".join(f"{k}={_quote(v)}" for k, v in env.items())
        shell = (
            f"env {exports} {' '.join(_quote(c) for c in command)}; echo APP-EXITED-$?; sleep 30"
        )
        subprocess.run(
            [
                *self.tmux,
                "new-session",
                "-d",
                "-s",
                self.name,
                "-x",
                str(size[0]),
                "-y",
                str(size[1]),
                shell,
            ],
            check=True,
        )

    def screen(self) -> str:
        done = subprocess.run(
            [*self.tmux, "capture-pane", "-p", "-t", self.name], capture_output=True, text=True
        )
        return done.stdout

    def keys(self, *keys: str, literal: bool = False) -> None:
        args = [*self.tmux, "send-keys", "-t", self.name, *(["-l"] if literal else []), *keys]
        subprocess.run(args, check=True)
        time.sleep(0.15)

    def type(self, text: str) -> None:
        self.keys(text, literal=True)

    def wait(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared; screen was:\n{screen}")

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-session", "-t", self.name], capture_output=True)


def _quote(value: str) -> str:
    import shlex

    return shlex.quote(value)


@pytest.fixture
def terminal_env(demo_home: Path, tmp_path: Path) -> dict[str, str]:
    env = {
        "SESSIONS_HOME": str(demo_home),
        "SESSIONS_CONFIG_DIR": str(tmp_path / "config"),
        "SESSIONS_CACHE_DIR": str(tmp_path / "cache"),
        "SESSIONS_LOG_DIR": str(tmp_path / "logs"),
        "SESSIONS_RUNTIME_DIR": str(tmp_path / "run"),
        "TERM": "xterm-256color",
        "TZ": "UTC",
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
    }
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env


def _open_marked_restore(term: Tmux) -> None:
    term.wait("legacy-experiment.pkl")
    term.wait("Preview")
    term.keys("/")
    term.type("fitted")
    term.keys("Enter")
    screen = term.wait("1 shown")
    assert "churn-analysis@2" in screen and "churn-analysis@1" not in screen
    term.keys("Enter")  # open: focus moves to its variables
    for _ in range(2):  # rng, n -> customers
        term.keys("j")
    screen = term.wait("customer_id")  # the DataFrame preview, as a table
    assert "2000×5" in screen and "monthly_spend" in screen
    term.keys("Space")  # mark customers (cursor moves on)
    for _ in range(7):  # spend features config warehouse_url ChurnModel churn_rate clean -> model
        term.keys("j")
    term.keys("Space")
    term.wait("2 marked")
    term.keys("r")
    term.wait("Restores 2 marked variables (customers, model)")
    term.keys("Enter")  # new Python shell


def test_restore_marked_variables_into_a_new_shell_and_come_back(
    terminal_env: dict[str, str],
) -> None:
    term = Tmux([str(SESSIONS_TUI)], terminal_env)
    try:
        _open_marked_restore(term)
        term.wait("loaded 3 variables from churn-analysis@2", timeout=60)
        term.type(
            "print('VARS', sorted(n for n in ('rng', 'customers', 'spend', 'clean', 'model', 'ChurnModel', 'config') if n in globals()), customers.shape, type(model).__name__)"
        )
        term.keys("Enter")
        screen = term.wait("VARS [")
        assert "VARS ['ChurnModel', 'customers', 'model'] (2000, 5) ChurnModel" in screen
        term.type("exit()")
        term.keys("Enter")
        screen = term.wait("Restored churn-analysis@2 into a new shell", timeout=30)
        assert "3 loaded" in screen
        term.keys("Escape")
        deadline = time.monotonic() + 10
        while "into a new shell" in term.screen() and time.monotonic() < deadline:
            time.sleep(0.1)
        screen = term.wait("churn-analysis@2")
        assert "Variables" in screen and "Traceback" not in screen
        time.sleep(0.3)  # a key right after ESC would read as alt+key
        term.keys("q")
        term.wait("APP-EXITED-0")
    finally:
        term.close()


def test_a_failed_restore_shows_the_per_variable_report(
    terminal_env: dict[str, str], demo_home: Path
) -> None:
    from sessions.core.store.session_dir import Store

    manifest = Store(demo_home).latest("churn-analysis").manifest
    var = manifest.variable("model")
    flip_byte_of(demo_home, manifest.groups[var.group].stream.hash)
    term = Tmux([str(SESSIONS_TUI)], terminal_env)
    try:
        _open_marked_restore(term)
        term.wait("1 failed", timeout=60)
        term.type("exit()")
        term.keys("Enter")
        screen = term.wait("Why it failed", timeout=30)
        assert "model" in screen and "corrupt" in screen
        assert "Traceback" not in screen
        term.keys("Escape")
        deadline = time.monotonic() + 10
        while "Why it failed" in term.screen() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.3)  # a key right after ESC would read as alt+key
        term.keys("q")
        term.wait("APP-EXITED-0")
    finally:
        term.close()


def test_copying_under_tmux_without_set_clipboard_lands_in_tmux_buffer(
    terminal_env: dict[str, str], demo_home: Path
) -> None:
    """tmux's default set-clipboard drops the app's OSC 52: the text still reaches tmux's
    paste buffer (load-buffer), and the toast says that is where it went."""
    term = Tmux([str(SESSIONS_TUI)], terminal_env, own_server=True)
    try:
        option = subprocess.run(
            [*term.tmux, "show-options", "-gv", "set-clipboard"], capture_output=True, text=True
        )
        assert option.stdout.strip() != "on"
        term.wait("legacy-experiment.pkl")
        term.keys("/")
        term.type("fitted")
        term.keys("Enter")
        term.wait("1 shown")
        term.keys("r")
        term.wait("Copy the loading code")
        term.keys("j")  # new shell -> clipboard (no kernels run here)
        term.keys("Enter")
        term.wait("Loading code copied to tmux's")  # the toast (wrapped at 80 columns)
        buffer = subprocess.run(
            [*term.tmux, "show-buffer"], capture_output=True, text=True, check=True
        ).stdout
        from sessions.core.engine.restore import loading_code
        from sessions.core.store.session_dir import Store

        store = Store(demo_home)
        assert buffer == loading_code(store, store.latest("churn-analysis"), None)
    finally:
        term.close()


def test_quitting_while_live_is_prompt(terminal_env: dict[str, str], demo_home: Path) -> None:
    """With the daemon feeding live updates, q still ends the process at once."""
    env = dict(os.environ, **terminal_env)
    done = subprocess.run(
        [str(SESSIONS_TUI), "daemon", "start"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    term = Tmux([str(SESSIONS_TUI)], terminal_env)
    try:
        term.wait("live")
        started = time.monotonic()
        term.keys("q")
        term.wait("APP-EXITED-0", timeout=10)
        assert time.monotonic() - started < 5
    finally:
        term.close()
        subprocess.run(
            [str(SESSIONS_TUI), "daemon", "stop"], env=env, capture_output=True, check=False
        )
