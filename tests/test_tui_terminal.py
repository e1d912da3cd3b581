"""End to end in a real terminal: the installed ``sessions-tui`` in tmux, driven by keys,
read from the screen — filter, open, preview a DataFrame, mark two variables, restore into
a new Python shell, check the shell, exit, and see the app again."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import flip_byte_of
from tmux import Tmux, requires_tmux

pytestmark = requires_tmux

SESSIONS_TUI = Path(sys.executable).parent / "sessions-tui"


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
        "HOME": os.environ["HOME"],  # demo_home's: the demo lies under it
    }
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env


def _filter_fitted(term: Tmux) -> None:
    term.wait("legacy-experiment.pkl")
    term.wait_focus("Snapshots")
    term.keys("/")
    term.wait("esc clears")  # the filter input is open (and focused)
    term.type("fitted")
    term.keys("Enter")
    screen = term.wait("1 shown")
    assert "churn-analysis@2" in screen and "churn-analysis@1" not in screen
    term.wait_focus("Snapshots")


def _open_marked_restore(term: Tmux) -> None:
    _filter_fitted(term)
    term.keys("Enter")  # open: focus moves to its variables
    term.wait_focus("Variables")
    term.keys("j", "j")  # rng, n -> customers
    screen = term.wait("customer_id")  # the DataFrame preview, as a table
    assert "2000×5" in screen and "monthly_spend" in screen
    term.keys("Space")  # mark customers (cursor moves on)
    # spend features config warehouse_url ChurnModel churn_rate clean -> model
    term.keys(*["j"] * 7)
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
        term.wait("loaded 3 variables from churn-analysis@2")
        term.type(
            "print('VARS', sorted(n for n in ('rng', 'customers', 'spend', 'clean', 'model', 'ChurnModel', 'config') if n in globals()), customers.shape, type(model).__name__)"
        )
        term.keys("Enter")
        screen = term.wait("VARS [")
        assert "VARS ['ChurnModel', 'customers', 'model'] (2000, 5) ChurnModel" in screen
        term.type("exit()")
        term.keys("Enter")
        screen = term.wait("Restored churn-analysis@2 into a new shell")
        assert "3 loaded" in screen
        term.keys("Escape")
        screen = term.wait_gone("into a new shell")
        assert "churn-analysis@2" in screen and "Variables" in screen
        assert "Traceback" not in screen
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
        term.wait("1 failed")
        term.type("exit()")
        term.keys("Enter")
        screen = term.wait("Why it failed")
        assert "model" in screen and "corrupt" in screen
        assert "Traceback" not in screen
        term.keys("Escape")
        term.wait_gone("Why it failed")
        term.keys("q")
        term.wait("APP-EXITED-0")
    finally:
        term.close()


def test_copying_under_tmux_without_set_clipboard_lands_in_tmux_buffer(
    terminal_env: dict[str, str], demo_home: Path
) -> None:
    """tmux's default set-clipboard drops the app's OSC 52: the text still reaches tmux's
    paste buffer (load-buffer), and the toast says that is where it went."""
    term = Tmux([str(SESSIONS_TUI)], terminal_env)
    try:
        option = subprocess.run(
            [*term.tmux, "show-options", "-gv", "set-clipboard"], capture_output=True, text=True
        )
        assert option.stdout.strip() != "on"
        _filter_fitted(term)
        term.keys("r")
        term.wait("Copy the loading code")
        term.keys("j", "Enter")  # new shell -> clipboard (no kernels run here)
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
    """With the daemon feeding live updates, q still ends the process (the live feed's thread
    does not hold it: the process would never exit and the wait below would fail)."""
    env = dict(os.environ, **terminal_env)
    done = subprocess.run(
        [str(SESSIONS_TUI), "daemon", "start"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    term = Tmux([str(SESSIONS_TUI)], terminal_env)
    try:
        term.wait("live")
        term.keys("q")
        term.wait("APP-EXITED-0")
    finally:
        term.close()
        subprocess.run(
            [str(SESSIONS_TUI), "daemon", "stop"], env=env, capture_output=True, check=False
        )
