"""The daemon, run for real: a subprocess on a temp session dir, over its real socket, with
a real watchdog observer and SQLite catalog."""

from __future__ import annotations

import contextlib
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from conftest import ROOT, cli, run_python
from daemons import RunningDaemon, catalog_ids, disk_ids, wait_for
from synth import make_snapshots


def _subscribe(home: Path) -> queue.Queue:
    """Events from a new subscriber, returned once the daemon counts it (none is missed)."""
    from sessions.daemon.client import DaemonClient, status

    events: queue.Queue = queue.Queue()
    before = status(home)["subscribers"]
    client = DaemonClient(home).connect()

    def pump() -> None:
        for event in client.subscribe():
            events.put(event)

    threading.Thread(target=pump, daemon=True).start()
    wait_for(lambda: status(home)["subscribers"] > before)
    return events


def _next(events: queue.Queue, kind: str, timeout: float = 15) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            event = events.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if event["event"] == kind:
            return event
    raise AssertionError(f"no {kind} event")


def test_saves_removals_and_pins_reach_a_subscriber(
    home: Path, running_daemon: RunningDaemon
) -> None:
    events = _subscribe(home)
    run_python(home, "import sessions\nweights = [1, 2]\nsessions.save('live', note='first')\n")
    added = _next(events, "added")
    assert added["entry"]["ref"] == "live@1" and added["entry"]["note"] == "first"
    snapshot_id = added["entry"]["id"]

    from sessions.core.store import annotation

    annotation.write(home, snapshot_id, annotation.Annotation(pinned=True, note="keep me"))
    changed = _next(events, "changed")
    assert changed["entry"]["pinned"] and changed["entry"]["note"] == "keep me"

    assert cli(home, "rm", "live@1").returncode == 0
    removed = _next(events, "removed")
    assert removed["entry"]["id"] == snapshot_id


def test_status_reports_what_a_user_needs(home: Path, running_daemon: RunningDaemon) -> None:
    done = cli(home, "daemon", "status", "--json")
    assert done.returncode == 0, done.stderr
    import json

    info = json.loads(done.stdout)
    assert info["running"] and info["pid"] == running_daemon.process.pid
    assert info["protocol"] == 1 and info["session_dir"] == str(home)
    for key in ("version", "uptime", "watched", "snapshots", "catalog", "log", "last_errors"):
        assert key in info
    assert Path(info["log"]).exists()


def test_snapshots_saved_while_down_appear_and_a_deleted_catalog_is_rebuilt(
    home: Path, daemon_env
) -> None:
    made = set(make_snapshots(home, 30))
    daemon = RunningDaemon(home, daemon_env)
    try:
        assert catalog_ids(home) == made
    finally:
        daemon.stop()
    more = set(make_snapshots(home, 5))
    from sessions.core.store.catalog import catalog_path

    daemon = RunningDaemon(home, daemon_env)
    try:
        assert catalog_ids(home) == made | more
    finally:
        daemon.stop()
    for suffix in ("", "-wal", "-shm"):
        Path(str(catalog_path(home)) + suffix).unlink(missing_ok=True)
    daemon = RunningDaemon(home, daemon_env)
    try:
        assert catalog_ids(home) == made | more
    finally:
        daemon.stop()


