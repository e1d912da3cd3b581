"""Comparing two snapshots from their manifests alone: what was added, removed or changed."""

from __future__ import annotations

from dataclasses import dataclass, field

from sessions.core.store.manifest import Manifest, Variable


@dataclass(frozen=True)
class Change:
    name: str
    before: str  # type (and shape) before, or "" when added
    after: str  # type (and shape) after, or "" when removed
    detail: str = ""


@dataclass
class Comparison:
    left: str
    right: str
    added: list[Change] = field(default_factory=list)
    removed: list[Change] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)
    same: list[str] = field(default_factory=list)


def _describe(var: Variable) -> str:
    shape = var.preview.get("shape")
    if isinstance(shape, list):
        return f"{var.type} {'×'.join(str(n) for n in shape)}"
    if "len" in var.preview:
        return f"{var.type} len {var.preview['len']}"
    return var.type


def _content(manifest: Manifest, var: Variable) -> tuple[str, ...]:
    if var.digest:  # saved in a batch: the value's own digest, not its batch's
        return ("value", var.digest)
    group = manifest.groups[var.group]
    return tuple(blob.hash for blob in group.blobs)


def compare(left: Manifest, right: Manifest) -> Comparison:
    """Changes from ``left`` to ``right``; content is compared by blob hashes, nothing loads."""
    result = Comparison(left.ref, right.ref)
    before = {v.name: v for v in left.variables}
    after = {v.name: v for v in right.variables}
    for name, var in after.items():
        if name not in before:
            result.added.append(Change(name, "", _describe(var)))
    for name, var in before.items():
        if name not in after:
            result.removed.append(Change(name, _describe(var), ""))
            continue
        new = after[name]
        if _content(left, var) == _content(right, new):
            result.same.append(name)
            continue
        detail = []
        if var.type != new.type:
            detail.append("type changed")
        if var.preview.get("shape") != new.preview.get("shape"):
            detail.append("shape changed")
        for stat in ("mean", "min", "max"):
            a, b = var.preview.get(stat), new.preview.get(stat)
            if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a != b:
                detail.append(f"{stat} {a:.4g} → {b:.4g}")
                break
        result.changed.append(
            Change(name, _describe(var), _describe(new), ", ".join(detail) or "content changed")
        )
    return result
