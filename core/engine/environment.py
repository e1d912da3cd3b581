"""Where and in what a snapshot was taken: user, host, Python, origin, package versions."""

from __future__ import annotations

import getpass
import importlib.metadata
import os
import platform
import socket
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any


def user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def host() -> str:
    return socket.gethostname()


def python_info() -> dict[str, str]:
    return {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "platform": f"{platform.system()} {platform.machine()}",
    }


@lru_cache(maxsize=1)
def _distributions() -> dict[str, list[str]]:
    try:
        return dict(importlib.metadata.packages_distributions())
    except Exception:
        return {}


@lru_cache(maxsize=4096)
def module_version(top: str) -> str | None:
    """The installed version of the distribution providing top-level module ``top``."""
    if not top or top in getattr(sys, "stdlib_module_names", ()):
        return None
    module = sys.modules.get(top)
    version = getattr(module, "__version__", None)
    if isinstance(version, str):
        return version
    dists = _distributions().get(top)
    if dists:
        try:
            return importlib.metadata.version(dists[0])
        except importlib.metadata.PackageNotFoundError:
            pass
    return None


def versions_of(modules: set[str]) -> dict[str, str]:
    """``{top-level module: version}`` for third-party modules among ``modules``."""
    out: dict[str, str] = {}
    for name in modules:
        top = (name or "").split(".")[0]
        if not top or top in out or top in ("builtins", "__main__", "core"):
            continue
        version = module_version(top)
        if version:
            out[top] = version
    return out


def imported_packages() -> dict[str, str]:
    """Versions of every third-party top-level module the process has imported."""
    tops = {name.split(".")[0] for name in list(sys.modules) if not name.startswith("_")}
    return versions_of(tops)


def _ipython() -> Any:
    shell_mod = sys.modules.get("IPython")
    if shell_mod is None:
        return None
    try:
        return shell_mod.get_ipython()
    except Exception:
        return None


def _kernel_id() -> str | None:
    try:
        from ipykernel import get_connection_file  # type: ignore[import-not-found]

        name = Path(get_connection_file()).stem
    except Exception:
        return None
    return name[len("kernel-") :] if name.startswith("kernel-") else name


def jupyter_runtime() -> Path | None:
    """The Jupyter runtime dir (connection files, running servers), if jupyter is installed."""
    try:
        from jupyter_core.paths import jupyter_runtime_dir
    except ModuleNotFoundError:
        return None
    return Path(jupyter_runtime_dir())


def _server_get(server: dict[str, Any], api: str) -> Any:
    import json
    import urllib.request

    url = str(server.get("url", "")).rstrip("/") + "/" + api
    headers = {"Authorization": f"token {server.get('token', '')}"}
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=0.5) as reply:
        return json.loads(reply.read())


def server_kernels() -> dict[str, dict[str, str]]:
    """Kernels of the Jupyter servers running for this user: kernel id -> ``notebook``
    (absolute path) and ``state`` (idle, busy…), from their REST API. Best effort: a server
    that does not answer within half a second is skipped."""
    import glob
    import json

    runtime = jupyter_runtime()
    if runtime is None:
        return {}
    found: dict[str, dict[str, str]] = {}
    for path in glob.glob(str(runtime / "jpserver-*.json")):
        try:
            server = json.loads(Path(path).read_text())
            root = str(server.get("root_dir") or "")
            sessions = _server_get(server, "api/sessions")
            kernels = _server_get(server, "api/kernels")
        except (OSError, ValueError, KeyError, TypeError):
            continue
        for kernel in kernels if isinstance(kernels, list) else []:
            if isinstance(kernel, dict) and kernel.get("id"):
                found[kernel["id"]] = {"state": str(kernel.get("execution_state", "unknown"))}
        for session in sessions if isinstance(sessions, list) else []:
            kernel = session.get("kernel") or {}
            where = session.get("path") or (session.get("notebook") or {}).get("path")
            if kernel.get("id") and where:
                entry = found.setdefault(kernel["id"], {"state": "unknown"})
                entry["notebook"] = os.path.join(root, where) if root else where
    return found


_NOTEBOOKS: dict[str, str] = {}


def _server_notebook(kernel_id: str) -> str | None:
    """The notebook a Jupyter server runs ``kernel_id`` for. Found once, then remembered for
    the process, so automatic saves do not query the servers every time."""
    if kernel_id not in _NOTEBOOKS:
        found = server_kernels().get(kernel_id, {}).get("notebook")
        if found:
            _NOTEBOOKS[kernel_id] = found
    return _NOTEBOOKS.get(kernel_id)


def origin(namespace: dict[str, Any]) -> dict[str, str]:
    """Where the namespace lives: a notebook, a kernel, IPython, a script or the REPL."""
    shell = _ipython()
    main = sys.modules.get("__main__")
    if shell is not None and getattr(shell, "user_ns", None) is namespace:
        out: dict[str, str] = {}
        if type(shell).__module__.startswith("ipykernel"):
            out["kind"] = "kernel"
            kernel = _kernel_id()
            if kernel:
                out["kernel_id"] = kernel
            notebook = namespace.get("__vsc_ipynb_file__") or os.environ.get("JPY_SESSION_NAME")
            if not notebook and kernel:
                notebook = _server_notebook(kernel)
            if isinstance(notebook, str) and notebook:
                out["kind"] = "notebook"
                out["notebook"] = notebook
                out["path"] = notebook
        else:
            out["kind"] = "ipython"
        return out
    file = namespace.get("__file__")
    if isinstance(file, str) and file:
        return {"kind": "script", "path": str(Path(file).absolute())}
    if main is not None and namespace is vars(main):
        return {"kind": "interactive"}
    return {"kind": "namespace"}


def default_name(org: dict[str, str]) -> str:
    """A snapshot name when the user gave none: the script or notebook stem, else 'session'."""
    path = org.get("notebook") or org.get("path")
    if path:
        stem = Path(path).stem
        if stem:
            return stem
    return "session"


def history(namespace: dict[str, Any], limit: int = 2000) -> list[str]:
    """IPython input history when the namespace is an IPython shell's (else empty)."""
    shell = _ipython()
    if shell is None or getattr(shell, "user_ns", None) is not namespace:
        return []
    try:
        inputs = list(shell.history_manager.input_hist_raw)
    except Exception:
        return []
    inputs = [text for text in inputs if text and text.strip()]
    return [text[:20_000] for text in inputs[-limit:]]
