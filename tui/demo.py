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

from sessions.core.errors import SessionsError
from sessions.core.paths import APP

MARKER = ".sessions-demo"


def demo_home() -> Path:
    env = os.environ.get("SESSIONS_DEMO_HOME")
    if env:
        return Path(env).expanduser().absolute()
    return Path(platformdirs.user_cache_dir(APP, appauthor=False)) / "demo"


def build_demo(home: Path | None = None, *, frozen: bool = False) -> Path:
    """(Re)build the demo dir in a fresh Python process, so its snapshots come from a script.
    ``frozen`` fixes ids, times and provenance (for screenshots and snapshot tests)."""
    home = home or demo_home()
    if home.exists():
        if not (home / MARKER).exists():
            raise SessionsError(f"{home} exists and is not a demo dir; set SESSIONS_DEMO_HOME")
        shutil.rmtree(home)
    home.mkdir(parents=True, mode=0o700)
    (home / MARKER).write_text("built by sessions-tui demo\n")
    env = dict(os.environ, SESSIONS_HOME=str(home))
    command = [sys.executable, "-m", "sessions.tui.demo_session"]
    if frozen:  # code objects carry their file name: give it one that is the same everywhere
        script = Path(__file__).with_name("demo_session.py")
        command = [sys.executable, "-c", _AS_FILE, str(script), FROZEN_SCRIPT]
    done = subprocess.run(
        command,
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
    if frozen:
        freeze(home)
    return home


FROZEN_SCRIPT = "/home/demo/churn/analysis.py"
# Runs a script as __main__ under another file name, its source kept in linecache so the
# previews can still show function and class source. Nothing of the runner's own is saved.
_AS_FILE = """
def _run():  # a function that deletes itself: none of its names land in the session
    import linecache, sys
    import __main__
    path, name = sys.argv[1:3]
    source = open(path, encoding="utf-8").read()
    linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    __main__.__file__ = name
    del __main__._run
    exec(compile(source, name, "exec"), __main__.__dict__)
_run()
"""

FROZEN_BASE = 1_767_261_600.0  # 2026-01-01 10:00 UTC: fixed times for screenshots and tests


def _fixed_id(seconds: float, salt: str) -> str:
    import blake3

    from sessions.core.store import ids

    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    head = ids.new_id(seconds)[:10]
    digest = blake3.blake3(salt.encode()).digest()
    return head + "".join(alphabet[b % 32] for b in digest[:16])


def freeze(home: Path) -> None:
    """Make a built demo deterministic: fixed ids, times and provenance (what screenshots
    and snapshot tests need). The data and previews stay as saved."""
    from dataclasses import replace

    from sessions.core.sharing.signing import sign
    from sessions.core.store.atomic import write_file
    from sessions.core.store.session_dir import Store

    store = Store(home)
    entries = sorted(store.entries(foreign=False), key=lambda e: (e.created, e.id))
    renamed: dict[str, str] = {}
    for index, entry in enumerate(entries):
        assert entry.manifest is not None
        manifest = entry.manifest
        created = FROZEN_BASE + index * 5400
        new_id = _fixed_id(created, manifest.ref)
        renamed[manifest.id] = new_id
        frozen = replace(  # re-signed below: freezing changes what was signed
            manifest,
            id=new_id,
            created=created,
            parent=renamed.get(manifest.parent or ""),
            user="demo",
            host="laptop",
            pid=4242,
            cwd="/home/demo/churn",
            python={
                "version": "3.12.4",
                "implementation": "CPython",
                "executable": "/usr/bin/python3",
                "platform": "Linux x86_64",
            },
            origin={"kind": "script", "path": FROZEN_SCRIPT},
            packages={"dill": "0.3.9", "numpy": "2.1.3", "pandas": "2.2.3"},
        )
        frozen = sign(frozen)
        entry.path.unlink()
        write_file(
            entry.path.parent / f"{manifest.version:06d}-{new_id}.msgpack", [frozen.encode()]
        )
    for path in store.foreign_paths():
        os.utime(path, (FROZEN_BASE + 86_400, FROZEN_BASE + 86_400))
