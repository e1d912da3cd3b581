"""Team remotes: a shared folder or any fsspec URL (``s3://bucket/prefix``), like git remotes.

Layout (remote format 1)
------------------------
::

    SESSIONS-REMOTE                                 "sessions-remote 1"
    blobs/ab/cdef…                                  blob files, as in a session dir
    manifests/<owner>/<quoted name>/<NNNNNN>.msgpack  signed manifests, one per version
    trash/<64 hex>                                  blobs a running ``remote clean`` took

Blobs are content-addressed and shared by the whole team: a push uploads only those the
remote lacks. A manifest is written last, and every write is visible only when complete (a
temp name and a rename on a folder, a single PUT on object storage), so an interrupted push
leaves at most some unreferenced blobs — which the next push reuses — and never a visible
half snapshot. Versions count per owner and name on the remote.

On a folder, a write goes to ``.<name>.<host>.<pid>.tmp`` beside its target, locked (flock)
by its writer until renamed. ``remote clean`` (:meth:`Remote.clean`) reclaims what killed
pushes leave, safely while others push and pull:

- a temp file only when no writer holds its lock and its writer is known dead (same host,
  no such pid) or it is over an hour old — never by age alone while a writer holds it;
- a blob only when no manifest references it and it is older than the grace period, in two
  steps: moved to ``trash/<hash>``, manifests listed again, then deleted (or moved back when a
  manifest now names it). A push checks after writing its manifest that every blob it names
  is there and uploads again any that is not, so a blob taken between a push's check and its
  manifest comes back; readers look in ``trash/`` too. A clean killed midway is finished by
  the next one, which first moves everything in ``trash/`` back.

Remotes are configured in ``remotes.toml`` in the config dir (``sessions-tui remote``).
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sessions.core.errors import (
    Cancelled,
    FormatError,
    NewerFormatError,
    SessionsError,
    UnknownRefError,
)
from sessions.core.paths import config_dir
from sessions.core.progress import ProgressCallback, Reporter, chunks
from sessions.core.sharing import identity, signing
from sessions.core.sharing.dataonly import DataResult, load_data
from sessions.core.sharing.incoming import Incoming
from sessions.core.sharing.share import describe_left_out, prepare, shareable_manifest, with_arrow
from sessions.core.store.atomic import HOST, process_alive
from sessions.core.store.blobs import BlobRef
from sessions.core.store.manifest import MAX_MANIFEST_BYTES, Manifest
from sessions.core.store.session_dir import Store, validate_name
from sessions.core.tomlfile import quote, read_toml
from sessions.core.units import human_size, plural

REMOTE_FORMAT = 1
_MANIFEST_RE = re.compile(r"^(\d{6,})\.msgpack$")


class RemoteError(SessionsError):
    """A remote that is missing, unreachable or not a sessions remote."""


# --- configuration --------------------------------------------------------------------------
def remotes_path() -> Path:
    return config_dir() / "remotes.toml"


@dataclass(frozen=True)
class RemoteConfig:
    name: str
    url: str
    options: dict[str, str] = field(default_factory=dict)


def configured() -> dict[str, RemoteConfig]:
    raw = read_toml(remotes_path(), RemoteError)
    out: dict[str, RemoteConfig] = {}
    for name, section in (raw.get("remotes") or {}).items():
        if isinstance(section, dict) and isinstance(section.get("url"), str):
            options: dict[str, Any] = section.get("options") or {}
            if not isinstance(options, dict):
                options = {}
            out[name] = RemoteConfig(name, section["url"], {k: str(v) for k, v in options.items()})
    return out


def _write(remotes: dict[str, RemoteConfig]) -> None:
    from sessions.core.store.atomic import ensure_dir, write_file

    lines = ["# Team remotes: sessions-tui remote add|ls|rm"]
    for remote in sorted(remotes.values(), key=lambda r: r.name):
        lines += [f"\n[remotes.{remote.name}]", f"url = {quote(remote.url)}"]
        if remote.options:
            inner = ", ".join(f"{k} = {quote(v)}" for k, v in sorted(remote.options.items()))
            lines.append(f"options = {{ {inner} }}")
    ensure_dir(remotes_path().parent)
    write_file(remotes_path(), [("\n".join(lines) + "\n").encode()])


def add_remote(name: str, url: str, options: dict[str, str] | None = None) -> RemoteConfig:
    identity.check_owner(name)
    if "://" not in url:
        url = str(Path(url).expanduser().absolute())
    remote = RemoteConfig(name, url, dict(options or {}))
    Remote(remote).init()
    remotes = configured()
    remotes[name] = remote
    _write(remotes)
    return remote


def remove_remote(name: str) -> None:
    remotes = configured()
    if name not in remotes:
        raise RemoteError(f"no remote named {name!r} (remotes: {', '.join(remotes) or 'none'})")
    del remotes[name]
    _write(remotes)


def open_remote(name: str | None = None) -> Remote:
    """The remote called ``name`` (or a URL/path given directly); with no name, the only one
    configured, or the one called ``origin``."""
    remotes = configured()
    if name is None:
        if len(remotes) == 1:
            return Remote(next(iter(remotes.values())))
        if "origin" in remotes:
            return Remote(remotes["origin"])
        if not remotes:
            raise RemoteError("no remote configured; add one: sessions-tui remote add NAME URL")
        raise RemoteError(f"which remote? configured: {', '.join(sorted(remotes))}")
    if name in remotes:
        return Remote(remotes[name])
    if "://" in name or "/" in name:
        return Remote(RemoteConfig(name, name if "://" in name else str(Path(name).absolute())))
    raise RemoteError(f"no remote named {name!r} (remotes: {', '.join(sorted(remotes)) or 'none'})")


# --- transports -----------------------------------------------------------------------------
_CHUNK = 32 << 20  # big blobs move in pieces this big, so progress moves within one
OnBytes = Callable[[int], None]
_TEMP_RE = re.compile(r"^\..+?(?:\.(?P<host>[A-Za-z0-9-]+))?\.(?P<pid>\d+)\.tmp$")
STALE_TEMP_SECONDS = 3600


class _Folder:
    """A directory (a shared drive): temp name (locked by its writer), fsync, rename."""

    def __init__(self, root: str) -> None:
        self.root = Path(root)

    def read(self, path: str, on_bytes: OnBytes | None = None) -> bytes | bytearray:
        if on_bytes is None:
            return (self.root / path).read_bytes()
        with open(self.root / path, "rb") as handle:
            return _read_in_pieces(handle, os.fstat(handle.fileno()).st_size, on_bytes)

    def exists(self, path: str) -> bool:
        return (self.root / path).exists()

    def list(self, path: str) -> list[str]:
        try:
            return sorted(p for p in os.listdir(self.root / path) if not p.startswith("."))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def write(
        self,
        path: str,
        data: bytes,
        *,
        exclusive: bool = False,
        on_bytes: OnBytes | None = None,
    ) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / f".{target.name}.{HOST}.{os.getpid()}.tmp"
        try:
            with open(tmp, "wb") as handle:
                _flock(handle.fileno(), blocking=True)  # "a writer is here" for remote clean
                if on_bytes is None:
                    handle.write(data)
                else:
                    view = memoryview(data)
                    for start, end in chunks(len(view), _CHUNK):
                        handle.write(view[start:end])
                        on_bytes(end - start)
                handle.flush()
                os.fsync(handle.fileno())
                if exclusive:
                    os.link(tmp, target)  # fails if a teammate published this version first
                    tmp.unlink()
                else:
                    os.replace(tmp, target)
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()

    def files(self, path: str) -> Iterator[tuple[str, float | None, int]]:
        """(path, mtime, size) of every file under ``path``, dot-files included."""
        base = self.root / path
        for directory, _dirs, names in os.walk(base):
            for name in names:
                full = Path(directory) / name
                with contextlib.suppress(OSError):
                    info = full.lstat()
                    yield str(full.relative_to(self.root)), info.st_mtime, info.st_size

    def remove(self, path: str) -> None:
        (self.root / path).unlink()

    def move(self, source: str, target: str) -> None:
        (self.root / target).parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.root / source, self.root / target)

    def stale_temp(self, path: str, mtime: float | None, now: float) -> bool:
        """True when ``path`` is a temp file whose writer is gone (see module doc)."""
        match = _TEMP_RE.match(Path(path).name)
        if not match:
            return False
        dead = match.group("host") == HOST and not process_alive(int(match.group("pid")))
        if not dead and (mtime is None or now - mtime < STALE_TEMP_SECONDS):
            return False
        try:
            fd = os.open(self.root / path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return False
        try:
            return _flock(fd, blocking=False)  # held by a live writer: not stale
        finally:
            os.close(fd)


def _flock(fd: int, *, blocking: bool) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; remote clean then goes by age only
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    except OSError:  # a filesystem without flock: fall back to pid and age
        return True
    return True


class _Fsspec:
    """Any fsspec filesystem; object stores make a PUT visible only when complete."""

    def __init__(self, url: str, options: dict[str, str]) -> None:
        try:
            import fsspec
        except ModuleNotFoundError:
            raise RemoteError("remotes on URLs need fsspec: pip install fsspec") from None
        protocol, _, rest = url.partition("://")
        try:
            self.fs = fsspec.filesystem(
                protocol, use_listings_cache=False, skip_instance_cache=True, **options
            )
        except (ImportError, ValueError) as exc:
            hint = " (pip install s3fs)" if protocol in ("s3", "s3a") else ""
            raise RemoteError(f"cannot open {protocol}:// remotes: {exc}{hint}") from None
        self.root = rest.rstrip("/")

    def _p(self, path: str) -> str:
        return f"{self.root}/{path}" if path else self.root

    def read(self, path: str, on_bytes: OnBytes | None = None) -> bytes | bytearray:
        if on_bytes is None:
            return self.fs.cat_file(self._p(path))
        with self.fs.open(self._p(path), "rb") as handle:
            return _read_in_pieces(handle, int(handle.size), on_bytes)

    def exists(self, path: str) -> bool:
        return self.fs.exists(self._p(path))

    def list(self, path: str) -> list[str]:
        try:
            found = self.fs.ls(self._p(path), detail=False)
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(
            name
            for name in (str(p).rstrip("/").rsplit("/", 1)[-1] for p in found)
            if name and not name.startswith(".")
        )

    def write(
        self,
        path: str,
        data: bytes,
        *,
        exclusive: bool = False,
        on_bytes: OnBytes | None = None,
    ) -> None:
        if exclusive and self.exists(path):
            raise FileExistsError(path)
        self.fs.pipe_file(self._p(path), data)  # one PUT: visible only when complete
        if on_bytes is not None:
            on_bytes(len(data))

    def files(self, path: str) -> Iterator[tuple[str, float | None, int]]:
        """(path, mtime or None when the store does not say, size) of every object under
        ``path``."""
        try:
            found = self.fs.find(self._p(path), detail=True)
        except (FileNotFoundError, NotADirectoryError):
            return
        prefix = f"{self.root}/"
        for name, info in found.items():
            stamp = info.get("LastModified") or info.get("mtime") or info.get("created")
            mtime = stamp.timestamp() if hasattr(stamp, "timestamp") else stamp
            relative = str(name).removeprefix(prefix)
            yield (
                relative,
                float(mtime) if isinstance(mtime, int | float) else None,
                int(info.get("size") or 0),
            )

    def remove(self, path: str) -> None:
        self.fs.rm_file(self._p(path))

    def move(self, source: str, target: str) -> None:
        self.fs.mv(self._p(source), self._p(target))

    def stale_temp(self, path: str, mtime: float | None, now: float) -> bool:
        return False  # object stores make a write visible only when complete: no temp files


def _read_in_pieces(handle: Any, size: int, on_bytes: OnBytes) -> bytearray:
    """Read ``size`` bytes from ``handle`` in pieces, telling ``on_bytes`` after each."""
    buffer = bytearray(size)
    view = memoryview(buffer)
    filled = 0
    while filled < size:
        got = handle.readinto(view[filled : filled + _CHUNK])
        if not got:
            break
        filled += got
        on_bytes(got)
    view.release()
    if filled < size:
        del buffer[filled:]
    return buffer


def remote_version(local: int, published: list[int]) -> tuple[int, bool]:
    """The version a push publishes: the local number when it is newer than every version
    the remote has of that owner and name (so local ``big@2`` stays ``@2``), else the next
    one after them. The second item says whether it had to differ from the local number."""
    latest = max(published, default=0)
    if local > latest:
        return local, False
    return latest + 1, True


def _quote(name: str) -> str:
    return urllib.parse.quote(name, safe="")


@dataclass
class PushResult:
    ref: str  # owner/name@version on the remote
    remote: str
    uploaded: int  # bytes sent (blobs and manifest)
    blobs_sent: int
    blobs_present: int
    already: bool = False
    left_out: dict[str, str] = field(default_factory=dict)
    local: str = ""  # the local snapshot pushed, name@version
    renumbered: str = ""  # why the remote version differs from the local one ("" when equal)

    def __str__(self) -> str:
        if self.already:
            return f"already on {self.remote} as {self.ref}"
        text = (
            f"pushed {self.ref} to {self.remote}: "
            f"{plural(self.blobs_sent, 'object')} sent ({human_size(self.uploaded)}), "
            f"{self.blobs_present} already there"
        )
        if self.renumbered:
            text += f"\n  {self.renumbered}"
        return text + describe_left_out(self.left_out)


@dataclass
class PullResult:
    ref: str
    id: str
    remote: str
    added: bool
    downloaded: int
    signer: str

    def __str__(self) -> str:
        if not self.added:
            return f"already here: {self.ref} ({self.id}), {self.signer}"
        return (
            f"pulled {self.ref} ({self.id}) from {self.remote}: {human_size(self.downloaded)} "
            f"downloaded, {self.signer}"
        )


@dataclass(frozen=True)
class RemoteSnapshot:
    owner: str
    name: str
    version: int

    @property
    def ref(self) -> str:
        return f"{self.owner}/{self.name}@{self.version}"

    @property
    def path(self) -> str:
        return f"manifests/{self.owner}/{_quote(self.name)}/{self.version:06d}.msgpack"


def parse_spec(spec: str) -> tuple[str | None, str, int | None]:
    """``[OWNER/]NAME[@VERSION]`` -> (owner, name, version)."""
    rest, at, number = spec.strip().rpartition("@")
    if not at:
        rest, number = spec.strip(), ""
    elif not number.isdigit():
        raise SessionsError(f"bad version in {spec!r}: expected NAME@NUMBER")
    owner, slash, name = rest.partition("/")
    if not slash:
        owner, name = "", rest
    validate_name(name)
    return (identity.check_owner(owner) if owner else None), name, (int(number) if number else None)


class Remote:
    def __init__(self, config: RemoteConfig) -> None:
        self.config = config
        self.name = config.name
        url = config.url
        if "://" not in url or url.startswith("file://"):
            self.t: Any = _Folder(url.removeprefix("file://"))
        else:
            self.t = _Fsspec(url, config.options)

    # --- layout -------------------------------------------------------------------------
    def init(self) -> None:
        """Make the remote a sessions remote (or check that it is one)."""
        try:
            if self.t.exists("SESSIONS-REMOTE"):
                self.check()
            else:
                self.t.write("SESSIONS-REMOTE", f"sessions-remote {REMOTE_FORMAT}\n".encode())
        except OSError as exc:
            raise RemoteError(f"cannot use {self.config.url}: {_why(exc)}") from None

    def check(self) -> None:
        try:
            text = self.t.read("SESSIONS-REMOTE").decode(errors="replace").strip()
        except FileNotFoundError:
            raise RemoteError(
                f"{self.config.url} is not a sessions remote (no SESSIONS-REMOTE file); "
                "add it with sessions-tui remote add"
            ) from None
        except OSError as exc:
            raise RemoteError(f"cannot reach {self.config.url}: {_why(exc)}") from None
        match = re.match(r"^sessions-remote (\d+)$", text)
        if not match:
            raise RemoteError(f"{self.config.url} is not a sessions remote")
        if int(match.group(1)) > REMOTE_FORMAT:
            raise NewerFormatError(
                f"{self.config.url} uses remote format {match.group(1)}; upgrade sessions-tui"
            )

    def _blob_path(self, digest: str) -> str:
        return f"blobs/{digest[:2]}/{digest[2:]}"

    def read_blob(self, digest: str, on_bytes: OnBytes | None = None) -> bytes | bytearray:
        """A blob file's bytes; also found while a running ``remote clean`` holds it."""
        try:
            return self.t.read(self._blob_path(digest), on_bytes)
        except FileNotFoundError:
            return self.t.read(f"trash/{digest}", on_bytes)

    # --- listing ------------------------------------------------------------------------
    def owners(self) -> list[str]:
        return self.t.list("manifests")

    def names(self, owner: str) -> list[str]:
        return [urllib.parse.unquote(n) for n in self.t.list(f"manifests/{owner}")]

    def versions(self, owner: str, name: str) -> list[int]:
        found = []
        for file in self.t.list(f"manifests/{owner}/{_quote(name)}"):
            match = _MANIFEST_RE.match(file)
            if match:
                found.append(int(match.group(1)))
        return sorted(found)

    def snapshots(self) -> list[RemoteSnapshot]:
        self.check()
        return [
            RemoteSnapshot(owner, name, version)
            for owner in self.owners()
            for name in self.names(owner)
            for version in self.versions(owner, name)
        ]

    def manifest(self, snap: RemoteSnapshot) -> Manifest:
        """A remote manifest, decoded (bounded) and checked against its place."""
        try:
            data = self.t.read(snap.path)
        except FileNotFoundError:
            raise UnknownRefError(snap.ref) from None
        except OSError as exc:
            raise RemoteError(f"cannot read {snap.ref} from {self.name}: {_why(exc)}") from None
        if len(data) > MAX_MANIFEST_BYTES:
            raise FormatError(f"{snap.ref} on {self.name}: manifest over the size limit")
        try:
            manifest = Manifest.decode(data)
        except FormatError as exc:
            raise FormatError(f"{snap.ref} on {self.name}: {exc}") from None
        if (manifest.owner, manifest.name, manifest.version) != (
            snap.owner,
            snap.name,
            snap.version,
        ):
            raise FormatError(
                f"{snap.ref} on {self.name}: the manifest says it is {manifest.ref}; refusing it"
            )
        return manifest

    def find(self, spec: str) -> RemoteSnapshot:
        """Resolve ``[OWNER/]NAME[@VERSION]`` on this remote (newest version by default)."""
        self.check()
        owner, name, version = parse_spec(spec)
        if owner is None:
            owners = [o for o in self.owners() if self.versions(o, name)]
            if not owners:
                raise UnknownRefError(spec, self._close(name))
            if len(owners) > 1:
                raise SessionsError(
                    f"{name!r} on {self.name} is published by {', '.join(owners)}; "
                    f"say whose: {owners[0]}/{name}"
                )
            owner = owners[0]
        versions = self.versions(owner, name)
        if not versions:
            raise UnknownRefError(spec, self._close(name))
        if version is None:
            version = versions[-1]
        elif version not in versions:
            raise UnknownRefError(spec, [f"{owner}/{name}@{v}" for v in versions[-5:]])
        return RemoteSnapshot(owner, name, version)

    def _close(self, name: str) -> list[str]:
        import difflib

        known = [f"{o}/{n}" for o in self.owners() for n in self.names(o)]
        return difflib.get_close_matches(name, known + [k.split("/", 1)[1] for k in known], n=3)

    # --- push and pull ------------------------------------------------------------------
    def push(
        self,
        store: Store,
        ref: str,
        *,
        owner: str | None = None,
        include_secrets: bool = False,
        progress: ProgressCallback | None = None,
    ) -> PushResult:
        """Publish snapshot ``ref`` as ``owner``'s next version of its name.

        ``progress`` is called (on this thread) with bytes and objects sent; raising
        :class:`~sessions.core.errors.Cancelled` from it stops before the manifest is
        written: nothing is published, and the objects already sent are reused next time."""
        self.check()
        entry = store.resolve(ref)
        manifest = shareable_manifest(entry)
        owner = identity.check_owner(owner or identity.default_owner())
        versions = self.versions(owner, manifest.name)
        if versions:
            latest = RemoteSnapshot(owner, manifest.name, versions[-1])
            with contextlib.suppress(SessionsError):
                if self.manifest(latest).source == manifest.id:
                    return PushResult(latest.ref, self.name, 0, 0, 0, already=True)
        manifest = with_arrow(store, entry, manifest)
        version, moved = remote_version(manifest.version, versions)
        renumbered = ""
        if moved:
            renumbered = (
                f"{owner}/{manifest.name} on {self.name} already has versions up to "
                f"{versions[-1]}, so local {entry.ref} is {owner}/{manifest.name}@{version} there "
                "(versions count per owner and name on a remote; newer is always higher)"
            )
        shared = prepare(manifest, owner=owner, version=version, include_secrets=include_secrets)
        sent = present = uploaded = 0
        reporter = Reporter(
            progress,
            "push",
            total_bytes=sum(blob.stored for blob in shared.blobs),
            total_items=len(shared.blobs),
            unit="objects",
        )
        on_bytes = reporter.add_bytes if progress is not None else None
        try:
            for blob in shared.blobs:
                reporter.poll()
                path = self._blob_path(blob.hash)
                if self.t.exists(path):
                    present += 1
                    reporter.advance(nbytes=blob.stored, items=1)
                    continue
                data = store.blobs.framed(blob.hash)
                self.t.write(path, data, on_bytes=on_bytes)
                sent += 1
                uploaded += len(data)
                # counted as sent; the stored size may differ from the framed one by a header
                reporter.advance(nbytes=blob.stored - (len(data) if on_bytes else 0), items=1)
            reporter.poll()  # the last point to stop: nothing is published before the manifest
            target = RemoteSnapshot(owner, manifest.name, version)
            encoded = shared.manifest.encode()
            self.t.write(target.path, encoded, exclusive=True)
            for blob in shared.blobs:  # one a concurrent `remote clean` took comes back
                path = self._blob_path(blob.hash)
                if not self.t.exists(path):
                    data = store.blobs.framed(blob.hash)
                    self.t.write(path, data)
                    uploaded += len(data)
        except Cancelled:
            kept = f"; the {sent} objects already sent stay and the next push reuses them"
            raise Cancelled(
                f"push cancelled: nothing was published on {self.name}" + (kept if sent else "")
            ) from None
        except FileExistsError:
            raise RemoteError(
                f"{owner}/{manifest.name}@{version} was just published by someone else; push again"
            ) from None
        except OSError as exc:
            raise RemoteError(
                f"push to {self.name} interrupted: {_why(exc)}; pushing again resumes "
                f"({sent} blobs already sent are kept)"
            ) from None
        reporter.finish()
        return PushResult(
            target.ref,
            self.name,
            uploaded + len(encoded),
            sent,
            present,
            left_out=shared.left_out,
            local=entry.ref,
            renumbered=renumbered,
        )

    def pull(
        self,
        store: Store,
        spec: str,
        *,
        trust_once: bool = False,
        progress: ProgressCallback | None = None,
    ) -> PullResult:
        """Copy ``[OWNER/]NAME[@VERSION]`` into ``store``: signature and every blob checked,
        all or nothing. A signer you do not trust is refused unless ``trust_once``.
        ``progress`` is called (on this thread) with bytes and objects received; raising
        :class:`~sessions.core.errors.Cancelled` from it stops the pull with nothing added."""
        snap = self.find(spec)
        manifest = self.manifest(snap)
        what = f"{snap.ref} on {self.name}"
        signer = signing.check_integrity(manifest, what)
        signing.check_owner(signer, what, "pull")
        if not signer.trusted and not trust_once:
            signing.check_trusted(manifest, what, verb="pull")
        with Incoming(store, manifest, what) as incoming:
            needed = incoming.needed()
            reporter = Reporter(
                progress,
                "pull",
                total_bytes=sum(ref.stored for ref in needed),
                total_items=len(needed),
                unit="objects",
            )
            try:
                self._receive(incoming, needed, what, reporter, progress is not None)
                reporter.poll()  # the last point to stop: nothing is added before the commit
            except Cancelled:
                raise Cancelled(f"pull of {snap.ref} cancelled: nothing was added") from None
            entry, added = incoming.commit()
            downloaded = incoming.received
        reporter.finish()
        return PullResult(entry.ref, entry.id, self.name, added, downloaded, signer.describe())

    def _receive(
        self,
        incoming: Incoming,
        needed: list[BlobRef],
        what: str,
        reporter: Reporter,
        telling: bool,
    ) -> None:
        """Read each needed blob from the remote and stage it (checked) in ``incoming``."""
        on_bytes = reporter.add_bytes if telling else None
        for ref in needed:
            reporter.poll()
            try:
                data = self.read_blob(ref.hash, on_bytes)
            except FileNotFoundError:
                raise RemoteError(
                    f"{what}: blob {ref.hash[:12]} is missing on the remote"
                ) from None
            except OSError as exc:
                raise RemoteError(f"{what}: cannot read a blob: {_why(exc)}") from None
            incoming.stage(ref.hash, data)
            reporter.advance(nbytes=ref.stored - (len(data) if telling else 0), items=1)

    def pull_data(
        self, spec: str, names: list[str] | None = None, *, out_dir: Path | None = None
    ) -> tuple[str, DataResult]:
        """The pickle-free arrays of ``spec`` from any sender (signature intact, blobs
        hash-checked; nothing unpickled, nothing added to the store), with who signed them;
        one that cannot be read safely is named in ``failed`` and the rest delivered."""
        snap = self.find(spec)
        manifest = self.manifest(snap)
        what = f"{snap.ref} on {self.name}"
        found = signing.check_integrity(manifest, what)

        def read(digest: str) -> bytes:
            try:
                return bytes(self.read_blob(digest))  # bytes already: read whole, no copy
            except FileNotFoundError:
                raise RemoteError(f"{what}: blob {digest[:12]} is missing on the remote") from None
            except OSError as exc:
                raise RemoteError(f"{what}: cannot read blob {digest[:12]}: {_why(exc)}") from None

        return snap.ref, load_data(manifest, read, names, out_dir=out_dir, signer=found.describe())

    # --- cleaning ---------------------------------------------------------------------------
    def _referenced(self) -> set[str] | None:
        """Every blob a manifest on the remote names; None if any manifest is unreadable
        (then nothing can be known unreferenced)."""
        found: set[str] = set()
        for snap in self.snapshots():
            try:
                found |= self.manifest(snap).blob_hashes()
            except SessionsError:
                return None
        return found

    def clean(self, *, older_than: float = 86400.0) -> CleanResult:
        """Remove what killed pushes left: temp files whose writer is gone, and blobs no
        manifest references that are older than ``older_than`` seconds (module doc)."""
        self.check()
        result = CleanResult(self.name)
        try:
            for path, _mtime, _size in list(self.t.files("trash")):  # a clean killed midway
                digest = path.rsplit("/", 1)[-1]
                if _HASH_RE.match(digest):
                    with contextlib.suppress(FileNotFoundError):
                        self.t.move(path, self._blob_path(digest))
            now = time.time()
            for prefix in ("blobs", "manifests"):
                for path, mtime, size in list(self.t.files(prefix)):
                    if self.t.stale_temp(path, mtime, now):
                        with contextlib.suppress(FileNotFoundError):
                            self.t.remove(path)
                            result.temps += 1
                            result.freed += size
            referenced = self._referenced()
            if referenced is None:
                result.kept = "a manifest on the remote is unreadable, so no blob was removed"
                return result
            taken: dict[str, int] = {}
            for path, mtime, size in list(self.t.files("blobs")):
                parts = path.split("/")
                digest = "".join(parts[-2:]) if len(parts) >= 3 else ""
                if not _HASH_RE.match(digest) or digest in referenced:
                    continue
                if mtime is None or now - mtime < older_than or path != self._blob_path(digest):
                    continue
                with contextlib.suppress(FileNotFoundError):
                    self.t.move(path, f"trash/{digest}")
                    taken[digest] = size
            again = self._referenced() if taken else set()
            for digest, size in taken.items():
                if again is None or digest in again:  # a push named it meanwhile: back it goes
                    self.t.move(f"trash/{digest}", self._blob_path(digest))
                else:
                    self.t.remove(f"trash/{digest}")
                    result.blobs += 1
                    result.freed += size
        except OSError as exc:
            raise RemoteError(
                f"cleaning {self.name} stopped: {_why(exc)}; run it again to finish"
            ) from None
        return result


_HASH_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class CleanResult:
    remote: str
    temps: int = 0  # temp files of killed writes removed
    blobs: int = 0  # unreferenced blobs removed
    freed: int = 0
    kept: str = ""  # why blobs were left alone, if they were

    def __str__(self) -> str:
        text = (
            f"cleaned {self.remote}: {self.temps} temp files and {self.blobs} unreferenced "
            f"blobs removed ({human_size(self.freed)} freed)"
        )
        return text + (f"; {self.kept}" if self.kept else "")


def _why(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.splitlines()[0] if text else type(exc).__name__
