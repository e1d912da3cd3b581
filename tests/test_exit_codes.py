"""The command's exit code says what happened: 0 ok, 1 problems (or an error of the system or
of Sessions itself), 2 usage; the terminal UI's own code is passed through. Every error is one
line on stderr, never a traceback."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import child_env, cli
from tmux import Tmux, requires_tmux

import sessions


def _one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


def _main_with(home: Path, setup: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``sessions-tui ARGS`` in a fresh interpreter after ``setup`` has run (a fault put in)."""
    code = textwrap.dedent(setup) + (
        f"\nimport sys\nfrom sessions.tui import cli\nsys.exit(cli.main({list(args)!r}))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        env=child_env(home),
        cwd=home.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_version_names_the_release_and_the_interpreter(home: Path) -> None:
    done = cli(home, "--version")
    assert done.returncode == 0, done.stderr
    python = ".".join(map(str, sys.version_info[:3]))
    assert (
        done.stdout == f"sessions-tui {sessions.__version__} (Python {python}, {sys.executable})\n"
    )


@pytest.fixture
def demo_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "demo"
    monkeypatch.setenv("SESSIONS_DEMO_HOME", str(path))
    return path


def test_demo_no_open_builds_the_demo_and_lists_it(home: Path, demo_dir: Path) -> None:
    done = cli(home, "demo", "--no-open")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.startswith(f"demo session dir: {demo_dir}\n")
    for ref in ("churn-analysis@1", "churn-analysis@2", "demo-model@1", "legacy-experiment.pkl"):
        assert ref in done.stdout
    assert "variables" not in done.stdout  # the listing only, no snapshot shown


def test_demo_without_a_terminal_prints_the_listing_and_one_snapshot(
    home: Path, demo_dir: Path
) -> None:
    done = cli(home, "demo")  # stdin and stdout are pipes here: no UI to open
    assert done.returncode == 0, done.stderr
    assert "legacy-experiment.pkl" in done.stdout
    assert "demo-model@1  (" in done.stdout and "4 variables" in done.stdout
    assert not (home / "snapshots").exists()  # never the user's own session dir


def test_usage_errors_exit_2_with_one_line(home: Path) -> None:
    done = cli(home)  # the UI, but no terminal
    assert done.returncode == 2
    assert "needs a terminal" in _one_line(done.stderr)
    done = cli(home, "remote", "add")
    assert done.returncode == 2
    assert "needs NAME URL" in _one_line(done.stderr)
    done = cli(home, "frobnicate")
    assert done.returncode == 2 and "invalid choice: 'frobnicate'" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unexpected_error_is_one_line_and_its_traceback_a_file(
    home: Path, tmp_path: Path
) -> None:
    logs = tmp_path / "logs"
    fault = f"""
        import os
        os.environ["SESSIONS_LOG_DIR"] = {str(logs)!r}
        from sessions.tui import cli
        def broken(args, out):
            raise ValueError("a bug in ls")
        cli.COMMANDS["ls"] = broken
        """
    done = _main_with(home, fault, "ls")
    assert done.returncode == 1
    line = _one_line(done.stderr)
    assert line.startswith("sessions-tui: internal error: ValueError: a bug in ls (details in ")
    (crash,) = logs.glob("crash-*.txt")
    assert str(crash) in line
    text = crash.read_text()
    assert text.startswith(f"sessions-tui {sessions.__version__}")
    assert "Traceback" in text and "a bug in ls" in text


def test_an_error_of_the_system_is_one_line_naming_the_file(home: Path) -> None:
    fault = """
        from sessions.tui import cli
        def denied(args, out):
            raise PermissionError(13, "Permission denied", "/srv/team/blobs")
        cli.COMMANDS["gc"] = denied
        """
    done = _main_with(home, fault, "gc")
    assert done.returncode == 1
    assert _one_line(done.stderr) == "sessions-tui: Permission denied: /srv/team/blobs"


def test_a_reader_that_goes_away_is_no_error(home: Path) -> None:
    """``sessions-tui show REF --json | head -c 1``: more output than a pipe holds, the reader
    gone after one byte: exit 0 and nothing on stderr (no 'Exception ignored … BrokenPipe')."""
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sessions\nfor i in range(3000):\n    globals()[f'v{i}'] = i\nsessions.save('many')\n",
        ],
        env=child_env(home),
        capture_output=True,
        check=True,
    )
    reader = subprocess.Popen(
        [sys.executable, "-m", "sessions.tui.cli", "show", "many", "--json"],
        env=child_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert reader.stdout is not None and reader.stderr is not None
    assert reader.stdout.read(1) == b"{"
    reader.stdout.close()
    err = reader.stderr.read()
    assert reader.wait(timeout=120) == 0 and err == b""


@requires_tmux
def test_the_apps_exit_code_is_the_commands(home: Path, tmp_path: Path) -> None:
    """An app that stops on an error shows it and the command exits 1 (not 0); q exits 0."""
    crash = (
        "import sys\n"
        "from sessions.tui import app, cli\n"
        "def mount(self):\n"
        "    raise RuntimeError('the app broke while mounting')\n"
        "app.SessionsApp.on_mount = mount\n"
        "sys.exit(cli.main([]))\n"
    )
    env = {k: v for k, v in child_env(home).items() if k in _TERMINAL_ENV}
    env.update(TERM="xterm-256color", HOME=str(tmp_path))
    term = Tmux([sys.executable, "-c", crash], env)
    try:
        screen = term.wait("APP-EXITED-")
        assert "APP-EXITED-1" in screen and "the app broke while mounting" in screen
    finally:
        term.close()
    term = Tmux([sys.executable, "-m", "sessions.tui.cli"], env)
    try:
        term.wait("Snapshots")
        term.keys("q")
        term.wait("APP-EXITED-0")
    finally:
        term.close()


_TERMINAL_ENV = {
    "PATH",
    "PYTHONPATH",
    "SESSIONS_HOME",
    "SESSIONS_CONFIG_DIR",
    "SESSIONS_CACHE_DIR",
    "SESSIONS_LOG_DIR",
    "SESSIONS_RUNTIME_DIR",
    "TZ",
}
