"""Real Jupyter kernels for tests: ipykernel started through jupyter_client."""

from __future__ import annotations

import contextlib
import os
import queue
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
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
        """Execute ``code``; return stdout text, displayed text (the ``text/plain`` of what
        it displayed, e.g. ``%sessions`` results) and error (ename: evalue)."""
        out: list[str] = []
        shown: list[str] = []

        def hook(msg: dict[str, Any]) -> None:
            if msg["msg_type"] == "stream":
                out.append(msg["content"].get("text", ""))
            elif msg["msg_type"] in ("display_data", "execute_result"):
                shown.append(msg["content"]["data"].get("text/plain", "") + "\n")

        reply = self.client.execute_interactive(code, timeout=timeout, output_hook=hook)
        content = reply["content"]
        error = (
            f"{content.get('ename')}: {content.get('evalue')}"
            if content["status"] == "error"
            else None
        )
        return {"stdout": "".join(out), "display": "".join(shown), "error": error}

    def start_busy(self, code: str, timeout: float = 60) -> str:
        """Send ``code`` without waiting for it; return once the kernel says it is running it
        (busy), so what comes next meets a busy kernel."""
        msg_id = self.client.execute(code)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = self.client.get_iopub_msg(timeout=1)
            except queue.Empty:
                continue
            if (
                msg["msg_type"] == "status"
                and msg["parent_header"].get("msg_id") == msg_id
                and msg["content"].get("execution_state") == "busy"
            ):
                return msg_id
        raise AssertionError(f"the kernel never started running {code!r}")

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


@pytest.fixture
def runtime(tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private Jupyter runtime dir (where connection files are found) for kernels and CLI."""
    path = tmp_path / "jupyter-runtime"
    path.mkdir()
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(path))
    return path


def kernel_env(home: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ, SESSIONS_HOME=str(home), **extra)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    return env


class Kernels:
    """Start real kernels with a connection file in the runtime dir; stop them all after."""

    def __init__(self, runtime: Path, home: Path, cwd: Path) -> None:
        self.runtime, self.home, self.cwd = runtime, home, cwd
        self.running: list[Kernel] = []

    def start(self, name: str = "python3", args: tuple[str, ...] = (), **env: str) -> Kernel:
        """A new kernel; ``args`` go to the kernel's command line, ``env`` to its environment."""
        index = len(self.running)
        manager = KernelManager(
            kernel_name=name,
            connection_file=str(self.runtime / f"kernel-k{index}test-{os.getpid()}.json"),
        )
        manager.start_kernel(
            env=kernel_env(self.home, **env), cwd=str(self.cwd), extra_arguments=list(args)
        )
        kernel = Kernel(manager)
        self.running.append(kernel)
        return kernel

    def stop_all(self) -> None:
        for kernel in self.running:
            kernel.stop()


@pytest.fixture
def kernels(runtime: Path, home: Path, tmp_path: Path) -> Iterator[Kernels]:
    started = Kernels(runtime, home, tmp_path)
    try:
        yield started
    finally:
        started.stop_all()


def kernel_id(kernel: Kernel) -> str:
    return Path(kernel.manager.connection_file).stem.removeprefix("kernel-")


DEMO_KERNEL = "5e55104d-demo"  # a fixed id, so screens that list kernels look the same


@contextlib.contextmanager
def demo_kernel(runtime: Path, home: Path) -> Iterator[Kernel]:
    """A real kernel with a fixed id in ``runtime`` (for snapshot tests and screenshots)."""
    runtime.mkdir(parents=True, exist_ok=True)
    manager = KernelManager(
        kernel_name="python3", connection_file=str(runtime / f"kernel-{DEMO_KERNEL}.json")
    )
    manager.start_kernel(env=kernel_env(home), cwd=str(runtime))
    running = Kernel(manager)
    try:
        yield running
    finally:
        running.stop()
