"""Where a daemon's socket, lock and log live for a given session dir."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import blake3

from sessions.core.errors import SessionsError
from sessions.core.paths import log_dir
from sessions.core.store.atomic import ensure_dir

_MAX_SOCKET_PATH = 100  # sun_path is 104-108 bytes depending on the OS
_ENV = "SESSIONS_RUNTIME_DIR"


def key(root: Path) -> str:
    return blake3.blake3(str(Path(root).absolute()).encode()).hexdigest()[:12]


class RuntimeDirError(SessionsError):
    """The dir for the daemon's socket and lock cannot be used safely."""


def service_pythonpath() -> str | None:
    """What a service manager must set as PYTHONPATH for ``python -m sessions.daemon`` to find
    this installation: this process's PYTHONPATH when ``sessions`` was found through it, else
    None (a wheel or an editable install is found through the interpreter's own site dirs;
    a dir inside the package would make its ``core/`` and ``daemon/`` top-level names)."""
    import sessions

    value = os.environ.get("PYTHONPATH", "")
    where = Path(sessions.__file__).resolve().parent.parent
    entries = [Path(p).resolve() for p in value.split(os.pathsep) if p]
    return value if where in entries else None


def _private_dir(path: Path) -> Path:
    """``path`` as a dir only this user can use: created 0700 (parents too), refused when
    it is a symlink or belongs to someone else — another user could have made it first,
    in a shared temp dir, to see or take over the daemon's socket."""
    ensure_dir(path)
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise RuntimeDirError(f"{path} is not a plain directory; remove it or set {_ENV}")
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise RuntimeDirError(
            f"{path} belongs to another user (uid {info.st_uid}), so the daemon cannot keep "
            f"its socket there; remove it or set {_ENV} to a dir of your own"
        )
    if info.st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


def runtime_dir() -> Path:
    """A private (0700) dir for sockets and locks: ``$SESSIONS_RUNTIME_DIR``, else
    ``$XDG_RUNTIME_DIR/sessions-tui``, else a per-user dir under the temp dir."""
    env = os.environ.get("SESSIONS_RUNTIME_DIR")
    if env:
        return _private_dir(Path(env).expanduser())
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and Path(xdg).is_dir():
        return _private_dir(Path(xdg) / "sessions-tui")
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return _private_dir(Path(tempfile.gettempdir()) / f"sessions-tui-{uid}")


def socket_path(root: Path) -> Path:
    path = runtime_dir() / f"{key(root)}.sock"
    if len(str(path)) > _MAX_SOCKET_PATH:
        uid = os.getuid() if hasattr(os, "getuid") else 0
        path = _private_dir(Path("/tmp") / f"sessions-tui-{uid}") / f"{key(root)}.sock"
    return path


def lock_path(root: Path) -> Path:
    return runtime_dir() / f"{key(root)}.lock"


def log_path(root: Path) -> Path:
    return log_dir() / f"daemon-{key(root)}.log"
