"""The save pipeline's work: raw memory (torch storages, big bytearrays) travels out of band and
comes back exact."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_json

TENSORS = """
import json
import torch
import sessions
torch.manual_seed(0)
weights = torch.randn(300, 200, dtype=torch.float64)       # 480 KB: out of band
half = torch.randn(64, 64).to(torch.bfloat16)              # small: in band
column = weights[:, 3]                                     # a strided view of weights
transposed = weights.t()
param = torch.nn.Parameter(torch.randn(128, 256))          # requires_grad=True
ints = torch.arange(100_000, dtype=torch.int32).reshape(1000, 100)
flags = torch.rand(1000) > 0.5
empty = torch.empty(0, 7)
result = sessions.save("tensors")
print(json.dumps({"saved": sorted(result.saved), "skipped": result.skipped,
                  "stored": result.stored}))
"""

TENSORS_BACK = """
import json
import torch
import sessions
report = sessions.load("tensors")
torch.manual_seed(0)
expect_weights = torch.randn(300, 200, dtype=torch.float64)
expect_half = torch.randn(64, 64).to(torch.bfloat16)
def same(a, b):
    return (a.dtype == b.dtype and a.shape == b.shape and a.stride() == b.stride()
            and a.storage_offset() == b.storage_offset() and a.requires_grad == b.requires_grad
            and bool(torch.equal(a, b)))
column.add_(0)  # loaded storages accept in-place writes
print(json.dumps({
    "failed": report.failed,
    "weights": same(weights, expect_weights),
    "half": same(half, expect_half),
    "column": same(column, expect_weights[:, 3]),
    "column_stride": column.stride(),
    "view_shares_storage": column.untyped_storage().data_ptr()
        == weights.untyped_storage().data_ptr() == transposed.untyped_storage().data_ptr(),
    "write_through_view": (column.__setitem__(0, 42.0), float(weights[0, 3]))[1],
    "param": type(param).__name__, "param_grad": param.requires_grad,
    "param_shape": list(param.shape),
    "ints": same(ints, torch.arange(100_000, dtype=torch.int32).reshape(1000, 100)),
    "flags": flags.dtype == torch.bool and flags.shape == (1000,),
    "empty": list(empty.shape),
}))
"""


def test_torch_tensors_round_trip_bit_exact_and_views_share_storage(home: Path) -> None:
    pytest.importorskip("torch")
    saved = run_json(home, TENSORS)
    assert saved["skipped"] == {}
    back = run_json(home, TENSORS_BACK)
    assert back["failed"] == {}
    assert back["weights"] and back["half"] and back["ints"] and back["flags"]
    assert back["column"] and back["column_stride"] == [200]
    assert back["view_shares_storage"]
    assert back["write_through_view"] == 42.0
    assert back["param"] == "Parameter" and back["param_grad"] is True
    assert back["param_shape"] == [128, 256]
    assert back["empty"] == [0, 7]


def test_large_tensor_is_stored_as_its_raw_bytes_not_pickled_in_band(home: Path) -> None:
    """The storage's bytes are one out-of-band buffer (a blob of exactly its size), not
    ``torch.save`` output embedded in the stream."""
    pytest.importorskip("torch")
    out = run_json(
        home,
        """
import json
import torch
import sessions
big = torch.arange(1_000_000, dtype=torch.float32)
result = sessions.save("big")
group = result.manifest.groups[0]
print(json.dumps({"buffers": [b.size for b in group.buffers], "stream": group.stream.size}))
""",
    )
    assert out["buffers"] == [4_000_000]
    assert out["stream"] < 10_000


def test_large_bytearray_and_array_round_trip(home: Path) -> None:
    run_json(
        home,
        """
import array, json
import sessions
blob = bytearray(range(256)) * 1024
samples = array.array("d", [i / 7 for i in range(20_000)])
sessions.save("raw")
print(json.dumps({}))
""",
    )
    back = run_json(
        home,
        """
import array, json
import sessions
report = sessions.load("raw")
print(json.dumps({"failed": report.failed,
                  "blob": type(blob).__name__ == "bytearray"
                          and blob == bytearray(range(256)) * 1024,
                  "samples": samples == array.array("d", [i / 7 for i in range(20_000)])}))
""",
    )
    assert back == {"failed": {}, "blob": True, "samples": True}


RESAVE = """
import json
import numpy as np
import sessions
import sessions.core.engine.preview as preview_module
import sessions.core.engine.serialize as serialize_module

