"""A realistic, deterministic session dir for UI tests: the demo, frozen.

Every test gets its own copy under its own temp dir, set as ``HOME``, at the place where
``sessions-tui demo`` puts it on Linux: the UI shows it as ``~/.cache/sessions-tui/demo``
whatever the temp dir is, so screens are the same in every run and two runs share nothing.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

DEMO_DIR = "sessions-demo"  # under a private HOME: the header shows ~/sessions-demo in every run


@pytest.fixture(scope="session")
def frozen_demo_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The frozen demo, built once per run."""
    from sessions.tui.demo import build_demo

    return build_demo(tmp_path_factory.mktemp("demo-src") / "demo", frozen=True)


def copy_demo(source: Path, home: Path) -> Path:
    """A fresh copy of the frozen demo at ``home/sessions-demo``: with ``HOME`` set to
    ``home`` the UI shows it as ``~/sessions-demo``, the same in every run (no fixed path, so
    runs in parallel never share one)."""
    target = home / DEMO_DIR
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, symlinks=True)
    for path in target.rglob("*.pkl"):
        os.utime(path, (1_767_348_000, 1_767_348_000))
    return target


@pytest.fixture
def demo_home(frozen_demo_source: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A fresh copy of the frozen demo under a private HOME, with private daemon/config dirs."""
    home = tmp_path / "home"
    demo = copy_demo(frozen_demo_source, home)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(home)  # dialogs offering the current directory show ~
    monkeypatch.setenv("SESSIONS_HOME", str(demo))
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
    return demo


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
