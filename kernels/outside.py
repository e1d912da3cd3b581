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

Once running, the save or load in the kernel reports progress by rewriting a small JSON file
the caller polls (nothing is printed in the notebook), and checks the cancel file at each
report: a cancel then stops it at its next clean point (no snapshot made, or the namespace
put back as it was).
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

from sessions.core import errors
from sessions.core.engine.environment import jupyter_runtime, server_kernels
from sessions.core.errors import RefError, SessionsError
from sessions.core.progress import Progress, ProgressCallback


class KernelError(SessionsError):
    """A kernel that cannot be reached, or lacks what is needed."""


class KernelRefError(RefError):
    """A kernel reference that names no running kernel, or several."""


class Cancelled(errors.Cancelled):
    """The caller cancelled while the kernel was busy, or the work it had started."""


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

    def tell(progress):
        if os.path.exists({cancel!r}):
            raise sessions.Cancelled("cancelled from outside")
        import dataclasses
        with open({report!r} + ".tmp", "w") as handle:
            json.dump(dataclasses.asdict(progress), handle)
        os.replace({report!r} + ".tmp", {report!r})

    def told(function):
        import inspect
        takes = "progress" in inspect.signature(function).parameters
        return {{"progress": tell}} if takes else {{}}

    try:
{body}
    except sessions.SessionsError as exc:
        cancelled = isinstance(exc, getattr(sessions, "Cancelled", ()))
        return json.dumps({{"error": str(exc), "cancelled": cancelled}})
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
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Run ``body`` (statements that ``return json.dumps(...)``, indented 8, with ``ns`` the
    user namespace, ``**told(function)`` the progress keyword) silently in ``kernel``; the
    decoded JSON it returned. ``progress`` gets what the work in the kernel reports."""
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
    token = uuid.uuid4().hex
    cancel_file = os.path.join(tempfile.gettempdir(), f"sessions-cancel-{token}")
    report_file = os.path.join(tempfile.gettempdir(), f"sessions-progress-{token}.json")
    code = _WRAP.format(cancel=cancel_file, report=report_file, body=body)
    relay = _Relay(report_file, progress)
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
        stopping = False
        while True:
            try:
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
                relay.poll()
                running = running or relay.seen is not None  # it reported: it has started
                waited = time.monotonic() - started
                if not told and waited > 1.0 and not running:
                    told = True
                    if on_wait is not None:
                        on_wait(
                            f"kernel {kernel.id[:8]} is busy running a cell; "
                            "waiting (Ctrl-C to cancel)"
                        )
                late = timeout is not None and waited > timeout
                if not stopping and ((cancel is not None and cancel()) or late):
                    _cancel(cancel_file, running, kernel)
                    stopping = True
                if waited > 5 and not client.is_alive():
                    raise KernelError(f"kernel {kernel.id[:8]} stopped answering")
            except KeyboardInterrupt:
                if stopping:
                    raise
                _cancel(cancel_file, running, kernel)  # raises when the work had not started
                stopping = True
                if on_wait is not None:
                    on_wait(
                        f"stopping the work in kernel {kernel.id[:8]} at its next clean point "
                        "(Ctrl-C again to stop waiting)"
                    )
    finally:
        client.stop_channels()
        relay.poll()
        with contextlib.suppress(OSError):
            os.unlink(report_file)
    with contextlib.suppress(OSError):  # the request is over: nothing will look at it again
        os.unlink(cancel_file)
    content = reply["content"]
    if content.get("status") != "ok":
        raise KernelError(
            f"kernel {kernel.id[:8]}: {content.get('ename')}: {content.get('evalue')}"
        )
    text = content.get("user_expressions", {}).get("out", {}).get("data", {}).get("text/plain")
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
        if result.get("cancelled"):
            raise Cancelled(f"kernel {kernel.id[:8]}: {result['error']}")
        raise SessionsError(result["error"])
    return result


class _Relay:
    """Reads the progress the kernel writes (a JSON file it replaces) and tells ``progress``
    each new state; a file that is not what the kernel writes is ignored."""

    def __init__(self, path: str, progress: ProgressCallback | None) -> None:
        self.path = path
        self.progress = progress
        self.seen: tuple[int, int] | None = None

    def poll(self) -> None:
        try:
            info = os.stat(self.path)
            if (info.st_mtime_ns, info.st_size) == self.seen:
                return
            self.seen = (info.st_mtime_ns, info.st_size)  # the work has started
            if self.progress is None:
                return
            with open(self.path, encoding="utf-8") as handle:
                data = json.loads(handle.read(64 * 1024))
        except (OSError, ValueError):
            return
        state = _progress_from(data)
        if state is not None:
            self.progress(state)


def _progress_from(data: Any) -> Progress | None:
    """A Progress from the kernel's JSON, fields type-checked (anything else: None)."""
    if not isinstance(data, dict) or not isinstance(data.get("task"), str):
        return None
    fields: dict[str, Any] = {"task": data["task"][:40]}
    for key in ("done_bytes", "done_items"):
        if isinstance(data.get(key), int):
            fields[key] = data[key]
    for key in ("total_bytes", "total_items"):
        if isinstance(data.get(key), int) or data.get(key) is None:
            fields[key] = data.get(key)
    for key, kind in (("item", str), ("unit", str)):
        if isinstance(data.get(key), kind):
            fields[key] = data[key][:200]
    if isinstance(data.get("finished"), bool):
        fields["finished"] = data["finished"]
    if isinstance(data.get("elapsed"), int | float):
        fields["elapsed"] = float(data["elapsed"])
    return Progress(**fields)


def _cancel(cancel_file: str, running: bool, kernel: RunningKernel) -> None:
    Path(cancel_file).touch()
    if running:  # the work stops at its next progress report, or finishes if it is done
        return
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
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Snapshot ``kernel``'s namespace; what ``sessions.save`` reported, as a dict.
    ``progress`` gets the save's progress as the kernel reports it; ``cancel`` returning
    True stops it (before it starts, or at its next clean point: no snapshot is made)."""
    body = (
        f"        r = sessions.save({name!r}, namespace=ns, note={note!r}, "
        f"include={include!r}, exclude={exclude!r}, "
        f"home={str(home) if home else None!r}, **told(sessions.save))\n"
        "        return json.dumps({'ref': r.ref, 'id': r.id, 'saved': list(r.saved), "
        "'skipped': r.skipped, 'imports': list(r.imports), 'text': str(r)})\n"
    )
    return run_in_kernel(kernel, body, on_wait=on_wait, cancel=cancel, progress=progress)


def restore_into_kernel(
    kernel: RunningKernel,
    ref: str,
    *,
    names: list[str] | None = None,
    home: Path | None = None,
    trust: bool = False,
    on_wait: Callable[[str], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Load snapshot ``ref`` (or ``names`` of it) into ``kernel``; the load report as a dict.
    ``progress`` gets the load's progress as the kernel reports it; ``cancel`` returning True
    stops it (before it starts, or at its next clean point, the namespace put back)."""
    body = (
        f"        r = sessions.load({ref!r}, names={names!r}, namespace=ns, "
        f"home={str(home) if home else None!r}, trust={trust!r}, **told(sessions.load))\n"
        "        return json.dumps({'report': r.to_dict(), 'text': str(r)})\n"
    )
    return run_in_kernel(kernel, body, on_wait=on_wait, cancel=cancel, progress=progress)
