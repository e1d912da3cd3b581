"""The library's public operations on a store, as the ``sessions`` facade and the CLI use them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sessions.core.engine.foreign import ForeignInfo, inspect_foreign
from sessions.core.store.manifest import Manifest
from sessions.core.store.session_dir import Entry, Store


@dataclass(frozen=True)
class SnapshotInfo:
    """A snapshot (or foreign dill file) as listed and inspected — nothing is unpickled."""

    kind: str
    id: str
    name: str
    version: int
    ref: str
    created: float
    path: str
    error: str | None = None
    manifest: Manifest | None = None
    foreign: ForeignInfo | None = None

    @property
    def damaged(self) -> bool:
        return self.error is not None

    @property
    def note(self) -> str:
        return self.manifest.note if self.manifest else ""

    @property
    def tags(self) -> tuple[str, ...]:
        return self.manifest.tags if self.manifest else ()

    @property
    def variables(self) -> dict[str, str]:
        """``{name: type}`` of what the snapshot holds."""
        if self.manifest is not None:
            return {v.name: v.type for v in self.manifest.variables}
        if self.foreign is not None:
            return dict(self.foreign.variables)
        return {}

    @property
    def skipped(self) -> dict[str, str]:
        return dict(self.manifest.skipped) if self.manifest else {}

    @property
    def stored(self) -> int:
        if self.manifest is not None:
            return self.manifest.stored
        try:
            import os

            return os.stat(self.path).st_size
        except OSError:
            return 0

    def preview(self, name: str) -> dict[str, Any]:
        """The stored preview of one variable."""
        var = self.manifest.variable(name) if self.manifest else None
        if var is None:
            raise KeyError(name)
        return dict(var.preview)

    def _repr_html_(self) -> str:
        from sessions.core.reprs import snapshot_html

        return snapshot_html(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        from sessions.core.reprs import snapshot_text

        printer.text(snapshot_text(self))


class SnapshotList(list[SnapshotInfo]):
    """What ``snapshots()`` returns: a list, shown as a table in notebooks and IPython."""

    def _repr_html_(self) -> str:
        from sessions.core.reprs import snapshots_html

        return snapshots_html(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        from sessions.core.reprs import snapshots_text

        printer.text("[...]" if cycle else snapshots_text(self))


def info(entry: Entry, *, deep: bool = False) -> SnapshotInfo:
    """Describe an entry; ``deep`` scans foreign files (slower, still runs nothing)."""
    foreign = inspect_foreign(entry.path) if (deep and entry.kind == "foreign") else None
    error = entry.error or (
        foreign.error if foreign is not None and not foreign.variables else None
    )
    return SnapshotInfo(
        kind=entry.kind,
        id=entry.id,
        name=entry.name,
        version=entry.version,
        ref=entry.ref,
        created=entry.created,
        path=str(entry.path),
        error=error,
        manifest=entry.manifest,
        foreign=foreign,
    )


def snapshots(store: Store | None = None, *, deep: bool = False) -> SnapshotList:
    store = store or Store()
    return SnapshotList(info(e, deep=deep) for e in store.entries())


def inspect(ref: str, store: Store | None = None) -> SnapshotInfo:
    store = store or Store()
    return info(store.resolve(ref), deep=True)
