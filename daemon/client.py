"""Talking to the daemon: the only part of ``daemon`` the UI and CLI import.

Clients fall back to reading the catalog (sessions.core.store.catalog) when the daemon is down or speaks
another protocol version; :class:`DaemonUnavailable` says which.
"""

from __future__ import annotations

import itertools
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sessions.core.errors import SessionsError
from sessions.daemon.paths import socket_path
from sessions.daemon.protocol import PROTOCOL, encode, recv


class DaemonUnavailable(SessionsError):
    """No daemon answers for this session dir (or it speaks another protocol)."""


class DaemonError(SessionsError):
    """The daemon answered a request with an error."""


class DaemonClient:
    """One connection to the daemon of a session dir."""

    def __init__(self, root: Path, *, timeout: float = 5.0) -> None:
        self.root = Path(root).absolute()
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self._ids = itertools.count(1)

    def connect(self) -> DaemonClient:
        try:
            path = socket_path(self.root)
        except SessionsError as exc:  # e.g. a runtime dir someone else owns
            raise DaemonUnavailable(str(exc)) from None
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(path))
        except FileNotFoundError:
            sock.close()
            raise DaemonUnavailable(f"no daemon is running for {self.root}") from None
        except OSError as exc:
            sock.close()
            raise DaemonUnavailable(
                f"daemon for {self.root} does not answer ({exc.strerror or exc})"
            ) from None
        self.sock = sock
        return self

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def __enter__(self) -> DaemonClient:
        return self.connect() if self.sock is None else self

    def __exit__(self, *_: object) -> None:
        self.close()

    def request(self, op: str, **args: Any) -> Any:
        if self.sock is None:
            self.connect()
        assert self.sock is not None
        rid = next(self._ids)
        try:
            self.sock.sendall(encode({"id": rid, "op": op, **args}))
            while True:
                reply = recv(self.sock)
                if "event" not in reply:
                    break
        except (OSError, ConnectionError) as exc:
            raise DaemonUnavailable(f"daemon for {self.root} stopped answering ({exc})") from None
        if not reply.get("ok"):
            raise DaemonError(str(reply.get("error", "request failed")))
        return reply.get("result")

    def status(self) -> dict[str, Any]:
        result = self.request("status")
        if not isinstance(result, dict) or result.get("protocol") != PROTOCOL:
            got = result.get("protocol") if isinstance(result, dict) else None
            raise DaemonUnavailable(f"daemon speaks protocol {got}, this client {PROTOCOL}")
        return result

    def subscribe(self, stop: Callable[[], bool] | None = None) -> Iterator[dict[str, Any]]:
        """Events as the daemon publishes them. Blocks between events, looking at ``stop``
        every half second (so a closing app is never held up); ends when the connection
        closes or ``stop()`` is true."""
        self.request("subscribe")
        assert self.sock is not None
        self.sock.settimeout(None)
        while True:
            if stop is not None:
                try:
                    readable, _, _ = select.select([self.sock], [], [], 0.5)
                except (OSError, ValueError):
                    return
                if stop():
                    return
                if not readable:
                    continue
            try:
                message = recv(self.sock)
            except (OSError, ConnectionError):
                return
            if "event" in message:
                yield message


def status(root: Path) -> dict[str, Any] | None:
    """The daemon's status, or None when none answers."""
    try:
        with DaemonClient(root, timeout=2.0) as client:
            return client.status()
    except (DaemonUnavailable, DaemonError):
        return None


def daemon_argv(*args: str) -> list[str]:
    """The command line that runs the daemon module with this interpreter."""
    return [sys.executable, "-m", "sessions.daemon", *args]


def start(root: Path, *, timeout: float = 20.0) -> dict[str, Any]:
    """Start a detached daemon for ``root`` unless one answers; return once one answers.

    Two starts at once are safe: the second daemon finds the lock taken and exits, and both
    callers then see the first one answer.
    """
    root = Path(root).absolute()
    running = status(root)
    if running is not None:
        return running
    child = subprocess.Popen(
        daemon_argv("run", "--home", str(root), "--detached"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        close_fds=True,
        cwd=root.anchor,  # not the user's dir: its core/ or daemon.py must not shadow ours
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = status(root)
        if answer is not None:
            return answer
        code = child.poll()
        if code is not None and code != 3:  # 3: another daemon holds the lock; wait for it
            message = (
                (child.stderr.read() if child.stderr else b"").decode(errors="replace").strip()
            )
            raise DaemonUnavailable(
                f"daemon exited at start: {message.splitlines()[-1] if message else code}"
            )
        time.sleep(0.05)
    raise DaemonUnavailable(f"daemon for {root} did not answer within {timeout:.0f}s")


def stop(root: Path, *, timeout: float = 10.0) -> bool:
    """Ask the daemon to stop and wait until its socket is gone; False if none was running."""
    root = Path(root).absolute()
    try:
        with DaemonClient(root, timeout=2.0) as client:
            pid = client.status().get("pid")
            client.request("stop")
    except (DaemonUnavailable, DaemonError):
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if status(root) is None and not _alive(pid):
            return True
        time.sleep(0.05)
    if isinstance(pid, int) and _alive(pid):
        os.kill(pid, 15)
    return True


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (our own child that exited) is not running
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return True


def exec_daemon(args: list[str]) -> int:
    """Replace this process with ``python -m sessions.daemon ARGS`` (so service managers see the
    daemon itself); returns only on platforms without exec."""
    argv = daemon_argv(*args)
    if hasattr(os, "execv"):
        os.execv(argv[0], argv)
    return subprocess.call(argv)
