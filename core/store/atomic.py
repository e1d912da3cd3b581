"""Atomic, durable file writes: temp file in the same dir, fsync, rename, fsync the dir.

A reader therefore sees either the whole new file or nothing (invariant 2: complete or invisible).
Expendable files (cache entries) may skip the fsyncs: atomic while the machine runs, possibly
torn after a power loss, so their readers hash-check them and treat damage as absence.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import socket
from collections.abc import Iterable
from pathlib import Path

from sessions.core.errors import DiskFullError, StoreError

TEMP_PREFIX = ".tmp-"
FILE_MODE = 0o600
DIR_MODE = 0o700
HOST = re.sub(r"[^A-Za-z0-9-]+", "-", socket.gethostname())[:64] or "host"
_TEMP_RE = re.compile(r"^\.tmp-[0-9a-f]{16}\.(?P<pid>[0-9]{1,10})\.(?P<host>[A-Za-z0-9-]{1,64})$")


def temp_path(directory: Path) -> Path:
    """A fresh temp name inside ``directory``; temp names start with a dot and are never listed.
    The name says which process writes it (``.tmp-<random>.<pid>.<host>``), so that gc can
    tell a killed writer's leftover (its process gone) from a write still going on."""
    return directory / f"{TEMP_PREFIX}{os.urandom(8).hex()}.{os.getpid()}.{HOST}"


def temp_writer(name: str) -> tuple[int, str] | None:
    """(pid, host) of the process that made temp file ``name``; None for an older name."""
    match = _TEMP_RE.match(name)
    return (int(match.group("pid")), match.group("host")) if match else None


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (one of another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return pid > 0
    return True


def fsync_dir(directory: Path) -> None:
    """Make a rename or creation in ``directory`` durable."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some filesystems refuse fsync on dirs; the rename is still atomic
        pass
    finally:
        os.close(fd)


def ensure_dir(directory: Path) -> None:
    """Create ``directory`` and every missing parent, each 0700 whatever the umask
    (``mkdir -p`` would give the parents 0777 under umask 000)."""
    missing = []
    path = Path(directory)
    while not path.exists() and path.parent != path:
        missing.append(path)
        path = path.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=DIR_MODE)
        except FileExistsError:  # made meanwhile by another process
            continue
        except OSError as exc:
            raise StoreError(f"cannot create {path}: {exc.strerror or exc}") from None
        with contextlib.suppress(OSError):  # mkdir's mode is masked by the umask
            os.chmod(path, DIR_MODE)
    if not Path(directory).is_dir():
        raise StoreError(f"cannot create {directory}: a file of that name is in the way")


def os_error(exc: OSError, what: str) -> StoreError:
    """Turn an OSError into the library's one-line error, marking a full disk as such."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return DiskFullError(f"disk full while writing {what}; nothing partial was kept")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return StoreError(f"cannot write {what}: {exc.strerror} (check the session dir)")
    return StoreError(f"cannot write {what}: {exc.strerror or exc}")


def write_file(
    path: Path,
    chunks: Iterable[bytes | memoryview],
    *,
    sync_dir: bool = True,
    durable: bool = True,
) -> None:
    """Write ``chunks`` to ``path`` atomically; on any failure no temp file is left behind.
    ``durable=False`` skips every fsync: still atomic for readers while the machine runs,
    but a power loss may leave the file empty, torn or absent (for expendable files, whose
    readers check them)."""
    tmp = temp_path(path.parent)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except OSError as exc:
        raise os_error(exc, str(path)) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise os_error(exc, str(path)) from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if sync_dir and durable:
        fsync_dir(path.parent)
