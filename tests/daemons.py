"""Running the real daemon as a subprocess on a temp session dir, for tests."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import ROOT, child_env


@pytest.fixture
def daemon_env(home: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Private runtime, cache and log dirs (short paths: sockets have a length limit)."""
    runtime = Path(tempfile.mkdtemp(prefix="srt-"))
    monkeypatch.setenv("SESSIONS_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("SESSIONS_CACHE_DIR", str(home.parent / "cache"))
    monkeypatch.setenv("SESSIONS_LOG_DIR", str(home.parent / "logs"))
    monkeypatch.setenv("SESSIONS_CONFIG_DIR", str(home.parent / "config"))
    home.mkdir(parents=True, exist_ok=True)
    return child_env(home)


class RunningDaemon:
    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home = home
        self.env = env
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sessions.daemon", "run", "--home", str(home), "--detached"],
            env=env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.wait_ready()

    def wait_ready(self, timeout: float = 60) -> dict:
        from sessions.daemon.client import status

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = status(self.home)
            if info is not None and info.get("ready"):
                return info
            if self.process.poll() is not None:
                raise AssertionError(f"daemon exited: {self.process.stderr.read().decode()}")
            time.sleep(0.05)
        raise AssertionError("daemon did not become ready")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


@pytest.fixture
def running_daemon(home: Path, daemon_env: dict[str, str]):
    daemon = RunningDaemon(home, daemon_env)
    try:
        yield daemon
    finally:
        daemon.stop()


def wait_for(predicate, timeout: float = 30, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def catalog_ids(home: Path) -> set[str]:
    from sessions.core.store.catalog import Catalog, catalog_path

    catalog = Catalog(catalog_path(home), readonly=True)
    try:
        return {r.id for r in catalog.rows() if r.kind == "snapshot" and not r.damaged}
    finally:
        catalog.close()


def disk_ids(home: Path) -> set[str]:
    from sessions.core.store.session_dir import Store

    return {i for _, i, _ in Store(home).manifest_files()}


__all__ = [
    "RunningDaemon",
    "catalog_ids",
    "daemon_env",
    "disk_ids",
    "os",
    "running_daemon",
    "wait_for",
]
