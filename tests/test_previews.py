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
