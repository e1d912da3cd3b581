"""Raw-memory values pickled out of band: torch storages, large ``bytearray`` and
``array.array`` (exact ``bytes`` never reach a pickler's ``reducer_override``).

Format
------
Streams name the rebuild helpers below by module path (``sessions.core.engine.buffers``),
so their names and arguments are part of the stream format:

- ``_untyped_storage(data)``: a torch ``UntypedStorage`` holding ``data``'s bytes. ``data``
  is an out-of-band buffer (``PickleBuffer``) when the storage is at least ``OUT_OF_BAND``
  bytes, else in-band ``bytes``. The loaded storage *is* the loaded buffer (no copy), so a
  tensor's storage is not resizable after loading (as with ``torch.load(mmap=True)``).
- ``_typed_storage(untyped, dtype)``: a ``TypedStorage`` of dtype name ``dtype``
  (``"float32"``) over that untyped storage. Tensors that share a storage pickle the same
  untyped storage object, which the pickle memo writes once: they share it again on load.
- ``_bytearray(data)``, ``_array(typecode, data)``: ``bytearray`` and ``array.array`` of at
  least ``OUT_OF_BAND`` bytes, ``data`` an out-of-band buffer. A loaded ``bytearray`` is the
  loaded buffer itself when that is a ``bytearray``.

Only CPU storages take this path; others (CUDA, meta) keep torch's own pickling. Bytes are
in the machine's native byte order, as ``torch.save`` writes them.
"""

from __future__ import annotations

import array
import pickle
import sys
from typing import Any

from sessions.core.errors import LoadError

OUT_OF_BAND = 64 * 1024  # smaller buffers stay in the stream (one memcpy beats one object)


def _data(view: memoryview) -> pickle.PickleBuffer | bytes:
    return pickle.PickleBuffer(view) if view.nbytes >= OUT_OF_BAND else bytes(view)


def _writable(data: Any) -> Any:
    view = memoryview(data)
    return data if not view.readonly else bytearray(view)


# --- rebuilding (names are part of the stream format) --------------------------------------


def _untyped_storage(data: Any) -> Any:
    import torch

    if len(memoryview(data)) == 0:
        return torch.UntypedStorage(0)
    return torch.frombuffer(_writable(data), dtype=torch.uint8).untyped_storage()


def _typed_storage(untyped: Any, dtype: str) -> Any:
    import torch

    kind = getattr(torch, dtype, None)
    if not isinstance(kind, torch.dtype):
        raise LoadError(f"unknown torch dtype '{dtype}'")
    return torch.storage.TypedStorage(wrap_storage=untyped, dtype=kind, _internal=True)


def _bytearray(data: Any) -> bytearray:
    return data if type(data) is bytearray else bytearray(data)


def _array(typecode: str, data: Any) -> array.array[Any]:
    out = array.array(typecode)
    out.frombytes(memoryview(data).cast("B"))
    return out


# --- reducing -----------------------------------------------------------------------------


class Reducer:
    """What a pickler's ``reducer_override`` asks first: ``reduce(obj)`` is a reduce tuple for
    the raw-memory values above, or ``None`` for everything else."""

    def __init__(self) -> None:
        torch = sys.modules.get("torch")
        self._typed: type | None = None
        self._untyped: type | None = None
        if torch is not None:
            self._typed = torch.storage.TypedStorage
            self._untyped = torch.UntypedStorage

    def reduce(self, obj: Any) -> tuple[Any, ...] | None:
        cls = type(obj)
        if cls is bytearray:
            return (_bytearray, (pickle.PickleBuffer(obj),)) if len(obj) >= OUT_OF_BAND else None
        if cls is array.array:
            if obj.itemsize * len(obj) < OUT_OF_BAND:
                return None
            return (_array, (obj.typecode, pickle.PickleBuffer(obj)))
        if self._typed is not None and cls is self._typed:
            if obj._untyped_storage.device.type != "cpu":
                return None
            return (_typed_storage, (obj._untyped_storage, str(obj.dtype).rpartition(".")[2]))
        if self._untyped is not None and cls is self._untyped:
            if obj.device.type != "cpu":
                return None
            return (_untyped_storage, (_data(_storage_view(obj)),))
        return None


def _storage_view(storage: Any) -> memoryview:
    """The bytes of a CPU ``UntypedStorage`` as a memoryview, without copying them."""
    import torch

    if storage.nbytes() == 0:
        return memoryview(b"")
    as_bytes: Any = torch.empty(0, dtype=torch.uint8).set_(storage).numpy()
    return memoryview(as_bytes).cast("B")
