"""Advisory file locks between processes sharing a session dir.

``gc.lock``: saves hold it shared while they write blobs and commit; gc holds it exclusive,
so gc never removes a blob a save is about to reference. ``names.lock``: held exclusive
while a save picks its version number and commits its manifest.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

from sessions.core.errors import StoreError

try:
    import fcntl
except ImportError:  # Windows: locking is best effort there
    fcntl = None  # type: ignore[assignment]


@contextlib.contextmanager
def locked(path: Path, *, shared: bool = False, timeout: float | None = None) -> Iterator[None]:
    """Hold a lock on ``path``; raise StoreError if ``timeout`` passes first."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise StoreError(f"cannot open lock {path}: {exc.strerror}") from None
    try:
        if fcntl is not None:
            mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
            if timeout is None:
                fcntl.flock(fd, mode)
            else:
                deadline = time.monotonic() + timeout
                while True:
                    try:
                        fcntl.flock(fd, mode | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() >= deadline:
                            raise StoreError(
                                f"{path.name} is held by another process; try again shortly"
                            ) from None
                        time.sleep(0.05)
        yield
    finally:
        os.close(fd)
