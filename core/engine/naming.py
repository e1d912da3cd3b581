"""Default snapshot names: one per context — a notebook, a script, a kernel, a shell — so
unrelated work never interleaves as versions of one name.

- a notebook or a script: its file name (``orders`` for ``orders.ipynb``), unless that name
  already holds snapshots of another file; then ``orders-<6 hex of this file's path>``;
- a kernel whose notebook cannot be known (nbclient, papermill, ``jupyter console``):
  ``kernel-<first 8 characters of its id>``;
- an IPython shell or a Python prompt: ``ipython-<start time>`` / ``python-<start time>``
  (``YYYYMMDD-HHMMSS``, local time), qualified the same way if another process already
  used that name;
- anything else (a namespace passed in by code): ``session``.
"""

from __future__ import annotations

import re
from pathlib import Path

import blake3

from sessions.core.store.manifest import Manifest
from sessions.core.store.session_dir import Store


def _stem(path: str) -> str:
    stem = re.sub(r"[/\\@\x00-\x1f\x7f]", "_", Path(path).stem).lstrip(".")
    return stem[:120]


def base_name(origin: dict[str, str]) -> str:
    """The name a context's snapshots get when nothing else uses it."""
    kind = origin.get("kind", "")
    path = origin.get("notebook") or origin.get("path")
    if path and _stem(path):
        return _stem(path)
    if kind == "kernel" and origin.get("kernel_id"):
        return f"kernel-{_stem(origin['kernel_id'])[:8]}"
    if kind in ("ipython", "interactive") and origin.get("started"):
        prefix = "ipython" if kind == "ipython" else "python"
        return f"{prefix}-{origin['started']}"
    return "session"


def context(origin: dict[str, str], host: str, pid: int) -> str:
    """What makes two saves the same context: the file, the kernel, or the shell process."""
    kind = origin.get("kind", "")
    path = origin.get("notebook") or origin.get("path")
    if path:
        return f"file:{path}"
    if kind == "kernel" and origin.get("kernel_id"):
        return f"kernel:{origin['kernel_id']}"
    if kind in ("ipython", "interactive"):
        return f"shell:{host}:{pid}:{origin.get('started', '')}"
    return f"other:{kind}"


def _context_of(manifest: Manifest) -> str:
    return context(dict(manifest.origin), manifest.host, manifest.pid)


def default_name(origin: dict[str, str], store: Store, host: str, pid: int) -> str:
    """The name for a save that was given none (see the module doc)."""
    base = base_name(origin)
    if base == "session":
        return base
    mine = context(origin, host, pid)
    taken = store.latest(base)
    if taken is None or taken.manifest is None or _context_of(taken.manifest) == mine:
        return base
    return f"{base}-{blake3.blake3(mine.encode()).hexdigest()[:6]}"
