"""Where Sessions keeps its files: the session dir, and the per-user config, log and runtime dirs."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "sessions-tui"


def session_home() -> Path:
    """The session dir: ``$SESSIONS_HOME`` when set, else the platformdirs user data dir."""
    env = os.environ.get("SESSIONS_HOME")
    if env:
        return Path(env).expanduser().absolute()
    return Path(platformdirs.user_data_dir(APP, appauthor=False))


def config_dir() -> Path:
    """The per-user config dir (keymaps, theme, keys, retention policy)."""
    env = os.environ.get("SESSIONS_CONFIG_DIR")
    if env:
        return Path(env).expanduser().absolute()
    return Path(platformdirs.user_config_dir(APP, appauthor=False))


def log_dir() -> Path:
    """The per-user log dir."""
    env = os.environ.get("SESSIONS_LOG_DIR")
    if env:
        return Path(env).expanduser().absolute()
    return Path(platformdirs.user_log_dir(APP, appauthor=False))


def cache_dir() -> Path:
    """The per-user cache dir (catalogs, foreign-file scans): anything here can be deleted."""
    env = os.environ.get("SESSIONS_CACHE_DIR")
    if env:
        return Path(env).expanduser().absolute()
    return Path(platformdirs.user_cache_dir(APP, appauthor=False))
