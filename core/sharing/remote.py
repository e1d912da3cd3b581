"""Team remotes: a shared folder or any fsspec URL (``s3://bucket/prefix``), like git remotes.

Layout (remote format 1)
------------------------
::

    SESSIONS-REMOTE                                 "sessions-remote 1"
    blobs/ab/cdef…                                  blob files, as in a session dir
    manifests/<owner>/<quoted name>/<NNNNNN>.msgpack  signed manifests, one per version

Blobs are content-addressed and shared by the whole team: a push uploads only those the
remote lacks. A manifest is written last, and every write is visible only when complete (a
temp name and a rename on a folder, a single PUT on object storage), so an interrupted push
leaves at most some unreferenced blobs — which the next push reuses — and never a visible
half snapshot. Versions count per owner and name on the remote.

Remotes are configured in ``remotes.toml`` in the config dir (``sessions-tui remote``).
"""

from __future__ import annotations

import contextlib
import os
import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sessions.core.errors import FormatError, NewerFormatError, SessionsError, UnknownRefError
from sessions.core.paths import config_dir
from sessions.core.sharing import identity, signing
from sessions.core.sharing.dataonly import DataResult, load_data
from sessions.core.sharing.incoming import Incoming
from sessions.core.sharing.share import describe_left_out, prepare, shareable_manifest, with_arrow
from sessions.core.store.manifest import MAX_MANIFEST_BYTES, Manifest
from sessions.core.store.session_dir import Store, validate_name
from sessions.core.tomlfile import quote, read_toml
from sessions.core.units import human_size

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
class _Folder:
    """A directory (a shared drive): temp name, fsync, rename."""

    def __init__(self, root: str) -> None:
        self.root = Path(root)

    def read(self, path: str) -> bytes:
        return (self.root / path).read_bytes()

    def exists(self, path: str) -> bool:
        return (self.root / path).exists()

    def list(self, path: str) -> list[str]:
        try:
            return sorted(p for p in os.listdir(self.root / path) if not p.startswith("."))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def write(self, path: str, data: bytes, *, exclusive: bool = False) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / f".{target.name}.{os.getpid()}.tmp"
        try:
            with open(tmp, "wb") as handle:
                handle.write(data)
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

    def read(self, path: str) -> bytes:
        return self.fs.cat_file(self._p(path))

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

    def write(self, path: str, data: bytes, *, exclusive: bool = False) -> None:
        if exclusive and self.exists(path):
            raise FileExistsError(path)
        self.fs.pipe_file(self._p(path), data)


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

    def __str__(self) -> str:
        if self.already:
            return f"already on {self.remote} as {self.ref}"
        return (
            f"pushed {self.ref} to {self.remote}: {self.blobs_sent} blobs sent "
            f"({human_size(self.uploaded)}), {self.blobs_present} already there"
        ) + describe_left_out(self.left_out)


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
    ) -> PushResult:
        """Publish snapshot ``ref`` as ``owner``'s next version of its name."""
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
        version = (versions[-1] if versions else 0) + 1
        shared = prepare(manifest, owner=owner, version=version, include_secrets=include_secrets)
        sent = present = uploaded = 0
        try:
            for blob in shared.blobs:
                path = self._blob_path(blob.hash)
                if self.t.exists(path):
                    present += 1
                    continue
                data = store.blobs.framed(blob.hash)
                self.t.write(path, data)
                sent += 1
                uploaded += len(data)
            target = RemoteSnapshot(owner, manifest.name, version)
            encoded = shared.manifest.encode()
            self.t.write(target.path, encoded, exclusive=True)
        except FileExistsError:
            raise RemoteError(
                f"{owner}/{manifest.name}@{version} was just published by someone else; push again"
            ) from None
        except OSError as exc:
            raise RemoteError(
                f"push to {self.name} interrupted: {_why(exc)}; pushing again resumes "
                f"({sent} blobs already sent are kept)"
            ) from None
        return PushResult(
            target.ref, self.name, uploaded + len(encoded), sent, present, left_out=shared.left_out
        )

    def pull(self, store: Store, spec: str, *, trust_once: bool = False) -> PullResult:
        """Copy ``[OWNER/]NAME[@VERSION]`` into ``store``: signature and every blob checked,
        all or nothing. A signer you do not trust is refused unless ``trust_once``."""
        snap = self.find(spec)
        manifest = self.manifest(snap)
        what = f"{snap.ref} on {self.name}"
        signer = signing.check_integrity(manifest, what)
        signing.check_owner(signer, what, "pull")
        if not signer.trusted and not trust_once:
            signing.check_trusted(manifest, what, verb="pull")
        with Incoming(store, manifest, what) as incoming:
            for ref in incoming.needed():
                try:
                    data = self.t.read(self._blob_path(ref.hash))
                except FileNotFoundError:
                    raise RemoteError(
                        f"{what}: blob {ref.hash[:12]} is missing on the remote"
                    ) from None
                except OSError as exc:
                    raise RemoteError(f"{what}: cannot read a blob: {_why(exc)}") from None
                incoming.stage(ref.hash, data)
            entry, added = incoming.commit()
            downloaded = incoming.received
        return PullResult(entry.ref, entry.id, self.name, added, downloaded, signer.describe())

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
                return self.t.read(self._blob_path(digest))
            except FileNotFoundError:
                raise RemoteError(f"{what}: blob {digest[:12]} is missing on the remote") from None
            except OSError as exc:
                raise RemoteError(f"{what}: cannot read blob {digest[:12]}: {_why(exc)}") from None

        return snap.ref, load_data(manifest, read, names, out_dir=out_dir, signer=found.describe())


def _why(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.splitlines()[0] if text else type(exc).__name__
