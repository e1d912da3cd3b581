"""The session dir: layout, snapshot listing, reference resolution, commit and removal.

Layout (store format 3)
-----------------------
::

    FORMAT                                   "sessions-store 3"
    blobs/ab/cdef…                           big objects, one file each (sessions.core.store.blobs)
    blobs/pack/pack-<hash>.pack, .idx        small objects, packed (sessions.core.store.packs)
    snapshots/<slug>/<NNNNNN>-<ID>.msgpack   manifests (sessions.core.store.manifest), one per snapshot
    snapshots/<slug>/LAST                    the highest version removed ("<N>\n"): never reused
    annotations/<ID>.msgpack                 pins and edited notes/tags (sessions.core.store.annotation)
    locks/gc.lock, locks/names.lock          advisory locks (sessions.core.store.locks)
    *.pkl, *.dill (anywhere but the above)   foreign dill.dump_module files, read-only

``<slug>`` is the snapshot name made filesystem-safe plus 8 hex chars of its blake3 hash, so
every version of a name sits in one small directory: picking version N+1 lists one dir, and a
damaged manifest still shows its name, version and id from its path. Files starting with a
dot are temp files of writes in progress; nothing lists them. Everything is created 0700/0600.

Format 3 writes manifests of schema 2 (an indexed head and checksummed sections, see
sessions.core.store.manifest_index) instead of one msgpack map (schema 1); everything else is
as in format 2, and manifests of schema 1 are still read. Format-2 code cannot read schema 2,
so the first write by this version rewrites ``FORMAT`` to 3 and format-2 code refuses the store
plainly ("newer than this sessions-tui understands").

Expendable snapshots: names starting with ``cache:`` are cache entries
(sessions.core.engine.cache), kept in ``snapshots/cache~<slug>/`` ('~' never appears in
another slug). They are written without fsync (manifest and volatile packs,
sessions.core.store.packs): a power loss may leave one torn, empty or gone, which its reader
sees as damage and treats as absence, never as a value. Because the directory name says what
they are whatever their bytes say, gc removes a damaged one instead of refusing to run.

Format 1 (sessions-tui 0.1) had no packs: every object was a blob file. A format-2 reader
reads those as they are (objects are looked up in packs, then as blob files), so a store may
hold format-1 and format-2 snapshots side by side. The first write by this version rewrites
``FORMAT`` (to 3 now), so that format-1 code, which cannot see packed objects, refuses the store
plainly instead of reporting them missing.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import blake3

from sessions.core.errors import (
    AmbiguousRefError,
    FormatError,
    NameError_,
    NewerFormatError,
    SessionsError,
    StoreError,
    UnknownRefError,
)
from sessions.core.paths import session_home
from sessions.core.store import annotation, ids
from sessions.core.store.atomic import DIR_MODE, ensure_dir, fsync_dir, os_error, write_file
from sessions.core.store.blobs import BlobStore
from sessions.core.store.locks import locked
from sessions.core.store.manifest import MAX_MANIFEST_BYTES, Manifest
from sessions.core.store.manifest_index import ManifestIndex

STORE_FORMAT = 3
LAST_REMOVED = "LAST"
FOREIGN_SUFFIXES = (".pkl", ".dill")
_RESERVED = {"blobs", "snapshots", "locks", "annotations"}
_FILE_RE = re.compile(r"^(\d{6,})-([0-9A-HJKMNP-TV-Z]{26})\.msgpack$")
_NAME_BAD = re.compile(r"[/\\@\x00-\x1f\x7f]")
_FOREIGN_DEPTH = 3


def validate_name(name: str) -> str:
    """Check a snapshot name: 1–200 chars, no '/', '\\', '@' or control characters."""
    if not isinstance(name, str) or not name.strip():
        raise NameError_("a snapshot name cannot be empty")
    if len(name) > 200:
        raise NameError_("a snapshot name is at most 200 characters")
    if _NAME_BAD.search(name) or name.startswith("."):
        raise NameError_(
            f"invalid snapshot name {name!r}: no '/', '\\', '@', control characters or leading '.'"
        )
    return name


EXPENDABLE_PREFIX = "cache:"
EXPENDABLE_DIR = "cache~"


def expendable(name: str) -> bool:
    """Whether snapshots named ``name`` are expendable (see the module docstring)."""
    return name.startswith(EXPENDABLE_PREFIX)


def slug(name: str) -> str:
    """The directory name holding every version of ``name``."""
    rest = name[len(EXPENDABLE_PREFIX) :] if expendable(name) else name
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", rest)[:48].strip("._") or "x"
    digest = blake3.blake3(name.encode()).hexdigest()[:8]
    return f"{EXPENDABLE_DIR if expendable(name) else ''}{safe}-{digest}"


def expendable_file(path: Path) -> bool:
    """Whether the manifest file at ``path`` is an expendable snapshot's (from its
    directory's name alone: the file itself may be damaged)."""
    return path.parent.name.startswith(EXPENDABLE_DIR)


