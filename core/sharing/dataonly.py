"""Pickle-free data: numeric arrays and DataFrames read without unpickling, from any sender.

A numeric ndarray saved as one out-of-band buffer has a ``data`` record in the manifest: the
``.npy`` header. That header followed by the buffer blob is a ``.npy`` file. A DataFrame
shared while pyarrow was installed has an Arrow IPC stream blob (``{"format": "arrow",
"blob": …}``, see sessions.core.sharing.share). Nothing is unpickled, so no trust is needed,
only the manifest's signature intact and each blob's hash matching.

Everything here comes from a sender who may be hostile, so none of it is believed:

- a variable name becomes a file name only when it is a Python identifier (no separator, no
  dot, so no ``..`` and no absolute path); other names are reported, never written;
- files are written under a temp name in the output dir and renamed into place (a symlink
  planted there is replaced, not followed);
- an ``.npy`` header is parsed with numpy's literal-only reader, then refused unless its dtype
  holds no objects, has items of some size, and its shape matches the buffer's size exactly;
- an Arrow stream is bounded (cells against bytes), every record batch is validated in full
  before anything is converted, and any failure of pyarrow or pandas becomes one line;
- blob content is decompressed in bounded steps and hash-checked before it is materialized
  (sessions.core.sharing.received), and streamed to disk when writing files.

One bad variable is one reported thing (``DataResult.failed``); the others are delivered.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sessions.core.errors import SessionsError
from sessions.core.sharing import received
from sessions.core.store.atomic import os_error
from sessions.core.store.manifest import Manifest

MAX_NPY_HEADER = 65536
MAX_DIMS = 64
# An Arrow column stores at least one bit per row except for null and run-end encoded
# columns; a frame claiming many more cells than that is a bomb, not data.
_CELLS_PER_BYTE = 8
_FREE_CELLS = 1_000_000

ReadFramed = Callable[[str], bytes]  # blob hash -> the blob file's bytes, as received


class DataArrays(dict[str, Any]):
    """``{name: ndarray or DataFrame}``, plus who signed it and what could not be read."""

    signer: str = ""
    failed: dict[str, str]


@dataclass
class DataResult:
    arrays: dict[str, Any] = field(default_factory=dict)
    not_data: dict[str, str] = field(default_factory=dict)  # name -> why not pickle-free
    failed: dict[str, str] = field(default_factory=dict)  # name -> why it was refused
    signer: str = ""  # who signed what was delivered (signing.Signer.describe)

    def __str__(self) -> str:
        parts = [f"{len(self.arrays)} pickle-free: {', '.join(self.arrays) or 'none'}"]
        if self.not_data:
            parts.append(f"{len(self.not_data)} need unpickling: {', '.join(self.not_data)}")
        if self.failed:
            parts.append(f"{len(self.failed)} refused: {', '.join(self.failed)}")
        if self.signer:
            parts.append(self.signer)
        return "; ".join(parts)

    def as_dict(self) -> DataArrays:
        out = DataArrays(self.arrays)
        out.signer = self.signer
        out.failed = dict(self.failed)
        return out


class DataError(SessionsError):
    """A pickle-free form that is malformed or hostile; nothing of it was delivered."""


def safe_file_name(name: str, suffix: str) -> str:
    """``name + suffix`` when ``name`` can safely be a file name in the output dir."""
    if not isinstance(name, str) or not name.isidentifier() or len(name.encode()) > 200:
        raise DataError(f"{name!r}: not a safe file name (a path?), so it was not written")
    return name + suffix


def npy_layout(name: str, header: bytes, nbytes: int) -> tuple[tuple[int, ...], bool, Any]:
    """(shape, fortran order, dtype) of an ``.npy`` ``header`` whose data is ``nbytes``
    long; DataError for anything malformed or hostile (see module doc)."""
    from numpy.lib import format as npy

    if not isinstance(header, bytes) or len(header) > MAX_NPY_HEADER:
        raise DataError(f"{name}: its pickle-free form is malformed")
    try:
        stream = io.BytesIO(header)
        version = npy.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = npy.read_array_header_1_0(stream, MAX_NPY_HEADER)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = npy.read_array_header_2_0(stream, MAX_NPY_HEADER)
        else:
            raise DataError(f"{name}: unknown .npy version {version}")
        if stream.read(1):
            raise DataError(f"{name}: the .npy header has trailing bytes")
    except DataError:
        raise
    except Exception as exc:  # numpy's header parser raises many kinds on hostile input
        raise DataError(f"{name}: not a valid .npy header ({_first_line(exc)})") from None
    if dtype.hasobject:
        raise DataError(f"{name}: an array of Python objects needs unpickling; refused")
    if dtype.itemsize == 0:
        raise DataError(f"{name}: an array of zero-size items is not data; refused")
    if not isinstance(shape, tuple) or len(shape) > MAX_DIMS:
        raise DataError(f"{name}: its shape is malformed")
    count = 1
    for dim in shape:
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < 0:
            raise DataError(f"{name}: its shape {shape!r} is malformed")
        count *= dim
    if count * dtype.itemsize != nbytes:
        raise DataError(
            f"{name}: its header says {count} items of {dtype.itemsize} bytes, but the data "
            f"has {nbytes} bytes"
        )
    return shape, bool(fortran), dtype


def npy_array(name: str, header: bytes, buffer: bytes | bytearray | memoryview) -> Any:
    """The ndarray that ``header`` (an ``.npy`` header) says ``buffer`` holds, without
    copying it; DataError for anything malformed or hostile."""
    import numpy

    shape, fortran, dtype = npy_layout(name, header, len(buffer))
    count = 1
    for dim in shape:
        count *= dim
    try:
        flat = numpy.frombuffer(buffer, dtype=dtype, count=count)
        return flat.reshape(shape, order="F" if fortran else "C")
    except Exception as exc:
        raise DataError(f"{name}: not a valid array ({_first_line(exc)})") from None


def arrow_table(name: str, data: bytes | bytearray | memoryview) -> Any:
    """The pyarrow Table in Arrow IPC stream ``data``, each batch validated in full and its
    size bounded by the bytes it came in; DataError for anything malformed or hostile."""
    try:
        import pyarrow as pa
    except ModuleNotFoundError:
        raise DataError(f"{name} is an Arrow table: pip install pyarrow to read it") from None
    limit = len(data) * _CELLS_PER_BYTE + _FREE_CELLS
    try:
        reader = pa.ipc.open_stream(pa.py_buffer(data))
        batches, cells = [], 0
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            cells += batch.num_rows * max(1, batch.num_columns)
            if cells > limit:
                raise DataError(f"{name}: the Arrow stream claims more rows than its size holds")
            batch.validate(full=True)
            batches.append(batch)
        table = pa.Table.from_batches(batches, schema=reader.schema)
        table.validate(full=True)
        return table
    except DataError:
        raise
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, KeyError, TypeError, …
        raise DataError(f"{name}: not a valid Arrow stream ({_first_line(exc)})") from None


def arrow_frame(name: str, data: bytes | bytearray | memoryview) -> Any:
    """The DataFrame in Arrow IPC stream ``data`` (see :func:`arrow_table`)."""
    table = arrow_table(name, data)
    try:
        return table.to_pandas()
    except Exception as exc:  # hostile pandas metadata: KeyError, TypeError, ValueError, …
        raise DataError(f"{name}: cannot be made a DataFrame ({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0][:200] if text else "") or type(exc).__name__


def _write(path: Path, pieces: Iterable[bytes | memoryview]) -> None:
    """Write ``pieces`` to ``path``: a new temp file in its dir, renamed into place."""
    tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as handle:
            for piece in pieces:
                handle.write(piece)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise os_error(exc, str(path)) from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _one(
    manifest: Manifest,
    name: str,
    read_framed: ReadFramed,
    out_dir: Path | None,
) -> Any:
    """Variable ``name``'s pickle-free value, or the path of the file written for it."""
    var = manifest.variable(name)
    assert var is not None and var.data
    kind = var.data.get("format")
    if kind == "arrow":
        found = dict(manifest.data_blobs()).get(name)
        if found is None:
            raise DataError(f"{name}: its pickle-free form is malformed")
        data = received.content(found.hash, read_framed(found.hash), max_size=found.size)
        if out_dir is None:
            return arrow_frame(name, data)
        path = out_dir / safe_file_name(name, ".arrow")
        arrow_table(name, data)  # checked before it is handed on as a file
        _write(path, [data])
        return path
    if kind != "npy":
        raise DataError(f"{name}: unknown pickle-free form {str(kind)[:40]!r}")
    header = var.data.get("header")
    if not 0 <= var.group < len(manifest.groups):
        raise DataError(f"{name}: its pickle-free form is malformed")
    group = manifest.groups[var.group]
    place = var.data.get("slice")
    if place is not None:  # a small array stored joined with others: its slice of that blob
        if not isinstance(place, int) or isinstance(place, bool):
            raise DataError(f"{name}: its pickle-free form is malformed")
        if not 0 <= place < len(group.slices):
            raise DataError(f"{name}: its pickle-free form is malformed")
        number, offset, length = group.slices[place]  # checked inside its blob on decode
        blob = group.buffers[number]
        content = received.content(blob.hash, read_framed(blob.hash), max_size=blob.size)
        data = memoryview(content)[offset : offset + length]
        if out_dir is None:
            return npy_array(name, header, data)  # type: ignore[arg-type]
        path = out_dir / safe_file_name(name, ".npy")
        npy_layout(name, header, length)  # type: ignore[arg-type]
        _write(path, [header, data])  # type: ignore[list-item]
        return path
    if len(group.buffers) != 1 or group.slices:
        raise DataError(f"{name}: its pickle-free form is malformed")
    blob = group.buffers[0]
    framed = read_framed(blob.hash)
    if out_dir is None:
        data = received.content(blob.hash, framed, max_size=blob.size)
        return npy_array(name, header, data)  # type: ignore[arg-type]
    path = out_dir / safe_file_name(name, ".npy")
    npy_layout(name, header, received.claimed(blob.hash, framed, max_size=blob.size))  # type: ignore[arg-type]
    _write(path, _then(header, received.chunks(blob.hash, framed, max_size=blob.size)))
    return path


