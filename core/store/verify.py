"""``verify``: re-hash every object a snapshot names, like ``git fsck`` for sessions.

Objects are checked wherever they live (blob files or packs); a damaged object is reported
once per snapshot that names it, with the variables it holds. Verifying the whole store also
checks each pack against its index (entry headers, index checksum), so damage that loads
still survive is reported too."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sessions.core.errors import Cancelled
from sessions.core.progress import ProgressCallback, Reporter
from sessions.core.store.packs import scan_pack, volatile
from sessions.core.store.session_dir import Entry, Store, expendable_file


@dataclass
class Problem:
    """One thing wrong, named by snapshot and, where it applies, variable."""

    ref: str
    id: str
    variables: tuple[str, ...]
    message: str

    def __str__(self) -> str:
        where = f"{self.ref} ({self.id})" if self.id else self.ref
        if self.variables:
            names = ", ".join(self.variables)
            return f"{where}: variable {names}: {self.message}"
        return f"{where}: {self.message}"


@dataclass
class VerifyReport:
    checked_snapshots: int = 0
    checked_blobs: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(
    store: Store,
    entries: list[Entry] | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> VerifyReport:
    """Check manifests and re-hash each referenced blob once (in parallel). ``progress`` is
    called (on this thread) with bytes and objects checked; raising
    :class:`~sessions.core.errors.Cancelled` from it stops the check (nothing is changed)."""
    report = VerifyReport()
    targets = entries if entries is not None else store.entries(foreign=False)
    needed: dict[str, list[tuple[Entry, tuple[str, ...]]]] = {}
    sizes: dict[str, int] = {}
    for entry in targets:
        if entry.kind != "snapshot":
            continue
        report.checked_snapshots += 1
        if entry.manifest is None:
            report.problems.append(
                Problem(entry.ref, entry.id, (), f"damaged manifest: {entry.error}{_hint(entry)}")
            )
            continue
        for group in entry.manifest.groups:
            for blob in group.blobs:
                needed.setdefault(blob.hash, []).append((entry, group.names))
                sizes[blob.hash] = blob.size
        for name, blob in entry.manifest.data_blobs():
            needed.setdefault(blob.hash, []).append((entry, (name,)))
            sizes[blob.hash] = blob.size
    reporter = Reporter(
        progress,
        "verify",
        total_bytes=sum(sizes.values()),
        total_items=len(needed),
        unit="objects",
    )
    on_bytes = reporter.add_bytes if progress is not None else None

    def check(digest: str) -> str | None:
        problem = store.blobs.check(digest, on_bytes)
        reporter.advance(items=1)
        return problem

    with ThreadPoolExecutor(4, thread_name_prefix="sessions-verify") as pool:
        futures = {digest: pool.submit(check, digest) for digest in needed}
        reporter.wait_all(futures.values())
        reporter.advance()  # one more call (when due): the last point to stop
        if reporter.cancelled:
            raise Cancelled("verify cancelled: nothing was changed")
        results = {digest: future.result() for digest, future in futures.items()}
    report.checked_blobs = len(results)
    for digest, problem in results.items():
        if problem is None:
            continue
        for entry, names in needed[digest]:
            report.problems.append(Problem(entry.ref, entry.id, names, problem + _hint(entry)))
    if entries is None:
        report.problems += pack_problems(store)
    reporter.finish()
    return report


def _hint(entry: Entry) -> str:
    """What to do about a damaged cache entry (written without fsync: a crash may tear it)."""
    if not expendable_file(entry.path):
        return ""
    return f" (a cache entry, computed again when next needed; 'sessions-tui cache rm {entry.ref}')"


def pack_problems(store: Store) -> list[Problem]:
    """Packs whose index is damaged or disagrees with the pack's own entry headers."""
    packs = store.blobs.packs
    out = []
    for name, table in packs.packs().items():
        label = f"{'volatile ' if volatile(name) else ''}pack {name.split('-', 1)[-1][:12]}"
        if name in packs.damaged:
            out.append(Problem(label, "", (), f"damaged index: {packs.damaged[name]}"))
            continue
        scanned, stopped = scan_pack(packs.path(name))
        found = {d: (o, ln, s, c) for d, o, ln, s, c in scanned}
        if stopped or any(found.get(d) != rec for d, rec in table.items()):
            why = stopped or "entry headers do not match its index"
            out.append(Problem(label, "", (), f"damaged: {why}"))
    return out
