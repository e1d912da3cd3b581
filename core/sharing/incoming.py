"""Receiving a snapshot from elsewhere (a bundle or a remote): all or nothing.

Blobs are checked (header, size, decompression in bounded steps, hash: see
sessions.core.sharing.received) and written to a dot-named staging dir inside the session dir,
which nothing lists. Only when every blob the manifest names is here or staged are they moved
into ``blobs/`` and the manifest committed; on any error (a full disk included) the staging
dir and the blobs this commit moved are removed, and the store is as it was.

The gc lock is held shared from the first "does the store have this blob?" to the commit, as a
save holds it: a blob found present and so not received cannot be removed by ``gc`` (or the
daemon's retention timer) before the manifest that needs it is committed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from sessions.core.errors import BlobError, SessionsError
from sessions.core.sharing import received, signing
from sessions.core.store.atomic import ensure_dir, fsync_dir, os_error
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
        self._gc_lock = contextlib.ExitStack()
        self._gc_lock.enter_context(store.lock("gc.lock", shared=True))
        try:
            self.dir = Path(tempfile.mkdtemp(prefix=".incoming-", dir=store.root))
        except BaseException:
            self._gc_lock.close()
            raise

    def __enter__(self) -> Incoming:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            shutil.rmtree(self.dir, ignore_errors=True)
        finally:
            self._gc_lock.close()
        if self.moved:
            reclaim(self.store, self.moved)

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
        try:
            dirs: set[Path] = set()
            for digest, path in self.staged.items():
                target = self.store.blobs.path(digest)
                ensure_dir(target.parent)
                if not target.exists():
                    os.replace(path, target)
                    self.moved.append(digest)
                    dirs.add(target.parent)
            for directory in dirs:
                fsync_dir(directory)
            done = self.store.add(self.manifest)
        except OSError as exc:
            raise os_error(exc, f"{self.what} into {self.store.root}") from None
        self.moved = []  # committed: they are the snapshot's now
        return done


def reclaim(store: Store, digests: list[str], *, timeout: float = 5.0) -> int:
    """Remove ``digests`` from the store unless a snapshot references them: what a failed
    commit moved in. Done as gc does it, under the exclusive gc lock after reading every
    manifest, since a save or another import may have started to use them meanwhile; if the
    lock is busy or a manifest is unreadable they are left for gc. The number removed."""
    removed = 0
    try:
        with store.lock("gc.lock", timeout=timeout):
            referenced: set[str] = set()
            for entry in store.entries(foreign=False):
                if entry.manifest is None:
                    return 0
                referenced |= entry.manifest.blob_hashes()
            for digest in digests:
                if digest not in referenced:
                    with contextlib.suppress(OSError):
                        store.blobs.path(digest).unlink()
                        removed += 1
    except SessionsError:
        return removed
    return removed
