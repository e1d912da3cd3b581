"""Receiving a snapshot from elsewhere (a bundle or a remote): all or nothing.

Blobs are checked (header, size, decompression in bounded steps, hash: see
sessions.core.sharing.received) and written to a dot-named staging dir inside the session dir,
which nothing lists. Only when every blob the manifest names is here or staged are they moved
into ``blobs/`` and the manifest committed; on any error (a full disk included) the staging
dir and the blobs this commit moved are removed, and the store is as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from sessions.core.errors import BlobError, SessionsError
from sessions.core.sharing import received, signing
from sessions.core.store.atomic import fsync_dir, os_error
from sessions.core.store.blobs import BlobRef
from sessions.core.store.manifest import Manifest
from sessions.core.store.session_dir import Entry, Store


class Incoming:
    """Stage the blobs of ``manifest`` then :meth:`commit` it; use as a context manager."""

    def __init__(self, store: Store, manifest: Manifest, what: str) -> None:
        self.store = store
        self.manifest = manifest
        self.what = what
        self.expected: dict[str, BlobRef] = manifest.all_blobs()
        self.staged: dict[str, Path] = {}
        self.moved: list[str] = []  # blobs moved into the store by a commit that then failed
        self.received = 0
        store.ensure()
        self.dir = Path(tempfile.mkdtemp(prefix=".incoming-", dir=store.root))

    def __enter__(self) -> Incoming:
        return self

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def needed(self) -> list[BlobRef]:
        """Blobs the manifest names that are neither in the store nor staged."""
        return [
            ref
            for digest, ref in self.expected.items()
            if digest not in self.staged and not self.store.blobs.has(digest)
        ]

    def stage(self, digest: str, framed: bytes) -> None:
        ref = self.expected.get(digest)
        if ref is None:
            raise BlobError(f"{self.what}: blob {digest[:12]} is not named by its manifest")
        try:
            received.check(digest, framed, max_size=ref.size)
        except BlobError as exc:
            raise BlobError(f"{self.what}: {exc}") from None
        path = self.dir / digest
        try:
            with open(path, "wb") as handle:
                handle.write(framed)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise os_error(exc, f"{self.what} into {self.store.root}") from None
        self.staged[digest] = path
        self.received += len(framed)

    def commit(self) -> tuple[Entry, bool]:
        missing = self.needed()
        if missing:
            raise SessionsError(
                f"{self.what}: {len(missing)} blob(s) the manifest names are missing "
                f"(first {missing[0].hash[:12]})"
            )
        signing.check_integrity(self.manifest, self.what)
        with self.store.lock("gc.lock", shared=True):  # gc must not take blobs mid-commit
            dirs: set[Path] = set()
            for digest, path in self.staged.items():
                target = self.store.blobs.path(digest)
                target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                if not target.exists():
                    os.replace(path, target)
                    dirs.add(target.parent)
            for directory in dirs:
                with contextlib.suppress(OSError):
                    fsync_dir(directory)
            return self.store.add(self.manifest)
