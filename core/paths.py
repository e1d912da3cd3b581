"""Where Sessions keeps its files: the session dir, and the per-user config, log and runtime dirs.

On Linux the session and config dirs are the XDG base dirs, found here directly: that is
what platformdirs answers there, and importing platformdirs (which brings tempfile, shutil,
bz2, lzma and random along) would be most of a first load's fixed cost. Elsewhere, and for
the other dirs, platformdirs decides.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP = "sessions-tui"


def _xdg(variable: str, default: str) -> Path | None:
    """``$variable`` (or ``default`` when unset or blank) joined with the app's name, as
    platformdirs computes it on Linux; None elsewhere (Android, too, reports linux)."""
    if sys.platform != "linux" or os.environ.get("ANDROID_DATA"):
        return None
    base = os.environ.get(variable, "")
    if not base.strip():
        base = os.path.expanduser(default)
    return Path(base) / APP


def session_home() -> Path:
    """The session dir: ``$SESSIONS_HOME`` when set, else the platformdirs user data dir."""
    env = os.environ.get("SESSIONS_HOME")
    if env:
        return Path(env).expanduser().absolute()
    found = _xdg("XDG_DATA_HOME", "~/.local/share")
    if found is not None:
        return found
    import platformdirs

    return Path(platformdirs.user_data_dir(APP, appauthor=False))


def config_dir() -> Path:
    """The per-user config dir (keymaps, theme, keys, retention policy)."""
    env = os.environ.get("SESSIONS_CONFIG_DIR")
    if env:
        return Path(env).expanduser().absolute()
    found = _xdg("XDG_CONFIG_HOME", "~/.config")
    if found is not None:
        return found
    import platformdirs

    return Path(platformdirs.user_config_dir(APP, appauthor=False))


def log_dir() -> Path:
    """The per-user log dir."""
    env = os.environ.get("SESSIONS_LOG_DIR")
    if env:
        return Path(env).expanduser().absolute()
    import platformdirs

    return Path(platformdirs.user_log_dir(APP, appauthor=False))


def cache_dir() -> Path:
    """The per-user cache dir (catalogs, foreign-file scans): anything here can be deleted."""
    env = os.environ.get("SESSIONS_CACHE_DIR")
    if env:
        return Path(env).expanduser().absolute()
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP, appauthor=False))
