"""The code stays ruff clean and core/ type-checks with mypy."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from conftest import ROOT


def test_ruff_is_clean() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_core_type_checks() -> None:
    if shutil.which("mypy") is None:
        pytest.skip("mypy not installed")
    done = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_core_imports_neither_ui_nor_daemon() -> None:
    offenders = []
    for path in (ROOT / "core").rglob("*.py"):
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith(
                (
                    "import sessions.tui",
                    "from sessions.tui",
                    "import sessions.daemon",
                    "from sessions.daemon",
                )
            ):
                offenders.append(f"{path.name}: {stripped}")
    assert offenders == []
