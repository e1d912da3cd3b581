"""Restoring into a new interactive Python: the loading code and the interpreter to run it in.

The interpreter is ``sys.executable`` unless the snapshot is the user's own (signed by their
key) and names a Python this machine vouches for: a snapshot pulled from anyone names any
program it likes, and naming is not a reason to run it (DESIGN invariant 8).
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

from sessions.core.paths import session_home
from sessions.core.sharing import signing
from sessions.core.store.session_dir import Entry, Store


def loading_code(
    store: Store, entry: Entry, names: list[str] | None = None, *, trust: bool = False
) -> str:
    """Python code that loads ``entry`` (or ``names`` of it) into ``__main__``; a refusal
    (untrusted signer, damage) prints one line instead of a traceback."""
    args = [repr(entry.id if entry.kind == "snapshot" else str(entry.path))]
    if names:
        args.append(f"names={names!r}")
    if trust:
        args.append("trust=True")
    if store.root.absolute() != session_home().absolute() or os.environ.get("SESSIONS_HOME"):
        args.append(f"home={str(store.root.absolute())!r}")
    return (
        "import sessions\n"
        "try:\n"
        f"    _sessions_report = sessions.load({', '.join(args)})\n"
        "    print(_sessions_report)\n"
        "except sessions.SessionsError as _sessions_error:\n"
        "    print(f'sessions: {_sessions_error}')\n"
    )


def _works(executable: str, check: str) -> bool:
    try:
        done = subprocess.run(
            [executable, "-c", check],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


_PYTHON_NAME = re.compile(r"^python[0-9.]*$")


def vouched_interpreter(entry: Entry) -> tuple[str | None, str | None]:
    """The interpreter ``entry`` names, when this machine vouches for it, else None; the
    second item says why it is not used.

    A manifest's word is never enough (invariant 8): the snapshot must be validly signed by
    the user's own key (so this user's sessions recorded that path), and the path must be an
    existing, absolute, executable regular file named ``python…``, owned by the user or root
    and writable by no one else. Nothing is run to decide this.
    """
    manifest = entry.manifest
    saved = manifest.python.get("executable") if manifest is not None else None
    if not isinstance(saved, str) or not saved:
        return None, None
    if signing.signer(manifest).who != "you":  # type: ignore[arg-type]
        return None, f"{entry.ref} was not saved by you, so the interpreter it names is not run"
    path = Path(saved)
    if not path.is_absolute() or not _PYTHON_NAME.match(path.name):
        return None, f"{saved!r} does not look like a Python interpreter"
    try:
        real = path.resolve(strict=True)
        info = real.stat()
    except (OSError, RuntimeError):
        return None, f"{saved} no longer exists"
    if not stat.S_ISREG(info.st_mode) or not os.access(real, os.X_OK):
        return None, f"{saved} is not an executable file"
    if info.st_uid not in (0, os.getuid()) or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return None, f"{saved} is owned or writable by another user"
    return saved, None


def interpreter_for(entry: Entry) -> tuple[str, str | None]:
    """The snapshot's own interpreter when this machine vouches for it (see
    :func:`vouched_interpreter`) and it can import sessions, else this one
    (``sys.executable``); the second item explains a fallback."""
    saved = entry.manifest.python.get("executable") if entry.manifest else None
    if not isinstance(saved, str) or not saved:
        return sys.executable, None
    with contextlib.suppress(OSError, RuntimeError):
        if Path(saved).resolve() == Path(sys.executable).resolve():
            return sys.executable, None
    vouched, why = vouched_interpreter(entry)
    if vouched is None:
        return sys.executable, f"{why}; using {sys.executable}" if why else None
    if _works(vouched, "import sessions"):
        return vouched, None
    return sys.executable, f"{vouched} cannot import sessions; using {sys.executable}"


def shell_command(executable: str, code: str, *, ipython: bool | None = None) -> list[str]:
    """argv for an interactive shell that first runs ``code``: IPython when installed."""
    if ipython is None:
        ipython = _works(executable, "import IPython")
    if ipython:
        return [executable, "-m", "IPython", "--no-banner", "-i", "-c", code]
    return [executable, "-i", "-c", code]
