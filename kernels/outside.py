"""Running kernels, from outside: list them, snapshot one, restore into one.

Kernels are found by their connection files in the Jupyter runtime dir (``kernel-*.json``);
a Jupyter server's ``jpserver-*.json`` there says which notebook each of its kernels runs
and whether it is busy. Work is sent as a *silent* execute request (``silent=True``,
``store_history=False``): nothing appears in the notebook, its history or its output. The
code runs inside a function and hands its result back through ``user_expressions``, so the
user's namespace is left as it was (the snapshot's variables aside, when restoring).

A busy kernel queues the request behind the running cell. The caller is told it is waiting
and may cancel: the queued code first checks for a cancel file the caller creates, so a
cancelled request does nothing when its turn comes.
"""

from __future__ import annotations

import ast
import contextlib
import glob
import json
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sessions.core.engine.environment import jupyter_runtime, server_kernels
from sessions.core.errors import RefError, SessionsError


class KernelError(SessionsError):
    """A kernel that cannot be reached, or lacks what is needed."""


class KernelRefError(RefError):
    """A kernel reference that names no running kernel, or several."""


class Cancelled(SessionsError):
    """The caller cancelled while the kernel was busy."""


@dataclass(frozen=True)
class RunningKernel:
    id: str
    connection_file: str
    notebook: str | None = None
    state: str = "unknown"  # idle, busy, starting, unknown (a Jupyter server says which)

    @property
    def label(self) -> str:
        where = f" — {self.notebook}" if self.notebook else ""
        state = f" ({self.state})" if self.state != "unknown" else ""
        return f"kernel {self.id[:8]}{where}{state}"


_NEED_CLIENT = (
    "talking to Jupyter kernels needs jupyter_client: pip install 'sessions-tui[jupyter]'"
)


def runtime_dir() -> Path:
    path = jupyter_runtime()
    if path is None:
        raise KernelError(_NEED_CLIENT)
    return path


def list_kernels() -> list[RunningKernel]:
    """Kernels with a connection file in the runtime dir, newest first."""
    files = glob.glob(str(runtime_dir() / "kernel-*.json"))
    files.sort(key=lambda p: os.path.getmtime(p) if os.path.exists(p) else 0, reverse=True)
    known = server_kernels() if files else {}
    out = []
    for path in files:
        kernel_id = Path(path).stem[len("kernel-") :]
        info = known.get(kernel_id, {})
        out.append(
            RunningKernel(kernel_id, path, info.get("notebook"), info.get("state", "unknown"))
        )
    return out


def find_kernel(spec: str) -> RunningKernel:
    """A kernel id, a unique id prefix, or a connection file path."""
    if spec.endswith(".json") and os.path.exists(spec):
        stem = Path(spec).stem
        return RunningKernel(stem.removeprefix("kernel-"), str(Path(spec).absolute()))
    kernels = list_kernels()
    exact = [k for k in kernels if k.id == spec]
    matches = exact or [k for k in kernels if k.id.startswith(spec)]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise KernelRefError(
            f"'{spec}' matches {len(matches)} kernels: " + ", ".join(k.id for k in matches)
        )
    running = ", ".join(k.id[:8] for k in kernels[:5]) or "none"
    raise KernelRefError(
        f"no running kernel matches '{spec}' (in {runtime_dir()}: {running}); "
        "give a kernel id, a unique id prefix or a connection file"
    )


# --- running code in a kernel ----------------------------------------------------------------
_WRAP = """
def __sessions_run():
    import os
    if os.path.exists({cancel!r}):
        return None
    import json, sys
    try:
        import sessions
    except ImportError:
        return json.dumps({{"missing": sys.executable}})
    from IPython import get_ipython
    ns = get_ipython().user_ns
    try:
{body}
    except sessions.SessionsError as exc:
        return json.dumps({{"error": str(exc)}})
__sessions_out = __sessions_run()
del __sessions_run
"""


