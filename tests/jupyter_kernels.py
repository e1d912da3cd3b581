"""Real Jupyter kernels for tests: ipykernel started through jupyter_client."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from conftest import ROOT
from jupyter_client.manager import KernelManager


class Kernel:
    """A running kernel and a blocking client, with helpers to run code and read results."""

    def __init__(self, manager: KernelManager) -> None:
        self.manager = manager
        self.client = manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def run(self, code: str, timeout: float = 120) -> dict[str, Any]:
        """Execute ``code``; return stdout text, error (ename: evalue) and user expressions."""
        out: list[str] = []
        reply = self.client.execute_interactive(
            code,
            timeout=timeout,
            output_hook=lambda msg: (
                out.append(msg["content"].get("text", "")) if msg["msg_type"] == "stream" else None
            ),
        )
        content = reply["content"]
        error = (
            f"{content.get('ename')}: {content.get('evalue')}"
            if content["status"] == "error"
            else None
        )
        return {"stdout": "".join(out), "error": error}

    def complete(self, code: str) -> list[str]:
        """What tab completion offers at the end of ``code``."""
        msg_id = self.client.complete(code, len(code))
        while True:
            reply = self.client.get_shell_msg(timeout=30)
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply["content"]["matches"]

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


@contextlib.contextmanager
def kernel(home: Path, cwd: Path | None = None) -> Iterator[Kernel]:
    env = dict(os.environ)
    env["SESSIONS_HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(env=env, cwd=str(cwd or home.parent))
    running = Kernel(manager)
    try:
        yield running
    finally:
        running.stop()