def _then(first: bytes, rest: Iterator[memoryview]) -> Iterator[bytes | memoryview]:
    yield first
    yield from rest


def load_data(
    manifest: Manifest,
    read_framed: ReadFramed,
    names: Iterable[str] | None = None,
    *,
    out_dir: Path | None = None,
    signer: str = "",
) -> DataResult:
    """Read the pickle-free variables of ``manifest`` (all, or ``names``) as numpy arrays and
    DataFrames, or write them as ``<name>.npy`` / ``<name>.arrow`` into ``out_dir`` (nothing
    else is created, and only inside it). ``read_framed`` returns a blob file's bytes."""
    wanted = list(names) if names is not None else [v.name for v in manifest.variables]
    result = DataResult(signer=signer)
    for name in dict.fromkeys(wanted):
        var = manifest.variable(name)
        if var is None:
            result.not_data[name] = "not in the snapshot"
            continue
        if not var.data:
            result.not_data[name] = f"a {var.type}, which only unpickling restores"
            continue
        try:
            if out_dir is not None:
                _make_dir(out_dir)
            result.arrays[name] = _one(manifest, name, read_framed, out_dir)
        except SessionsError as exc:
            text = str(exc)
            named = text.startswith((f"{name}:", f"{name!r}:"))
            result.failed[name] = text if named else f"{name}: {text}"
    return result


def _make_dir(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise os_error(exc, str(out_dir)) from None