def test_sigkill_during_indexing_then_restart_matches_the_disk(home: Path, daemon_env) -> None:
    make_snapshots(home, 3000)
    process = subprocess.Popen(
        [sys.executable, "-m", "sessions.daemon", "run", "--home", str(home), "--detached"],
        env=daemon_env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    from sessions.core.store.catalog import catalog_path

    wait_for(lambda: catalog_path(home).exists(), timeout=30, interval=0.01)

    def indexed_some() -> set[str]:
        try:
            return catalog_ids(home)
        except sqlite3.Error:  # the daemon is still creating the catalog's tables
            return set()

    wait_for(indexed_some, timeout=60, interval=0.01)  # its first batch is in
    process.send_signal(signal.SIGKILL)
    process.wait()
    partial = catalog_ids(home)
    assert len(partial) < 3000, "the kill should land mid-index"
    daemon = RunningDaemon(home, daemon_env)
    try:
        assert catalog_ids(home) == disk_ids(home)
    finally:
        daemon.stop()


def test_two_starts_at_once_leave_one_daemon(home: Path, daemon_env) -> None:
    starts = [
        subprocess.Popen(
            [sys.executable, "-m", "sessions.tui.cli", "daemon", "start"],
            env=daemon_env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=60) for p in starts]
    assert [p.returncode for p in starts] == [0, 0], outputs
    pids = {out.decode().split("pid ")[1].split(")")[0] for out, _ in outputs}
    assert len(pids) == 1, outputs
    import psutil

    def daemons() -> list[psutil.Process]:
        found = []
        for process in psutil.process_iter(["cmdline", "status"]):
            cmdline = process.info["cmdline"] or []
            ours = "sessions.daemon" in cmdline and "run" in cmdline and str(home) in cmdline
            if ours and process.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(process)
        return found

    # the losing daemon may still be starting up when both starts return; it must go
    running = wait_for(lambda: (lambda found: found if len(found) == 1 else None)(daemons()))
    assert str(running[0].pid) in pids
    assert cli(home, "daemon", "stop").returncode == 0
    wait_for(lambda: not running[0].is_running() or running[0].status() == psutil.STATUS_ZOMBIE)


def test_a_dead_daemons_lock_and_socket_recover(home: Path, daemon_env) -> None:
    first = RunningDaemon(home, daemon_env)
    first.kill()
    second = RunningDaemon(home, daemon_env)
    try:
        assert second.wait_ready()["pid"] == second.process.pid
    finally:
        second.stop()


def test_peer_credentials_identify_the_user(tmp_path: Path) -> None:
    import os
    import socket

    from sessions.daemon.server import allowed, peer_uid

    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        assert peer_uid(left) == os.getuid()
    finally:
        left.close()
        right.close()
    assert allowed(os.getuid())
    assert not allowed(os.getuid() + 1)
    assert not allowed(None)


def test_another_uid_is_refused_on_the_socket(home: Path, running_daemon: RunningDaemon) -> None:
    import os

    import pytest

    if os.geteuid() != 0:
        pytest.skip("needs root to act as a second uid")
    from sessions.daemon.paths import socket_path

    path = socket_path(home)
    os.chmod(path, 0o666)  # let the other uid reach the socket: the uid check must stop it
    os.chmod(path.parent, 0o755)
    import socket as s

    from sessions.daemon.protocol import (  # imported before forking: no imports in the child
        encode,
        recv,
    )

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: become nobody, connect, report what the daemon said
        os.close(read)
        try:
            os.setgid(65534)
            os.setuid(65534)
            sock = s.socket(s.AF_UNIX, s.SOCK_STREAM)
            sock.settimeout(5)
            sock.connect(str(path))
            with contextlib.suppress(BrokenPipeError):  # refused and closed before we sent
                sock.sendall(encode({"id": 1, "op": "status"}))
            reply = recv(sock)
            os.write(write, repr(reply).encode())
        except BaseException as exc:  # report, never run pytest in the child
            os.write(write, f"error {exc!r}".encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    answer = os.read(read, 4096).decode()
    os.close(read)
    assert "permission denied" in answer and "'ok': False" in answer, answer
    assert "pid" not in answer


def test_a_runtime_dir_owned_by_another_user_is_one_line(
    home: Path, tmp_path: Path, monkeypatch
) -> None:
    import os

    from conftest import child_env

    if os.geteuid() != 0:
        import pytest

        pytest.skip("making a dir another user owns needs root")
    temp = tmp_path / "tmp"
    taken = temp / f"sessions-tui-{os.getuid()}"
    taken.mkdir(parents=True)
    os.chown(taken, 4242, 4242)  # made first by someone else, in a shared temp dir
    env = child_env(home)
    for key in ("SESSIONS_RUNTIME_DIR", "XDG_RUNTIME_DIR"):
        env.pop(key, None)
    env["TMPDIR"] = str(temp)
    for args in (["daemon", "status"], ["daemon", "start"]):
        done = subprocess.run(
            [sys.executable, "-m", "sessions.tui.cli", *args],
            env=env, capture_output=True, text=True, timeout=60, cwd=ROOT,
        )  # fmt: skip
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
        assert "belongs to another user (uid 4242)" in lines[0], lines
    code = (  # what the UI asks: is a daemon there (no), then D: start one (one line why not)
        "import json\nfrom pathlib import Path\nfrom sessions.daemon.client import start, status\n"
        "print(json.dumps(status(Path('.'))))\n"
        "try:\n    start(Path('.'))\nexcept Exception as exc:\n"
        "    print(json.dumps([type(exc).__name__, str(exc)]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=60, cwd=ROOT)  # fmt: skip
    assert done.returncode == 0, done.stderr
    import json

    said, refused = done.stdout.strip().splitlines()
    kind, why = json.loads(refused)
    assert said == "null" and kind == "DaemonUnavailable", done.stdout
    assert "belongs to another user (uid 4242)" in why and "\n" not in why
    assert list(taken.iterdir()) == []  # nothing of ours was put there
