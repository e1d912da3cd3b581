"""A realistic, deterministic session dir for UI tests: the demo, frozen."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

FROZEN_DEMO = Path("/tmp/sessions-tui-test-demo")  # fixed: the path shows in the header


@pytest.fixture(scope="session")
def frozen_demo_source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The frozen demo, built once per run. The fixed path it is copied to is shared by every
    test run on this machine, so a run holds a lock on it until it ends: a second run waits
    instead of overwriting the first one's demo under its feet."""
    import fcntl

    from sessions.tui.demo import build_demo

    with open(f"{FROZEN_DEMO}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        built = tmp_path_factory.mktemp("demo-src") / "demo"
        yield build_demo(built, frozen=True)


@pytest.fixture
def demo_home(frozen_demo_source: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A fresh copy of the frozen demo at a fixed path, with private daemon/config dirs."""
    shutil.rmtree(FROZEN_DEMO, ignore_errors=True)
    shutil.copytree(frozen_demo_source, FROZEN_DEMO, symlinks=True)
    for path in FROZEN_DEMO.rglob("*.pkl"):
        os.utime(path, (1_767_348_000, 1_767_348_000))
    monkeypatch.setenv("SESSIONS_HOME", str(FROZEN_DEMO))
    config = tmp_path / "config"
    config.mkdir()
    from sessions.core.sharing.identity import key_path

    shutil.copy2(key_path(), config / "identity.key")  # the key the frozen demo is signed with
    monkeypatch.setenv("SESSIONS_CONFIG_DIR", str(config))
    monkeypatch.setenv("SESSIONS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SESSIONS_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "jupyter-runtime"))  # no kernels
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    return FROZEN_DEMO


def damage_one(home: Path, name: str = "demo-model") -> Path:
    """Cut the manifest of ``name``'s latest version short: a damaged snapshot (always the
    same bytes, so the error shown is the same in every run)."""
    from sessions.core.store.session_dir import Store

    entry = Store(home).latest(name)
    assert entry is not None
    temp = entry.path.with_name(".damage")
    temp.write_bytes(b"\x8a\xa6format\xb1sessions.manifest\xa6schema")
    os.replace(temp, entry.path)  # at once: a reader never sees it half written
    return entry.path
