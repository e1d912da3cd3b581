"""Bundles: one portable file holding a shared snapshot (signed manifest and its blobs).

Format (bundle 1)
-----------------
An uncompressed POSIX tar (blobs are already compressed where it pays) whose members are,
in order::

    sessions-bundle.msgpack   {"format": "sessions.bundle", "version": 1,
                               "manifest": <manifest bytes>, "left_out": {name: reason}}
    blobs/<64 hex>            blob files exactly as stored (sessions.core.store.blobs format)

Importing reads it as a stream and trusts nothing: only those member names, regular files,
bounded sizes and counts, each blob named by the manifest and hash-checked after bounded
decompression, the manifest's signature checked — and nothing is added unless all of it
holds (sessions.core.sharing.incoming).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import msgpack

from sessions.core.errors import Cancelled, FormatError, NewerFormatError, SessionsError
from sessions.core.progress import ProgressCallback, Reporter
from sessions.core.sharing import identity, signing
from sessions.core.sharing.incoming import Incoming
from sessions.core.sharing.share import describe_left_out, prepare, shareable_manifest, with_arrow
from sessions.core.store.atomic import fsync_dir, temp_path
from sessions.core.store.manifest import MAX_MANIFEST_BYTES, Manifest
from sessions.core.store.session_dir import Entry, Store
from sessions.core.units import human_size

FORMAT = "sessions.bundle"
VERSION = 1
HEADER_NAME = "sessions-bundle.msgpack"
_BLOB_NAME = re.compile(r"^blobs/([0-9a-f]{64})$")
MAX_MEMBERS = 200_000
MAX_BLOB_BYTES = 16 * 1024**3
_CHUNK = 4 << 20  # members are copied in pieces this big (progress moves within a big one)


class BundleError(SessionsError):
    """A bundle that cannot be read or is not safe to import."""


@dataclass
class ExportResult:
    path: Path
    ref: str
    blobs: int
    size: int
    left_out: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return (
            f"exported {self.ref} to {self.path} ({self.blobs} blobs, {human_size(self.size)})"
            + describe_left_out(self.left_out)
        )


@dataclass
class ImportResult:
    ref: str
    id: str
    added: bool
    signer: str
    left_out: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        state = "imported" if self.added else "already here:"
        return f"{state} {self.ref} ({self.id}), {self.signer}"


def export(
    store: Store,
    ref: str,
    path: Path | str,
    *,
    include_secrets: bool = False,
    owner: str | None = None,
    progress: ProgressCallback | None = None,
) -> ExportResult:
    """Write snapshot ``ref`` as a bundle at ``path`` (atomically: complete or absent).
    ``progress`` is called (on this thread) with bytes and objects written; raising
    :class:`~sessions.core.errors.Cancelled` from it stops with no file left behind."""
    entry: Entry = store.resolve(ref)
    manifest = with_arrow(store, entry, shareable_manifest(entry))
    owner = identity.check_owner(owner or identity.default_owner())
    shared = prepare(
        manifest, owner=owner, version=manifest.version, include_secrets=include_secrets
    )
    target = Path(path).expanduser().absolute()
    if target.is_dir():
        target = target / f"{manifest.name}@{manifest.version}.sessions"
    header = msgpack.packb(
        {
            "format": FORMAT,
            "version": VERSION,
            "manifest": shared.manifest.encode(),
            "left_out": shared.left_out,
        },
        use_bin_type=True,
    )
    tmp = temp_path(target.parent)
    size = 0
    reporter = Reporter(
        progress,
        "export",
        total_bytes=sum(blob.stored for blob in shared.blobs),
        total_items=len(shared.blobs),
        unit="objects",
    )
    on_bytes = reporter.add_bytes if progress is not None else None
    try:
        with (
            open(tmp, "wb") as raw,
            tarfile.open(fileobj=raw, mode="w|", format=tarfile.PAX_FORMAT) as tar,
        ):
            size += _add(tar, HEADER_NAME, header)
            for blob in shared.blobs:
                reporter.poll()
                data = store.blobs.framed(blob.hash)
                size += _add(tar, f"blobs/{blob.hash}", data, on_bytes)
                reporter.advance(nbytes=blob.stored - (len(data) if on_bytes else 0), items=1)
            reporter.poll()  # the last point to stop: the file is not there yet
            tar.close()
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, target)
        fsync_dir(target.parent)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise SessionsError(f"cannot write {target}: {exc.strerror or exc}") from None
    except Cancelled:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise Cancelled(f"export cancelled: {target} was not written") from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    reporter.finish()
    return ExportResult(target, shared.manifest.ref, len(shared.blobs), size, shared.left_out)


class _Told(io.BytesIO):
    """A member's bytes, telling ``on_bytes`` every ``_CHUNK`` bytes as tarfile copies them
    out (it reads 16 KiB at a time)."""

    def __init__(self, data: bytes, on_bytes: Callable[[int], None]) -> None:
        super().__init__(data)
        self.on_bytes = on_bytes
        self.size = len(data)
        self.untold = 0

    def read(self, size: int | None = -1) -> bytes:
        piece = super().read(size)
        self.untold += len(piece)
        if self.untold >= _CHUNK or self.tell() >= self.size:
            told, self.untold = self.untold, 0
            self.on_bytes(told)
        return piece


def _add(
    tar: tarfile.TarFile,
    name: str,
    data: bytes,
    on_bytes: Callable[[int], None] | None = None,
) -> int:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data) if on_bytes is None else _Told(data, on_bytes))
    return len(data)


def import_bundle(
    store: Store,
    path: Path | str,
    *,
    trust_once: bool = False,
    progress: ProgressCallback | None = None,
) -> ImportResult:
    """Add the snapshot in bundle ``path`` to ``store``; all or nothing (see module doc).
    A signer you do not trust is refused unless ``trust_once``. ``progress`` is called (on
    this thread) with bytes and objects read; raising
    :class:`~sessions.core.errors.Cancelled` from it stops with nothing added."""
    source = Path(path).expanduser()
    what = f"bundle {source.name}"
    try:
        raw = open(source, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise BundleError(f"cannot read {source}: {exc.strerror}") from None
    with raw:
        try:
            tar = tarfile.open(fileobj=raw, mode="r|")  # noqa: SIM115 - closed below
        except tarfile.TarError:
            raise BundleError(f"{what} is not a sessions bundle (not a tar file)") from None
        with tar:
            try:
                return _import(store, tar, what, trust_once, progress)
            except Cancelled:
                raise Cancelled(f"import of {what} cancelled: nothing was added") from None
            except (tarfile.TarError, EOFError) as exc:
                raise BundleError(f"{what} is damaged: {exc}") from None


def _read(
    tar: tarfile.TarFile,
    member: tarfile.TarInfo,
    limit: int,
    what: str,
    on_bytes: Callable[[int], None] | None = None,
) -> bytes:
    if member.size > limit:
        raise BundleError(f"{what}: member {member.name!r} is {member.size} bytes, over the limit")
    handle = tar.extractfile(member)
    if handle is None:
        raise BundleError(f"{what}: member {member.name!r} cannot be read")
    if on_bytes is None:
        data = handle.read(limit + 1)
    else:  # in pieces, telling as it goes; never more than the member claims, plus one
        parts, got = [], 0
        while got <= member.size:
            piece = handle.read(min(_CHUNK, member.size + 1 - got))
            if not piece:
                break
            parts.append(piece)
            got += len(piece)
            on_bytes(len(piece))
        data = b"".join(parts)
    if len(data) != member.size:
        raise BundleError(f"{what}: member {member.name!r} is truncated")
    return data


def _import(
    store: Store,
    tar: tarfile.TarFile,
    what: str,
    trust_once: bool,
    progress: ProgressCallback | None,
) -> ImportResult:
    first = tar.next()
    if first is None or first.name != HEADER_NAME or not first.isreg():
        raise BundleError(f"{what} is not a sessions bundle (no {HEADER_NAME} first)")
    try:
        header = msgpack.unpackb(
            _read(tar, first, MAX_MANIFEST_BYTES + 4096, what),
            raw=False,
            max_bin_len=MAX_MANIFEST_BYTES,
        )
    except (ValueError, msgpack.UnpackException) as exc:
        raise BundleError(f"{what}: its header is not valid ({type(exc).__name__})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise BundleError(f"{what} is not a sessions bundle")
    version = header.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise NewerFormatError(
            f"{what} uses bundle format {version}, newer than this sessions-tui reads "
            f"({VERSION}); upgrade sessions-tui"
        )
    data = header.get("manifest")
    if not isinstance(data, bytes):
        raise BundleError(f"{what} has no manifest")
    try:
        manifest = Manifest.decode(data)
    except FormatError as exc:
        raise BundleError(f"{what}: {exc}") from None
    signer = signing.check_integrity(manifest, what)
    signing.check_owner(signer, f"{manifest.ref} from {what}", "import")
    if not signer.trusted and not trust_once:
        signing.check_trusted(manifest, f"{manifest.ref} from {what}", verb="import")
    members = 1
    expected = manifest.all_blobs()
    reporter = Reporter(
        progress,
        "import",
        total_bytes=sum(ref.stored for ref in expected.values()),
        total_items=len(expected),
        unit="objects",
    )
    on_bytes = reporter.add_bytes if progress is not None else None
    with Incoming(store, manifest, what) as incoming:
        while (member := tar.next()) is not None:
            reporter.poll()
            members += 1
            if members > MAX_MEMBERS:
                raise BundleError(f"{what} has more than {MAX_MEMBERS} members")
            match = _BLOB_NAME.match(member.name)
            if not match or not member.isreg():
                raise BundleError(
                    f"{what}: unexpected member {member.name!r} (only blobs/<hash> files belong)"
                )
            digest = match.group(1)
            if digest in incoming.staged:
                raise BundleError(f"{what}: blob {digest[:12]} appears twice")
            ref = expected.get(digest)
            stored = ref.stored if ref is not None else 0
            if store.blobs.has(digest):
                reporter.advance(nbytes=stored, items=1)
                continue
            data = _read(tar, member, MAX_BLOB_BYTES, what, on_bytes)
            incoming.stage(digest, data)
            reporter.advance(nbytes=stored - (len(data) if on_bytes else 0), items=1)
        reporter.poll()  # the last point to stop: nothing is added before the commit
        entry, added = incoming.commit()
    reporter.finish()
    left = header.get("left_out")
    return ImportResult(
        entry.ref,
        entry.id,
        added,
        signer.describe(),
        {str(k): str(v) for k, v in left.items()} if isinstance(left, dict) else {},
    )
