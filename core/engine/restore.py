"""Restoring into a new interactive Python: the loading code and the interpreter to run it in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sessions.core.paths import session_home
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


def interpreter_for(entry: Entry) -> tuple[str, str | None]:
    """The snapshot's own interpreter when it still exists and can import sessions, else
    this one; the second item explains a fallback."""
    saved = entry.manifest.python.get("executable") if entry.manifest else None
    if saved and Path(saved).exists():
        if Path(saved).resolve() == Path(sys.executable).resolve() or _works(
            saved, "import sessions, core"
        ):
            return saved, None
        return sys.executable, f"{saved} cannot import sessions; using {sys.executable}"
    if saved:
        return sys.executable, f"{saved} no longer exists; using {sys.executable}"
    return sys.executable, None


def shell_command(executable: str, code: str, *, ipython: bool | None = None) -> list[str]:
    """argv for an interactive shell that first runs ``code``: IPython when installed."""
    if ipython is None:
        ipython = _works(executable, "import IPython")
    if ipython:
        return [executable, "-m", "IPython", "--no-banner", "-i", "-c", code]
    return [executable, "-i", "-c", code]
