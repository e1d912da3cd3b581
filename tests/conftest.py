"""Shared fixtures: a temp session dir, and real subprocesses for saving and restoring."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytest_plugins = ["daemons", "tui_fixtures", "jupyter_kernels"]


_RUN_DIR: Path | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Keep the user's real config dir (their signing key, trust list, remotes) out of the
    tests: one private config dir for the whole run, inherited by every child process. Caches,
    logs, daemon sockets and a failing SVG snapshot's report go to this run's own dir too: two
    runs share nothing, and nothing is left in the checkout."""
    import tempfile

    global _RUN_DIR
    _RUN_DIR = run = Path(tempfile.mkdtemp(prefix="sessions-test-"))
    if "SESSIONS_TEST_CONFIG" not in os.environ:
        (run / "config").mkdir(mode=0o700)
        os.environ["SESSIONS_TEST_CONFIG"] = str(run / "config")
    os.environ["SESSIONS_CONFIG_DIR"] = os.environ["SESSIONS_TEST_CONFIG"]
    for name in ("cache", "log", "runtime"):
        os.environ.setdefault(f"SESSIONS_{name.upper()}_DIR", str(run / name))
    if getattr(config.option, "snapshot_report", None) == "snapshot_report.html":
        config.option.snapshot_report = str(run / "snapshot_report.html")


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove this run's dir, unless it holds a snapshot report someone has to look at."""
    import shutil

    if _RUN_DIR is not None and not (_RUN_DIR / "snapshot_report.html").exists():
        shutil.rmtree(_RUN_DIR, ignore_errors=True)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh session dir, also set as SESSIONS_HOME for this process and its children."""
    path = tmp_path / "sessions-home"
    monkeypatch.setenv("SESSIONS_HOME", str(path))
    return path


def child_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["SESSIONS_HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env.pop("PYTHONSTARTUP", None)
    return env


def run_python(
    home: Path, code: str, *, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` as a script (``__main__``) in a fresh interpreter."""
    script = home.parent / f"script_{abs(hash(code))}.py"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(textwrap.dedent(code))
    done = subprocess.run(
        [sys.executable, str(script)],
        env=child_env(home),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=home.parent,
        check=False,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"child failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def run_json(home: Path, code: str) -> dict:
    """Run ``code`` in a fresh interpreter; its last stdout line is JSON."""
    done = run_python(home, code)
    return json.loads(done.stdout.strip().splitlines()[-1])


def cli(home: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The installed command, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "sessions.tui.cli", *args],
        env=child_env(home),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        check=False,
    )


def flip_byte_of(home: Path, digest: str) -> None:
    """Flip one bit in the middle of a stored object, wherever it lives (pack or blob file)."""
    from sessions.core.store.packs import Location
    from sessions.core.store.session_dir import Store

    where = Store(home).blobs.locate(digest)
    assert where is not None
    if isinstance(where, Location):
        path, at = Store(home).blobs.packs.path(where.pack), where.offset + where.length // 2
    else:
        path, at = where, where.stat().st_size // 2
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.chmod(0o600)
    path.write_bytes(bytes(data))
