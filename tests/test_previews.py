"""Previews are computed at save time and read without unpickling anything."""

from __future__ import annotations

from pathlib import Path

import msgpack
from conftest import cli, run_python


def test_previews_describe_arrays_frames_containers_and_functions(home: Path) -> None:
    run_python(
        home,
        """
        import numpy as np, pandas as pd, sessions
        arr = np.array([[1.0, 2.0], [3.0, np.nan]])
        df = pd.DataFrame({"city": ["Oslo", "Lima", "Pune"], "temp": [3.5, 19.0, 31.2]})
        items = list(range(100))
        def area(r: float, pi: float = 3.14) -> float:
            "Area of a circle."
            return pi * r * r
        huge = "z" * 1_000_000
        sessions.save("pv")
        """,
    )
    # poison the pickled data: a preview must come from the manifest alone
    for blob in (home / "blobs").rglob("*"):
        if blob.is_file():
            blob.chmod(0o600)
            blob.write_bytes(b"not a pickle")
    import sessions

    info = sessions.inspect("pv")
    arr = info.preview("arr")
    assert arr["kind"] == "ndarray" and arr["shape"] == [2, 2] and arr["dtype"] == "float64"
    assert (arr["min"], arr["max"], arr["mean"]) == (1.0, 3.0, 2.0)
    df = info.preview("df")
    assert df["shape"] == [3, 2] and df["columns"] == ["city", "temp"]
    assert df["rows"][1] == ["Lima", "19.0"]
    items = info.preview("items")
    assert items["len"] == 100 and items["items"][:3] == ["0", "1", "2"]
    area = info.preview("area")
    assert area["signature"] == "area(r: float, pi: float = 3.14) -> float"
    assert "return pi * r * r" in area["source"]
    for name in info.variables:
        assert len(msgpack.packb(info.preview(name))) <= 16 * 1024
    shown = cli(home, "show", "pv")
    assert shown.returncode == 0 and "Lima" in shown.stdout and "min=1" in shown.stdout


def test_numbers_short_text_and_short_lists_preview_exactly_as_any_value() -> None:
    """The direct path for small values (taken 100,000 times in a big session) gives the very
    map the general path gives, addresses and odd text included."""
    from sessions.core.engine import preview

    values = [
        0, -5, 10**37, 10**39, 2**64, 1.5, float("nan"), float("-inf"), True, None,
        "", "hello", "a" * 200, "a" * 199 + "\n", "x at 0x1234", "\udc80", "é\x00",
        [1, 2, 3], (1,), (), [], ["a", 1.5, None], [1] * 10, [1] * 11, ("s", "\ud800"),
        [10**40], [[1]], {"a": 1}, b"raw",
    ]  # fmt: skip
    for value in values:
        general = preview._build(value)
        general.setdefault("repr", preview.short_repr(value))
        assert preview.build(value) == preview.bound(general), repr(value)
