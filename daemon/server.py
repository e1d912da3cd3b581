"""The daemon process: lock, catalog, watcher, indexer, socket server and retention timer."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import logging.handlers
import os
import signal
import socket
import struct
import sys
import time
from pathlib import Path
from typing import Any

from sessions.core.config import Config, load_config
from sessions.core.store import retention
from sessions.core.store.atomic import ensure_dir
from sessions.core.store.catalog import Catalog, catalog_path
from sessions.core.store.gc import gc
from sessions.core.store.session_dir import Store
from sessions.daemon import __version__
from sessions.daemon.indexer import Indexer
from sessions.daemon.paths import lock_path, log_path, socket_path
from sessions.daemon.protocol import PROTOCOL, ProtocolError, decode, encode, header_size
from sessions.daemon.watcher import Watcher

log = logging.getLogger("sessions.daemon")

EXIT_ALREADY_RUNNING = 3
MAX_REQUEST = 64 * 1024  # a request is a few fields; replies may be larger (MAX_FRAME)
MAX_QUERY_TEXT = 1000
MAX_QUERY_LIMIT = 100_000
CHECK_SECONDS = 1.0  # how often the daemon checks that its session dir and catalog are still there


class RequestError(Exception):
    """A request the daemon refuses to act on (its reply says why)."""


def _file_id(path: Path) -> tuple[int, int] | None:
    """(device, inode) of ``path``, None when it is gone: tells a path replaced from one kept."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_dev, info.st_ino)


def _hold(path: Path) -> int | None:
    """An open descriptor of dir ``path`` (None when it is gone): while it is open, the
    dir's inode cannot be given to a new dir made at the same path."""
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None


def _release(fd: int | None) -> None:
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)


def _query_args(request: dict[str, Any]) -> tuple[str | None, int, str | None]:
    """A query's text, limit and group, each checked and bounded (a 10 MB text would hold
    the indexer thread for seconds)."""
    text, limit, group = request.get("text"), request.get("limit", 200), request.get("group")
    for what, value in (("text", text), ("group", group)):
        if value is not None and (not isinstance(value, str) or len(value) > MAX_QUERY_TEXT):
            raise RequestError(
                f"query {what} should be text of at most {MAX_QUERY_TEXT} characters"
            )
    if type(limit) is not int or not 1 <= limit <= MAX_QUERY_LIMIT:
        raise RequestError(f"query limit should be a whole number from 1 to {MAX_QUERY_LIMIT}")
    return text, limit, group


def peer_uid(sock: socket.socket) -> int | None:
    """The uid of the process at the other end of a Unix socket (None where unknown)."""
    if hasattr(socket, "SO_PEERCRED"):
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _pid, uid, _gid = struct.unpack("3i", creds)
        return uid
    if hasattr(os, "getpeereid"):  # pragma: no cover - BSD/macOS
        return os.getpeereid(sock.fileno())[0]  # type: ignore[attr-defined]
    return None


def allowed(uid: int | None) -> bool:
    """Only the daemon's own user gets in."""
    return uid is not None and uid == os.getuid()


def setup_logging(root: Path, foreground: bool) -> Path:
    path = log_path(root)
    ensure_dir(path.parent)
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=1 << 20, backupCount=3)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    top = logging.getLogger("sessions")
    top.setLevel(logging.INFO)
    top.addHandler(handler)
    if foreground and sys.stderr is not None and sys.stderr.isatty():
        top.addHandler(logging.StreamHandler(sys.stderr))
    return path


