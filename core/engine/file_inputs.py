"""Files a computation reads, seen as it runs, so a cached result is not used once they change.

While :func:`recording` is active, every file opened for reading only (``open``,
``io.open``, ``os.open``: Python's ``"open"`` audit event) is noted — files opened to write
or append are outputs, not inputs. Module files (imports), the interpreter's own files and
special files are left out. A cache entry keeps each input's size and modification time as
they were after the computation; :func:`unchanged` says whether they still are. Files read
by C code that bypasses Python's ``open`` are not seen.

The audit hook is installed on first use, and costs one comparison per audited event.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterable, Iterator
from typing import Any

MAX_FILES = 1000
_RECORDERS: list[set[str]] = []
_LOCK = threading.Lock()
_INSTALLED = False
_SKIP_SUFFIXES = (".py", ".pyc", ".pyi", ".so", ".pyd", ".pth")
_SPECIAL = ("/proc/", "/sys/", "/dev/")


def _read_only(mode: Any, flags: Any) -> bool:
    if isinstance(mode, str):
        return "r" in mode and not any(c in mode for c in "wax+")
    if isinstance(flags, int):
        return flags & (os.O_WRONLY | os.O_RDWR) == 0
    return False


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event != "open" or not _RECORDERS:
        return
    path, mode, flags = (*args, None, None, None)[:3]
    if not isinstance(path, (str, bytes, os.PathLike)) or not _read_only(mode, flags):
        return
    with contextlib.suppress(Exception):
        text = os.fsdecode(path)
        if text.endswith(_SKIP_SUFFIXES) or text.startswith(_SPECIAL):
            return
        where = os.path.abspath(text)
        if where.startswith(_prefixes()):
            return
        with _LOCK:
            for found in _RECORDERS:
                if len(found) < MAX_FILES:
                    found.add(where)


_PREFIXES: tuple[str, ...] | None = None


def _prefixes() -> tuple[str, ...]:
    global _PREFIXES
    if _PREFIXES is None:
        roots = {sys.prefix, sys.base_prefix, sys.exec_prefix}
        _PREFIXES = tuple(os.path.join(os.path.abspath(r), "") for r in roots if r)
    return _PREFIXES


@contextlib.contextmanager
def recording() -> Iterator[set[str]]:
    """Collect the absolute paths of the files read while the block runs."""
    global _INSTALLED
    if not _INSTALLED:
        sys.addaudithook(_hook)
        _INSTALLED = True
    found: set[str] = set()
    with _LOCK:
        _RECORDERS.append(found)
    try:
        yield found
    finally:
        with _LOCK:
            _RECORDERS.remove(found)


def stamps(paths: set[str], *, exclude: str | Iterable[str] | None = None) -> list[list[Any]]:
    """``[[path, size, mtime_ns], …]`` of the files that still exist (sorted), leaving out
    those under ``exclude`` (the session dir, the config dir: Sessions' own reads)."""
    out: list[list[Any]] = []
    dirs = [exclude] if isinstance(exclude, str) else list(exclude or [])
    skip = tuple(os.path.join(os.path.abspath(d), "") for d in dirs)
    for path in sorted(paths):
        if skip and path.startswith(skip):
            continue
        with contextlib.suppress(OSError):
            info = os.stat(path)
            out.append([path, info.st_size, info.st_mtime_ns])
    return out


def unchanged(recorded: Any) -> str | None:
    """None when every recorded file has its recorded size and modification time; else
    which one changed (the record is hostile input: malformed means changed)."""
    if recorded is None:
        return None
    if not isinstance(recorded, list):
        return "its list of files read is malformed"
    for item in recorded[:MAX_FILES]:
        if not (isinstance(item, list) and len(item) == 3 and isinstance(item[0], str)):
            return "its list of files read is malformed"
        path, size, mtime = item
        try:
            info = os.stat(path)
        except OSError:
            return f"{path} is gone"
        if info.st_size != size or info.st_mtime_ns != mtime:
            return f"{path} changed"
    return None