def run_in_kernel(
    kernel: RunningKernel,
    body: str,
    *,
    on_wait: Callable[[str], None] | None = None,
    timeout: float | None = None,
    cancel: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Run ``body`` (statements that ``return json.dumps(...)``, indented 8, with ``ns`` the
    user namespace) silently in ``kernel``; the decoded JSON it returned."""
    try:
        from jupyter_client import BlockingKernelClient
    except ModuleNotFoundError:
        raise KernelError(_NEED_CLIENT) from None
    client = BlockingKernelClient(connection_file=kernel.connection_file)
    try:
        client.load_connection_file()
    except (OSError, ValueError) as exc:
        raise KernelError(
            f"cannot read the connection file of kernel {kernel.id[:8]}: {exc}"
        ) from None
    cancel_file = os.path.join(tempfile.gettempdir(), f"sessions-cancel-{uuid.uuid4().hex}")
    code = _WRAP.format(cancel=cancel_file, body=body)
    client.start_channels()
    try:
        msg_id = client.execute(
            code,
            silent=True,
            store_history=False,
            allow_stdin=False,
            user_expressions={"out": "globals().pop('__sessions_out', None)"},
        )
        started = time.monotonic()
        told = False
        running = False
        while True:
            with contextlib.suppress(Exception):
                while True:
                    msg = client.get_iopub_msg(timeout=0)
                    if (
                        msg["parent_header"].get("msg_id") == msg_id
                        and msg["msg_type"] == "status"
                        and msg["content"].get("execution_state") == "busy"
                    ):
                        running = True
            try:
                reply = client.get_shell_msg(timeout=0.2)
            except Exception:  # queue.Empty: nothing yet
                reply = None
            if reply is not None and reply["parent_header"].get("msg_id") == msg_id:
                break
            waited = time.monotonic() - started
            if not told and waited > 1.0 and not running:
                told = True
                if on_wait is not None:
                    on_wait(
                        f"kernel {kernel.id[:8]} is busy running a cell; waiting (Ctrl-C to cancel)"
                    )
            if (cancel is not None and cancel()) or (timeout is not None and waited > timeout):
                _cancel(cancel_file, running, kernel)
            if waited > 5 and not client.is_alive():
                raise KernelError(f"kernel {kernel.id[:8]} stopped answering")
    except KeyboardInterrupt:
        _cancel(cancel_file, running, kernel)
        raise
    finally:
        client.stop_channels()
    content = reply["content"]
    if content.get("status") != "ok":
        raise KernelError(
            f"kernel {kernel.id[:8]}: {content.get('ename')}: {content.get('evalue')}"
        )
    text = content.get("user_expressions", {}).get("out", {}).get("data", {}).get("text/plain")
    with contextlib.suppress(OSError):
        os.unlink(cancel_file)
    try:
        value = ast.literal_eval(text) if text else None
    except (ValueError, SyntaxError):
        value = None
    if value is None:
        raise Cancelled("cancelled: nothing was done in the kernel")
    result = json.loads(value)
    if "missing" in result:
        python = result["missing"]
        raise KernelError(
            f"kernel {kernel.id[:8]} runs {python}, which lacks sessions-tui; install it "
            f"there: {python} -m pip install sessions-tui"
        )
    if "error" in result:
        raise SessionsError(result["error"])
    return result


def _cancel(cancel_file: str, running: bool, kernel: RunningKernel) -> None:
    if running:
        raise Cancelled(
            f"too late to cancel: kernel {kernel.id[:8]} has started it; it will finish"
        )
    Path(cancel_file).touch()
    raise Cancelled("cancelled while the kernel was busy: nothing was done in the kernel")


def save_kernel(
    kernel: RunningKernel,
    *,
    name: str | None = None,
    note: str | None = None,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    home: Path | None = None,
    on_wait: Callable[[str], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Snapshot ``kernel``'s namespace; what ``sessions.save`` reported, as a dict."""
    body = (
        f"        r = sessions.save({name!r}, namespace=ns, note={note!r}, "
        f"include={include!r}, exclude={exclude!r}, "
        f"home={str(home) if home else None!r})\n"
        "        return json.dumps({'ref': r.ref, 'id': r.id, 'saved': list(r.saved), "
        "'skipped': r.skipped, 'imports': list(r.imports), 'text': str(r)})\n"
    )
    return run_in_kernel(kernel, body, on_wait=on_wait, cancel=cancel)


def restore_into_kernel(
    kernel: RunningKernel,
    ref: str,
    *,
    names: list[str] | None = None,
    home: Path | None = None,
    trust: bool = False,
    on_wait: Callable[[str], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Load snapshot ``ref`` (or ``names`` of it) into ``kernel``; the load report as a dict."""
    body = (
        f"        r = sessions.load({ref!r}, names={names!r}, namespace=ns, "
        f"home={str(home) if home else None!r}, trust={trust!r})\n"
        "        return json.dumps({'report': r.to_dict(), 'text': str(r)})\n"
    )
    return run_in_kernel(kernel, body, on_wait=on_wait, cancel=cancel)