class _Lock:
    """One daemon per user and session dir: an flock on the lock file, freed by the OS when
    the holder dies (so a dead daemon's lock recovers by itself)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None

    def acquire(self) -> bool:
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "started": time.time()}).encode())
        self.fd = fd
        return True

    def holder(self) -> int | None:
        try:
            return int(json.loads(self.path.read_text())["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class Daemon:
    def __init__(self, root: Path, config: Config | None = None) -> None:
        self.root = root.absolute()
        self.config = config or load_config()
        self.store = Store(self.root)
        self.started = time.time()
        self.subscribers: set[asyncio.StreamWriter] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop_event: asyncio.Event | None = None
        self.socket_path = socket_path(self.root)
        self.catalog_path = catalog_path(self.root)
        self.log_path = log_path(self.root)
        self.last_retention: dict[str, Any] = {}

    # --- lifecycle --------------------------------------------------------------------
    def run(self, foreground: bool = True) -> int:
        lock = _Lock(lock_path(self.root))
        if not lock.acquire():
            holder = lock.holder()
            sys.stderr.write(
                f"sessions-tui daemon: already running for {self.root} (pid {holder})\n"
            )
            return EXIT_ALREADY_RUNNING
        try:
            setup_logging(self.root, foreground)
            self.store.ensure()
            log.info("daemon %s starting for %s (pid %d)", __version__, self.root, os.getpid())
            for problem in self.config.problems:
                log.warning(problem)
            return asyncio.run(self._main())
        finally:
            with contextlib.suppress(OSError):
                self.socket_path.unlink()
            lock.release()
            log.info("daemon stopped")

    async def _main(self) -> int:
        self.loop = asyncio.get_running_loop()
        self.stop_event = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                self.loop.add_signal_handler(sig, self.stop_event.set)
        catalog = self._open_catalog()
        self.indexer = Indexer(
            self.store, catalog, self._publish_threadsafe, self.config.extra_dirs
        )
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()  # stale: its daemon is dead, we hold the lock
        server = await asyncio.start_unix_server(self._serve, path=str(self.socket_path))
        os.chmod(self.socket_path, 0o600)
        self.watcher = Watcher([self.root, *self.config.extra_dirs], self.indexer.notify)
        self.watcher.start()  # before reconciling, so nothing saved meanwhile is missed
        self.indexer.start()
        retention_task = asyncio.create_task(self._retention_loop())
        health_task = asyncio.create_task(self._health_loop())
        log.info("listening on %s", self.socket_path)
        try:
            await self.stop_event.wait()
        finally:
            retention_task.cancel()
            health_task.cancel()
            server.close()
            for writer in list(self.subscribers):
                writer.close()
            self.watcher.stop()
            self.indexer.stop()
            self.indexer.catalog.close()
        return 0

    # --- recovering from what happens to its files ------------------------------------
    async def _health_loop(self) -> None:
        """Notice, without a restart, a session dir deleted and made again (its watches died
        with it) and a deleted or replaced catalog (a cache: made again from the disk)."""
        # The watched dir is held open: a dir deleted and made again between two checks
        # could otherwise get the same inode number back and look unchanged.
        held = _hold(self.root)
        root_id, catalog_id = _file_id(self.root), _file_id(self.catalog_path)
        try:
            while True:
                await asyncio.sleep(CHECK_SECONDS)
                try:
                    now = _file_id(self.root)
                    if now is not None and now != root_id:
                        log.warning("session dir %s was replaced; watching the new one", self.root)
                        _release(held)
                        held = _hold(self.root)
                        self.watcher.stop()
                        self.watcher = Watcher(
                            [self.root, *self.config.extra_dirs], self.indexer.notify
                        )
                        self.watcher.start()
                        await self._in_indexer(self.indexer.reconcile)
                    root_id = now if now is not None else root_id
                    await self._check_catalog_replaced(catalog_id)
                    catalog_id = _file_id(self.catalog_path)
                except Exception:
                    log.exception("checking the session dir and catalog failed")
        finally:
            _release(held)

    async def _check_catalog_replaced(self, catalog_id: tuple[int, int] | None) -> None:
        """Rebuild the catalog when its file is gone or another one (the open catalog holds
        its file, so a new one never has the old inode number)."""
        if _file_id(self.catalog_path) != catalog_id:
            log.warning("catalog %s was removed or replaced; rebuilding", self.catalog_path)
            await self._in_indexer(self._reopen_catalog)

    def _reopen_catalog(self) -> None:
        """On the indexer thread: close the catalog, open (make) it again, re-index."""
        old = self.indexer.catalog
        old.close()
        ensure_dir(self.catalog_path.parent)
        self.indexer.catalog = self._open_catalog()
        self.indexer.reconcile()

    def _open_catalog(self) -> Catalog:
        try:
            return Catalog(self.catalog_path)
        except Exception as exc:  # damaged cache: it is only a cache, rebuild it
            log.warning("catalog %s unusable (%s); rebuilding", self.catalog_path, exc)
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(OSError):
                    Path(str(self.catalog_path) + suffix).unlink()
            return Catalog(self.catalog_path)

    # --- events -----------------------------------------------------------------------
    def _publish_threadsafe(self, event: dict[str, Any]) -> None:
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self._broadcast, event)

    def _broadcast(self, event: dict[str, Any]) -> None:
        frame = encode(event)
        for writer in list(self.subscribers):
            if writer.is_closing():
                self.subscribers.discard(writer)
                continue
            writer.write(frame)

    # --- serving ----------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        uid = peer_uid(sock) if sock is not None else None
        if not allowed(uid):
            log.warning("refused a connection from uid %s", uid)
            writer.write(
                encode({"id": 0, "ok": False, "error": "permission denied: not the daemon's user"})
            )
            with contextlib.suppress(Exception):
                await writer.drain()
            writer.close()
            return
        try:
            while True:
                header = await reader.readexactly(4)
                size = header_size(header)
                body = await reader.readexactly(size)  # read whole (at most MAX_FRAME) ...
                if size > MAX_REQUEST:  # ... but never decoded nor acted on
                    error = f"request of {size} bytes refused (at most {MAX_REQUEST})"
                    reply = {"id": 0, "ok": False, "error": error}
                else:
                    reply = await self._handle(decode(body), writer)
                writer.write(encode(reply))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ProtocolError):
            pass
        finally:
            self.subscribers.discard(writer)
            writer.close()

    async def _handle(
        self, request: dict[str, Any], writer: asyncio.StreamWriter
    ) -> dict[str, Any]:
        op = request.get("op")
        rid = request.get("id", 0)
        try:
            if op == "status":
                result: Any = await self._in_indexer(self._status)
            elif op == "subscribe":
                self.subscribers.add(writer)
                result = {"subscribed": True}
            elif op == "query":
                text, limit, group = _query_args(request)
                result = await self._in_indexer(
                    lambda: [r.to_dict() for r in self.indexer.catalog.newest(limit, text, group)]
                )
            elif op == "reindex":
                result = await self._in_indexer(
                    lambda: dict(zip(("indexed", "removed"), self.indexer.reconcile()))
                )
            elif op == "retention":
                result = await self._in_indexer(self._apply_retention)
            elif op == "stop":
                assert self.stop_event is not None
                self.loop.call_later(0.05, self.stop_event.set)  # type: ignore[union-attr]
                result = {"stopping": True}
            else:
                return {"id": rid, "ok": False, "error": f"unknown op {op!r}"}
        except RequestError as exc:
            return {"id": rid, "ok": False, "error": str(exc)}
        except Exception as exc:
            log.exception("request %s failed", op)
            return {"id": rid, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
        return {"id": rid, "ok": True, "result": result}

    async def _in_indexer(self, fn: Any) -> Any:
        """Run ``fn`` on the indexer thread (the catalog writer's thread) and await it."""
        assert self.loop is not None
        future: asyncio.Future[Any] = self.loop.create_future()

        def task() -> None:
            try:
                value = fn()
            except Exception as exc:
                self.loop.call_soon_threadsafe(future.set_exception, exc)  # type: ignore[union-attr]
            else:
                self.loop.call_soon_threadsafe(future.set_result, value)  # type: ignore[union-attr]

        self.indexer.submit(task)
        return await future

    def _status(self) -> dict[str, Any]:
        catalog = self.indexer.catalog
        return {
            "pid": os.getpid(),
            "version": __version__,
            "protocol": PROTOCOL,
            "uptime": time.time() - self.started,
            "session_dir": str(self.root),
            "watched": [str(self.root), *(str(d) for d in self.config.extra_dirs)],
            "snapshots": catalog.count(),
            "index_errors": catalog.error_count(),
            "catalog": str(self.catalog_path),
            "log": str(self.log_path),
            "socket": str(self.socket_path),
            "ready": self.indexer.ready.is_set(),
            "last_errors": list(self.indexer.errors),
            "subscribers": len(self.subscribers),
            "retention": self.last_retention,
        }

    # --- retention --------------------------------------------------------------------
    def _apply_retention(self) -> dict[str, Any]:
        policy = self.config.retention
        report = retention.apply(self.store, policy)
        freed = 0
        if report.removed:
            freed = gc(self.store).freed
        self.last_retention = {"at": time.time(), "removed": report.removed, "freed": freed}
        return self.last_retention

    async def _retention_loop(self) -> None:
        policy = self.config.retention
        if not policy.active:
            return
        while True:
            await asyncio.sleep(max(60.0, policy.interval_minutes * 60))
            try:
                await self._in_indexer(self._apply_retention)
            except Exception:
                log.exception("scheduled retention failed")