pickled, previewed = [], []
_dump, _build = serialize_module.dump_group, preview_module.build
def counting_dump(ctx, payload):
    pickled.extend(payload)
    return _dump(ctx, payload)
def counting_build(value):
    previewed.append(type(value).__name__)
    return _build(value)
serialize_module.dump_group = counting_dump
preview_module.build = counting_build

count = 5
label = "unchanged text"
pair = (1, ("a", 2.5))
items = [1, 2, 3]
text = "long text " * 1000   # not small: a group of its own
weights = np.arange(50_000, dtype=np.float64)
taken = ["count", "label", "pair", "items", "text", "weights"]
first = sessions.save("work", include=taken)
pickled.clear(); previewed.clear()
items.append(4)
second = sessions.save("work", include=taken)
out = {"pickled": sorted(pickled), "previewed": sorted(previewed), "saved": sorted(second.saved),
       "same_preview": second.manifest.variables[0].preview
                       == first.manifest.variables[0].preview}
sessions.save("consts", include=["count", "label", "pair"])
pickled.clear(); previewed.clear()
sessions.save("consts", include=["count", "label", "pair"])
out["consts"] = [sorted(pickled), sorted(previewed)]
print(json.dumps(out))
"""


def test_resave_does_not_repickle_unchanged_immutables_nor_rebuild_unchanged_previews(
    home: Path,
) -> None:
    """Same int/str/tuple objects: neither pickled nor previewed again when alone in their
    group (the long text) or when their whole batch is unchanged (``consts``); in a batch
    that changed (the list grew) they are pickled with it, which is cheap, but keep their
    previews. The array is pickled (it may have changed in place) but its preview is reused
    since its bytes did not change; only the list that changed gets a new preview. The
    second snapshot still loads whole."""
    out = run_json(home, RESAVE)
    assert out["saved"] == ["count", "items", "label", "pair", "text", "weights"]
    assert out["pickled"] == ["count", "items", "label", "pair", "weights"]
    assert out["previewed"] == ["list"]
    assert out["consts"] == [[], []]
    back = run_json(
        home,
        """
import json
import sessions
report = sessions.load("work@2")
print(json.dumps({"failed": report.failed, "count": count, "label": label,
                  "pair": list(pair), "items": items, "w": float(weights.sum()),
                  "text": text == "long text " * 1000}))
""",
    )
    assert back == {
        "failed": {},
        "count": 5,
        "label": "unchanged text",
        "pair": [1, ["a", 2.5]],
        "items": [1, 2, 3, 4],
        "w": float(sum(range(50_000))),
        "text": True,
    }


def test_resave_after_gc_removed_the_objects_writes_them_again(home: Path) -> None:
    """The reused objects of an unchanged value must still be in the store: after its only
    snapshot is deleted and gc has run, the next save writes the value again."""
    out = run_json(
        home,
        """
import json
import sessions
from sessions.core.store.gc import gc
from sessions.core.store.session_dir import Store
count = 12345678
label = "kept"
sessions.save("gone")
store = Store()
store.remove(store.resolve("gone@1"))
gc(store)
sessions.save("gone")
print(json.dumps({}))
""",
    )
    assert out == {}
    back = run_json(
        home,
        """
import json
import sessions
report = sessions.load("gone")
print(json.dumps({"failed": report.failed, "count": count, "label": label}))
""",
    )
    assert back == {"failed": {}, "count": 12345678, "label": "kept"}


def test_big_containers_round_trip_equal_and_shared_lists_stay_shared(home: Path) -> None:
    """A big dict of tuples (pickled without a memo) comes back equal; a big dict whose
    values share a list (needs the memo) comes back still sharing it."""
    run_json(
        home,
        """
import json
import sessions
table = {i: (i, f"key-{i}", i * 0.5, None) for i in range(20_000)}
rows = [(i, b"x", frozenset({i})) for i in range(20_000)]
common = [1, 2]
linked = {i: common for i in range(20_000)}
sessions.save("big")
print(json.dumps({}))
""",
    )
    back = run_json(
        home,
        """
import json
import sessions
report = sessions.load("big")
print(json.dumps({"failed": report.failed,
                  "table": table == {i: (i, f"key-{i}", i * 0.5, None) for i in range(20_000)},
                  "rows": rows == [(i, b"x", frozenset({i})) for i in range(20_000)],
                  "linked": len(linked) == 20_000 and linked[0] is linked[19_999]}))
""",
    )
    assert back == {"failed": {}, "table": True, "rows": True, "linked": True}
