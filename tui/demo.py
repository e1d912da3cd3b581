"""``sessions-tui demo``: a separate session dir with realistic snapshots to explore.

The demo dir is never the user's own session dir: ``$SESSIONS_DEMO_HOME`` or the user cache
dir of sessions-tui plus ``/demo``. It is rebuilt on each run (only if it carries the demo
marker, so nothing else is ever removed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import platformdirs

from core.errors import SessionsError
from core.paths import APP

MARKER = ".sessions-demo"


def demo_home() -> Path:
    env = os.environ.get("SESSIONS_DEMO_HOME")
    if env:
        return Path(env).expanduser().absolute()
    return Path(platformdirs.user_cache_dir(APP, appauthor=False)) / "demo"


def build_demo(home: Path | None = None) -> Path:
    """(Re)build the demo dir in a fresh Python process, so its snapshots come from a script."""
    home = home or demo_home()
    if home.exists():
        if not (home / MARKER).exists():
            raise SessionsError(f"{home} exists and is not a demo dir; set SESSIONS_DEMO_HOME")
        shutil.rmtree(home)
    home.mkdir(parents=True, mode=0o700)
    (home / MARKER).write_text("built by sessions-tui demo\n")
    env = dict(os.environ, SESSIONS_HOME=str(home))
    root = Path(__file__).resolve().parent.parent
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH", "")]))
    done = subprocess.run(
        [sys.executable, "-m", "tui.demo_session"],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["unknown error"])[-1]
        if "No module named" in last:
            last += " (install the demo extras: pip install 'sessions-tui[demo]')"
        raise SessionsError(f"building the demo failed: {last}")
    return home
