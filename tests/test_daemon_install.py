"""Starting at login: the generated service files are valid for their service managers."""

from __future__ import annotations

import plistlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, child_env


def _dry_run(home: Path) -> dict[str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "sessions.tui.cli", "daemon", "install", "--dry-run"],
        env=child_env(home),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    sections: dict[str, str] = {}
    current = None
    for line in done.stdout.splitlines(keepends=True):
        if line.startswith("# ") and ": would write " in line:
            current = line[2:].split(":")[0]
            sections[current] = ""
        elif current:
            sections[current] += line
    return sections


def test_dry_run_prints_a_unit_a_plist_and_a_startup_script(home: Path) -> None:
    files = _dry_run(home)
    assert set(files) == {"systemd", "launchd", "windows"}
    plist = plistlib.loads(files["launchd"].strip().encode())
    assert plist["RunAtLoad"] is True and plist["KeepAlive"] is True
    assert plist["ProgramArguments"][-3:] == ["run", "--home", str(home)]
    unit = files["systemd"]
    assert "ExecStart=" in unit and "WantedBy=default.target" in unit and str(home) in unit
    assert '"run" "--home"' in files["windows"] and 'start "" /min' in files["windows"]


def test_systemd_unit_passes_systemd_analyze(home: Path, tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    unit = tmp_path / "sessions-tui-daemon.service"
    unit.write_text(_dry_run(home)["systemd"])
    done = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_install_writes_the_unit_and_uninstall_removes_it(home: Path, tmp_path: Path) -> None:
    env = child_env(home)
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    env["PATH"] = "/nonexistent"  # no systemctl: install must still write the file and say so
    run = [sys.executable, "-m", "sessions.tui.cli", "daemon"]
    done = subprocess.run(
        [*run, "install"], env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    written = list((tmp_path / "xdg" / "systemd" / "user").glob("*.service"))
    assert len(written) == 1 and f"wrote {written[0]}" in done.stdout
    assert "next login" in done.stdout
    done = subprocess.run(
        [*run, "uninstall"], env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and not written[0].exists()
