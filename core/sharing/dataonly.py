"""Pickle-free data: numeric arrays and DataFrames read without unpickling, from any sender.

A numeric ndarray saved as one out-of-band buffer has a ``data`` record in the manifest: the
``.npy`` header. That header followed by the buffer blob is a ``.npy`` file, which numpy
reads with ``allow_pickle=False``. A DataFrame shared while pyarrow was installed has an
Arrow IPC stream blob (``{"format": "arrow", "blob": …}``, see sessions.core.sharing.share). Nothing is
unpickled, so no trust is needed, only the manifest's signature intact and each blob's hash
matching.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sessions.core.errors import SessionsError
from sessions.core.store.manifest import Manifest


@dataclass
class DataResult:
    arrays: dict[str, Any] = field(default_factory=dict)
    not_data: dict[str, str] = field(default_factory=dict)  # name -> why not pickle-free

    def __str__(self) -> str:
        parts = [f"{len(self.arrays)} pickle-free: {', '.join(self.arrays) or 'none'}"]
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


def _arrow(
    manifest: Manifest, name: str, read_blob: Callable[[str], bytes], out_dir: Path | None
) -> Any:
    """A DataFrame from its Arrow IPC form (or the ``.arrow`` file written to ``out_dir``)."""
    blob = dict(manifest.data_blobs())[name]
    data = read_blob(blob.hash)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"{name}.arrow"
        path.write_bytes(bytes(data))
        return path
    try:
        import pyarrow as pa
    except ModuleNotFoundError:
        raise SessionsError(f"{name} is an Arrow table: pip install pyarrow to read it") from None
    try:
        return pa.ipc.open_stream(pa.py_buffer(bytes(data))).read_all().to_pandas()
    except (pa.ArrowException, ValueError) as exc:
        raise SessionsError(f"{name}: not a valid Arrow stream ({exc})") from None


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
        if var.data.get("format") == "arrow":
            result.arrays[name] = _arrow(manifest, name, read_blob, out_dir)
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
