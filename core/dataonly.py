"""Pickle-free data: numeric arrays read straight from their bytes, from any sender.

A numeric ndarray saved as one out-of-band buffer has a ``data`` record in the manifest: the
``.npy`` header. That header followed by the buffer blob is a ``.npy`` file, which numpy
reads with ``allow_pickle=False`` — nothing is unpickled, so no trust is needed, only the
manifest's signature to be intact and each blob's hash to match.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import SessionsError
from core.manifest import Manifest


@dataclass
class DataResult:
    arrays: dict[str, Any] = field(default_factory=dict)
    not_data: dict[str, str] = field(default_factory=dict)  # name -> why not pickle-free

    def __str__(self) -> str:
        parts = [f"{len(self.arrays)} arrays: {', '.join(self.arrays) or 'none'}"]
        if self.not_data:
            parts.append(f"{len(self.not_data)} need unpickling: {', '.join(self.not_data)}")
        return "; ".join(parts)


def npy_bytes(manifest: Manifest, name: str, read_blob: Callable[[str], bytes]) -> bytes:
    """The ``.npy`` file of variable ``name``."""
    var = manifest.variable(name)
    if var is None or not var.data or var.data.get("format") != "npy":
        raise SessionsError(f"{name} has no pickle-free form")
    header = var.data.get("header")
    group = manifest.groups[var.group]
    if not isinstance(header, bytes) or len(group.buffers) != 1 or len(header) > 65536:
        raise SessionsError(f"{name}: its pickle-free form is malformed")
    return header + bytes(read_blob(group.buffers[0].hash))


def load_data(
    manifest: Manifest,
    read_blob: Callable[[str], bytes],
    names: Iterable[str] | None = None,
    *,
    out_dir: Path | None = None,
) -> DataResult:
    """Read the pickle-free variables of ``manifest`` (all, or ``names``) as numpy arrays,
    or write them as ``<name>.npy`` into ``out_dir``."""
    import numpy

    wanted = list(names) if names is not None else [v.name for v in manifest.variables]
    result = DataResult()
    for name in wanted:
        var = manifest.variable(name)
        if var is None:
            result.not_data[name] = "not in the snapshot"
            continue
        if not var.data:
            result.not_data[name] = f"a {var.type}, which only unpickling restores"
            continue
        data = npy_bytes(manifest, name, read_blob)
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            path = out_dir / f"{name}.npy"
            path.write_bytes(data)
            result.arrays[name] = path
        else:
            try:
                result.arrays[name] = numpy.load(io.BytesIO(data), allow_pickle=False)
            except ValueError as exc:
                raise SessionsError(f"{name}: not a valid array ({exc})") from None
    return result
