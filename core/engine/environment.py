"""Where and in what a snapshot was taken: user, host, Python, origin, package versions."""

from __future__ import annotations

import getpass
import os
import platform
import socket
import sys
import warnings
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


_looked_up: set[str] = set()
_NOT_PACKAGES = frozenset({"builtins", "__main__", "core"})


@lru_cache(maxsize=4096)
def module_version(top: str) -> str | None:
    """The installed version of top-level module ``top``: its ``__version__``, else the
    version of the distribution of that name, else of the distribution next to the module
    that declares it (``top_level.txt``). Cheap: never a scan of every installed
    distribution (``packages_distributions()`` costs about a second on a big environment)."""
    if not top or top in getattr(sys, "stdlib_module_names", ()):
        return None
    _looked_up.add(top)
    module = sys.modules.get(top)
    version = _declared_version(module)
    if isinstance(version, str):
        return version
    import importlib.metadata

    try:
        return importlib.metadata.version(top)
    except (importlib.metadata.PackageNotFoundError, ValueError):
        pass
    file = getattr(module, "__file__", None) if module is not None else _origin(top)
    if not isinstance(file, str):
        return None
    where = Path(file).parent
    if Path(file).stem == "__init__":
        where = where.parent
    dist = _top_levels(str(where)).get(top)
    if dist is None:
        return None
    try:
        return importlib.metadata.version(dist)
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return None


def _origin(top: str) -> str | None:
    """Where module ``top`` would be imported from, without importing it."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    return spec.origin if spec is not None else None


@lru_cache(maxsize=64)
def _top_levels(directory: str) -> dict[str, str]:
    """``{top-level module: distribution}`` for the distributions installed in ``directory``
    (their ``top_level.txt``, else the first path parts of their ``RECORD``), read once per
    process and only for a module that neither declares a version nor names its
    distribution."""
    out: dict[str, str] = {}
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return out
    for entry in entries:
        if not entry.name.endswith((".dist-info", ".egg-info")):
            continue
        dist = entry.name.rsplit(".", 1)[0].split("-")[0]
        try:
            names = Path(entry.path, "top_level.txt").read_text().split()
        except OSError:
            try:
                record = Path(entry.path, "RECORD").read_text()
            except OSError:
                continue
            names = [line.split("/", 1)[0] for line in record.splitlines() if "/" in line]
        for name in names:
            out.setdefault(name.split("/")[0], dist)
    return out


def versions_of(modules: set[str]) -> dict[str, str]:
    """``{top-level module: version}`` for third-party modules among ``modules``."""
    out: dict[str, str] = {}
    for name in modules:
        top = (name or "").split(".")[0]
        if not top.isidentifier() or top in out or top in _NOT_PACKAGES:
            continue
        version = module_version(top)
        if version:
            out[top] = version
    return out


def imported_packages() -> dict[str, str]:
    """Versions of the third-party top-level modules the process has imported that declare
    one (``__version__``), plus any already looked up for saved values: the environment at
    a glance, without a metadata lookup per imported module on every first save."""
    out: dict[str, str] = {}
    stdlib = getattr(sys, "stdlib_module_names", ())
    for name, module in list(sys.modules.items()):
        if "." in name or name.startswith("_") or name in stdlib or name in _NOT_PACKAGES:
            continue
        version = _declared_version(module)
        if isinstance(version, str):
            out[name] = version
    out.update(versions_of(set(_looked_up)))
    return dict(sorted(out.items()))


def _declared_version(module: Any) -> object:
    """``module.__version__`` without the DeprecationWarning some packages (MarkupSafe)
    attach to reading it: the user did not ask for it, so they should not see it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return getattr(module, "__version__", None)
        except Exception:  # a module's __getattr__ may raise anything
            return None


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
            out["started"] = _started(shell)
        return out
    file = namespace.get("__file__")
    if isinstance(file, str) and file:
        return {"kind": "script", "path": str(Path(file).absolute())}
    if main is not None and namespace is vars(main):
        return {"kind": "interactive", "started": _started(None)}
    return {"kind": "namespace"}


_FIRST_ASKED: list[str] = []


def _started(shell: Any) -> str:
    """When this shell's session began (``YYYYMMDD-HHMMSS``, local time): IPython's history
    says; a plain Python prompt, or IPython without history, counts from the first time
    this process asked."""
    if shell is not None:
        try:
            began = shell.history_manager.get_session_info()[1]
            return str(began.strftime("%Y%m%d-%H%M%S"))
        except Exception:  # history off, or an unusual shell
            pass
    if not _FIRST_ASKED:
        import time

        _FIRST_ASKED.append(time.strftime("%Y%m%d-%H%M%S"))
    return _FIRST_ASKED[0]


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
