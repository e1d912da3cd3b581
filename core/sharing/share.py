"""What leaves the machine when a snapshot is shared: a copy of its manifest, signed by the
sharer, without the variables that look like credentials.

Exports and pushes publish a *new* manifest: a fresh id (``source`` keeps the local one),
the sharer as ``owner``, the version the destination gives it, and the variables judged to
be secrets left out — with every variable pickled in the same group as one, since their
bytes are shared. Left-out names are listed in ``skipped`` so the receiver knows they
existed, and history lines that look like they hold a credential are blanked.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sessions.core.errors import SessionsError
from sessions.core.sharing import secrets, signing
from sessions.core.store import ids
from sessions.core.store.blobs import BlobRef
from sessions.core.store.manifest import Group, Manifest, Variable
from sessions.core.store.session_dir import Entry, Store


@dataclass(frozen=True)
class Shareable:
    manifest: Manifest  # signed by the sharer
    left_out: dict[str, str]  # name -> why it was not shared

    @property
    def blobs(self) -> list[BlobRef]:
        return list(self.manifest.all_blobs().values())


def shareable_manifest(entry: Entry) -> Manifest:
    if entry.kind == "foreign":
        raise SessionsError(
            f"{entry.ref} is a dill file, which cannot be checked or signed; load it and save "
            "it as a snapshot to share it"
        )
    if entry.manifest is None:
        raise SessionsError(f"snapshot {entry.ref} is damaged and cannot be shared: {entry.error}")
    return entry.manifest


def with_arrow(store: Store, entry: Entry, manifest: Manifest) -> Manifest:
    """``manifest`` with an Arrow IPC form for each DataFrame, when pyarrow is installed, so
    a teammate can read them without unpickling (``pull --data-only``). Made at share time
    from the sharer's own snapshot (loaded, so only when its signer is trusted); written as
    content-addressed blobs, so sharing the same frame again costs nothing. A frame Arrow
    cannot represent (mixed object columns) simply has no such form."""
    try:
        import pyarrow as pa
    except ModuleNotFoundError:
        return manifest
    frames = [v.name for v in manifest.variables if v.type == "pandas.DataFrame" and not v.data]
    if not frames:
        return manifest
    from sessions.core.engine.load import load_entry

    forms: dict[str, dict[str, object]] = {}
    for name in frames:
        namespace: dict[str, object] = {}
        try:
            report = load_entry(store, entry, names=[name], namespace=namespace)
        except SessionsError:
            return manifest  # not trusted (or damaged): share without Arrow forms
        if name not in report.loaded:
            continue
        try:
            table = pa.Table.from_pandas(namespace[name], preserve_index=True)
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, table.schema) as writer:
                writer.write_table(table)
            buffer = sink.getvalue()
        except (pa.ArrowException, TypeError, ValueError):
            continue
        ref, _ = store.blobs.put(memoryview(buffer))
        forms[name] = {"format": "arrow", "blob": ref.to_dict()}
        del namespace, table, buffer
    if not forms:
        return manifest
    return replace(
        manifest,
        variables=tuple(
            replace(v, data=forms[v.name]) if v.name in forms else v for v in manifest.variables
        ),
    )


def describe_left_out(left_out: dict[str, str]) -> str:
    """``"; left out 2: a (why); b (why)"``, or nothing when nothing was left out."""
    if not left_out:
        return ""
    return f"; left out {len(left_out)}: " + "; ".join(
        f"{name} ({why})" for name, why in left_out.items()
    )


def flagged(manifest: Manifest) -> dict[str, str]:
    """Variables that look like credentials: judged at save time, plus (for manifests made
    before that existed, or a name alone) their names and previews."""
    found = dict(manifest.secrets)
    for var in manifest.variables:
        if var.name in found:
            continue
        text = var.preview.get("repr") if isinstance(var.preview, dict) else None
        why = secrets.reason(var.name, text if isinstance(text, str) else None, preview=True)
        if why:
            found[var.name] = why
    return found


def prepare(
    manifest: Manifest,
    *,
    owner: str,
    version: int,
    include_secrets: bool = False,
    who: object | None = None,
) -> Shareable:
    """The manifest to publish as ``owner``'s ``version`` of its name (see module doc)."""
    left_out: dict[str, str] = {}
    if not include_secrets:
        secret = flagged(manifest)
        by_group: dict[int, list[str]] = {}
        for var in manifest.variables:
            by_group.setdefault(var.group, []).append(var.name)
        for var in manifest.variables:
            if var.name in secret:
                left_out[var.name] = f"looks like a credential: {secret[var.name]}"
                for other in by_group[var.group]:
                    if other not in secret:
                        left_out.setdefault(
                            other, f"stored together with {var.name!r}, which looks secret"
                        )
    kept_groups: list[Group] = []
    remap: dict[int, int] = {}
    for index, group in enumerate(manifest.groups):
        if not any(name in left_out for name in group.names):
            remap[index] = len(kept_groups)
            kept_groups.append(group)
    variables: list[Variable] = [
        replace(v, group=remap[v.group]) for v in manifest.variables if v.name not in left_out
    ]
    history = manifest.history
    if not include_secrets:
        history = tuple(
            "# (left out when shared: this input looks like it holds a credential)"
            if secrets.line_reason(line)
            else line
            for line in manifest.history
        )
    skipped = dict(manifest.skipped)
    skipped.update({name: f"not shared: {why}" for name, why in left_out.items()})
    published = replace(
        manifest,
        id=ids.new_id(),
        owner=owner,
        version=version,
        source=manifest.id,
        parent=None,
        groups=tuple(kept_groups),
        variables=tuple(variables),
        skipped=skipped,
        secrets={} if not include_secrets else dict(manifest.secrets),
        history=history,
        signature=None,
    )
    return Shareable(signing.sign(published, who), left_out)  # type: ignore[arg-type]