@dataclass(frozen=True)
class Entry:
    """One thing in the session dir a user can refer to: a snapshot or a foreign dill file."""

    kind: str  # "snapshot" or "foreign"
    id: str
    name: str
    version: int
    path: Path
    created: float
    manifest: Manifest | None = None
    error: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}" if self.kind == "snapshot" else self.id

    @property
    def damaged(self) -> bool:
        return self.error is not None


class Store:
    """A session dir. Reading never creates anything; writing creates the layout on demand."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else session_home()
        self.blobs = BlobStore(self.root / "blobs")
        self.snapshots_dir = self.root / "snapshots"
        self.locks_dir = self.root / "locks"

    # --- layout -----------------------------------------------------------------------
    def check_format(self) -> int | None:
        """The store format of this dir (None when it has no FORMAT file yet); refuses a
        newer one plainly."""
        marker = self.root / "FORMAT"
        try:
            text = marker.read_text().strip()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise StoreError(f"cannot read {marker}: {exc.strerror}") from None
        match = re.match(r"^sessions-store (\d+)$", text)
        if not match:
            raise StoreError(f"{self.root} is not a sessions store (bad FORMAT file)")
        if int(match.group(1)) > STORE_FORMAT:
            raise NewerFormatError(
                f"{self.root} uses store format {match.group(1)}, newer than this "
                f"sessions-tui understands ({STORE_FORMAT}); upgrade sessions-tui"
            )
        return int(match.group(1))

    def ensure(self) -> None:
        """Create the layout (0700) and check it can be written."""
        found = self.check_format()
        for directory in (self.root, self.blobs.root, self.snapshots_dir, self.locks_dir):
            ensure_dir(directory)
        with contextlib.suppress(OSError):
            os.chmod(self.root, DIR_MODE)
        if not os.access(self.root, os.W_OK) or not os.access(self.snapshots_dir, os.W_OK):
            raise StoreError(f"session dir {self.root} is not writable")
        if found is None or found < STORE_FORMAT:
            write_file(self.root / "FORMAT", [f"sessions-store {STORE_FORMAT}\n".encode()])

    # --- reading ----------------------------------------------------------------------
    def _name_dirs(self) -> Iterator[Path]:
        try:
            children = list(os.scandir(self.snapshots_dir))
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StoreError(f"cannot read {self.snapshots_dir}: {exc.strerror}") from None
        for child in children:
            if child.is_dir(follow_symlinks=False) and not child.name.startswith("."):
                yield Path(child.path)

    def _manifest_files(self, directory: Path) -> list[tuple[int, str, Path]]:
        found = []
        try:
            names = os.listdir(directory)
        except OSError:
            return []
        for file in names:
            match = _FILE_RE.match(file)
            if match:
                found.append((int(match.group(1)), match.group(2), directory / file))
        found.sort()
        return found

    def _find_id(self, snapshot_id: str) -> tuple[int, str, Path] | None:
        """(version, id, path) of the manifest file of ``snapshot_id``: file names only, no
        manifest read and no path made per file (a store may hold many thousands)."""
        suffix = f"-{snapshot_id}.msgpack"
        for directory in self._name_dirs():
            try:
                names = os.listdir(directory)
            except OSError:
                continue
            for file in names:
                if file.endswith(suffix) and (match := _FILE_RE.match(file)):
                    return int(match.group(1)), snapshot_id, directory / file
        return None

    def manifest_files(self) -> Iterator[tuple[int, str, Path]]:
        """(version, id, path) of every manifest file, without reading any."""
        for directory in self._name_dirs():
            yield from self._manifest_files(directory)

    def versions(self, name: str) -> list[tuple[int, str, Path]]:
        """(version, id, path) of the manifest files in ``name``'s directory, oldest first,
        without reading any. Two names may share a directory (their slugs collide), so a
        caller that needs exactly ``name`` checks each manifest's label."""
        return self._manifest_files(self.snapshots_dir / slug(name))

    @staticmethod
    def read_manifest(path: Path) -> Manifest:
        """Read and validate one manifest; FormatError says what is wrong."""
        try:
            if path.is_symlink():
                raise FormatError("manifest is a symlink; not followed")
            with open(path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if size > MAX_MANIFEST_BYTES:
                    raise FormatError(
                        f"manifest is {size} bytes, over the {MAX_MANIFEST_BYTES} limit"
                    )
                data = handle.read(MAX_MANIFEST_BYTES + 1)
        except FileNotFoundError:
            raise FormatError("manifest disappeared") from None
        except OSError as exc:
            raise FormatError(f"manifest cannot be read: {exc.strerror}") from None
        manifest = Manifest.decode(data)
        match = _FILE_RE.match(path.name)
        if match and (manifest.id != match.group(2) or manifest.version != int(match.group(1))):
            raise FormatError("manifest does not match its file name")
        return manifest

    def entry_at(self, version: int, snapshot_id: str, path: Path) -> Entry:
        """The entry for one manifest file; a damaged manifest gives an entry with ``error``."""
        try:
            manifest = self.read_manifest(path)
        except SessionsError as exc:
            base = path.parent.name.rsplit("-", 1)[0]
            return Entry(
                "snapshot",
                snapshot_id,
                base,
                version,
                path,
                ids.id_time(snapshot_id),
                error=str(exc),
            )
        return Entry(
            "snapshot",
            manifest.id,
            manifest.label,
            manifest.version,
            path,
            manifest.created,
            manifest=manifest,
        )

    def entries(self, *, foreign: bool = True) -> list[Entry]:
        """Every snapshot (damaged ones included) and foreign file, oldest first."""
        out = [self.entry_at(v, i, p) for v, i, p in self.manifest_files()]
        if foreign:
            out.extend(self.foreign_entries())
        out.sort(key=lambda e: (e.created, e.id))
        return out

    def foreign_paths(self) -> list[Path]:
        """``dill.dump_module`` files dropped anywhere in the session dir (not in our dirs)."""
        found: list[Path] = []

        def walk(directory: Path, depth: int) -> None:
            try:
                children = list(os.scandir(directory))
            except OSError:
                return
            for child in children:
                if child.name.startswith("."):
                    continue
                if child.is_dir(follow_symlinks=False):
                    if depth == 0 and child.name in _RESERVED:
                        continue
                    if depth < _FOREIGN_DEPTH:
                        walk(Path(child.path), depth + 1)
                elif child.is_file(follow_symlinks=False) and child.name.endswith(FOREIGN_SUFFIXES):
                    found.append(Path(child.path))

        if self.root.is_dir():
            walk(self.root, 0)
        return sorted(found)

    def foreign_entries(self) -> list[Entry]:
        from sessions.core.engine.foreign import foreign_entry

        return [foreign_entry(self, path) for path in self.foreign_paths()]

    def latest(self, name: str) -> Entry | None:
        found = self._latest_file(name)
        return self.entry_at(*found) if found is not None else None

    def _latest_file(self, name: str) -> tuple[int, str, Path] | None:
        """The newest manifest file of ``name`` (its label checked from the head alone, since
        two names can share a slug), or a damaged newest one."""
        files = self._manifest_files(self.snapshots_dir / slug(name))
        for version, snapshot_id, path in reversed(files):
            try:
                label = self.read_index(path).head.label
            except SessionsError:
                return version, snapshot_id, path
            if label == name:
                return version, snapshot_id, path
        return None

    def names(self) -> list[str]:
        """Snapshot names (read from each name's newest readable manifest)."""
        out = []
        for directory in self._name_dirs():
            for version, snapshot_id, path in reversed(self._manifest_files(directory)):
                entry = self.entry_at(version, snapshot_id, path)
                if entry.manifest is not None:
                    out.append(entry.manifest.label)
                    break
        return sorted(out)

    def read_index(self, path: Path) -> ManifestIndex:
        """A manifest read for one load: a schema-2 manifest's head alone (its sections are
        read when asked for), a schema-1 manifest whole; FormatError says what is wrong."""
        if path.is_symlink():
            raise FormatError("manifest is a symlink; not followed")
        try:
            index = ManifestIndex.open(path)
        except FormatError:
            index = ManifestIndex.of(self.read_manifest(path))
        head = index.head
        match = _FILE_RE.match(path.name)
        if match and (head.id != match.group(2) or head.version != int(match.group(1))):
            raise FormatError("manifest does not match its file name")
        return index

    # --- references -------------------------------------------------------------------
    def resolve(self, ref: str) -> Entry:
        """Find the entry ``ref`` names: an id, a unique id prefix, ``name``, ``name@N``,
        or the path (relative to the session dir) of a foreign dill file."""
        found = self.locate(ref)
        return found if isinstance(found, Entry) else self.entry_at(*found)

    def locate(self, ref: str) -> Entry | tuple[int, str, Path]:
        """Like :meth:`resolve`, without reading the snapshot's manifest: a foreign file's
        entry, or the (version, id, path) of a snapshot's manifest file."""
        ref = ref.strip()
        if not ref:
            raise UnknownRefError(ref)
        if ref.endswith(FOREIGN_SUFFIXES):
            for path in self.foreign_paths():
                if ref in (str(path.relative_to(self.root)), path.name, str(path)):
                    from sessions.core.engine.foreign import foreign_entry

                    return foreign_entry(self, path)
        upper = ref.upper()
        if ids.is_id(upper):
            found = self._find_id(upper)
            if found is not None:
                return found
        name, at, number = ref.rpartition("@")
        if at and number.isdigit() and name:
            own = self._manifest_files(self.snapshots_dir / slug(name))
            for version, snapshot_id, path in own:
                if version == int(number):
                    return version, snapshot_id, path
            if own:
                raise UnknownRefError(ref, [f"{name}@{v}" for v, _, _ in own[-5:]])
        else:
            latest = self._latest_file(ref)
            if latest is not None:
                return latest
        if len(ref) >= 4 and re.fullmatch(r"[0-9A-Za-z]+", ref):
            matches = [(v, i, p) for v, i, p in self.manifest_files() if i.startswith(upper)]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise AmbiguousRefError(ref, sorted(i for _, i, _ in matches))
        candidates = self.names()
        candidates += [e.id for e in self.foreign_entries()]
        import difflib  # only for the hint of a ref that names nothing

        close = difflib.get_close_matches(ref.split("@")[0], candidates, n=3, cutoff=0.6)
        raise UnknownRefError(ref, close)

    # --- writing ----------------------------------------------------------------------
    def lock(self, name: str, *, shared: bool = False, timeout: float | None = None):
        ensure_dir(self.locks_dir)
        return locked(self.locks_dir / name, shared=shared, timeout=timeout)

    def commit(self, name: str, build: Callable[[int, str | None], Manifest]) -> Manifest:
        """Write the manifest ``build(version, parent_id)`` returns as the next version of
        ``name``. Call only after every blob it names is durable (an expendable name's:
        written, and its manifest is not fsynced either)."""
        validate_name(name)
        directory = self.snapshots_dir / slug(name)
        with self.lock("names.lock"):
            ensure_dir(directory)
            files = self._manifest_files(directory)
            version = max(files[-1][0] if files else 0, self._last_removed(directory)) + 1
            parent = files[-1][1] if files else None
            manifest = build(version, parent)
            path = directory / f"{version:06d}-{manifest.id}.msgpack"
            write_file(path, [manifest.encode()], durable=not expendable(name))
        return manifest

    def add(self, manifest: Manifest) -> tuple[Entry, bool]:
        """Place a manifest made elsewhere (an import or a pull) as it is, under its label and
        version; returns (entry, added). Call only after every blob it names is durable.
        The same snapshot again is a no-op; another one at the same ``label@version`` is an
        error, never an overwrite."""
        directory = self.snapshots_dir / slug(manifest.label)
        with self.lock("names.lock"):
            for version, snapshot_id, path in self.manifest_files():
                if snapshot_id == manifest.id:
                    return self.entry_at(version, snapshot_id, path), False
            for version, snapshot_id, _path in self._manifest_files(directory):
                if version == manifest.version:
                    raise StoreError(
                        f"{manifest.ref} already exists here as another snapshot ({snapshot_id})"
                    )
            ensure_dir(directory)
            path = directory / f"{manifest.version:06d}-{manifest.id}.msgpack"
            write_file(path, [manifest.encode()])
        return self.entry_at(manifest.version, manifest.id, path), True

    @staticmethod
    def _last_removed(directory: Path) -> int:
        """The highest version of a name that was removed (0 when none was)."""
        try:
            text = (directory / LAST_REMOVED).read_text()[:32].strip()
        except (OSError, UnicodeDecodeError):
            return 0
        return int(text) if text.isdigit() else 0

    @staticmethod
    def _unlink(path: Path) -> bool:
        """Remove ``path``; False if it was already gone."""
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise os_error(exc, str(path)) from None
        return True

    def remove(self, entry: Entry) -> None:
        """Remove a snapshot's manifest (its blobs go at the next gc) or a foreign file."""
        if entry.kind != "snapshot":
            self._unlink(entry.path)
            return
        directory = entry.path.parent
        with self.lock("names.lock"):  # a save may be about to write into the name's dir
            newest = max((v for v, _, _ in self._manifest_files(directory)), default=0)
            if entry.version >= newest > self._last_removed(directory):
                # version numbers are never given out twice, so a shared or printed
                # name@N keeps meaning one snapshot: remember the newest before it goes
                write_file(directory / LAST_REMOVED, [f"{entry.version}\n".encode()])
            if not self._unlink(entry.path):
                return
            fsync_dir(directory)
            with contextlib.suppress(OSError):
                directory.rmdir()  # only when it held nothing else (no LAST record either)
            annotation.forget(self.root, entry.id)
