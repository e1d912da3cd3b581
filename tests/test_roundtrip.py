"""A saved session comes back in a fresh process: values, identity, classes, functions."""

from __future__ import annotations

from pathlib import Path

from conftest import run_json, run_python

RICH_SESSION = """
import collections, json, math
import numpy as np
import pandas as pd
from math import sqrt
from collections import OrderedDict as OD
import sessions

arr = np.arange(12, dtype="float64").reshape(3, 4)
df = pd.DataFrame({"a": np.arange(5), "s": list("vwxyz")})
shared = [1, 2, 3]
holder = {"s": shared}
other = [shared, "x"]
selfref = {"name": "loop"}
selfref["me"] = selfref
scale = 3

def scaled(v):
    return sqrt(v) * scale

square = lambda v: v * v

def make_counter(start):
    count = [start]
    def counter():
        count[0] += 1
        return count[0]
    return counter

counter = make_counter(10)

class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y
    def norm(self):
        return math.hypot(self.x, self.y)
    def __eq__(self, other):
        return (self.x, self.y) == (other.x, other.y)

p = Point(3, 4)
points = [Point(1, 1), p]

class Registry(collections.OrderedDict):
    def names(self):
        return list(self)

reg = Registry(a=1, b=2)
callbacks = {"scaled": scaled, "square": square}
result = sessions.save("rich")
print(json.dumps({"saved": sorted(result.saved), "skipped": result.skipped, "imports": sorted(result.imports)}))
"""

RESTORE = """
import json, sys
import sessions
report = sessions.load("rich")
out = {
    "failed": report.failed,
    "arr": arr.tolist(),
    "df_equal": bool(df.equals(__import__("pandas").DataFrame({"a": range(5), "s": list("vwxyz")}))),
    "shared_is_one": holder["s"] is other[0] is shared,
    "selfref": selfref["me"] is selfref,
    "scaled": scaled(16),
    "scaled_globals": scaled.__globals__ is globals(),
    "square": square(7),
    "counter": [counter(), counter()],
    "p_isinstance": isinstance(p, Point),
    "p_norm": p.norm(),
    "points_class": all(type(q) is Point for q in points),
    "points_share_p": points[1] is p,
    "reg_names": reg.names(),
    "reg_is_od": isinstance(reg, OD),
    "callbacks_identity": callbacks["scaled"] is scaled and callbacks["square"] is square,
    "sqrt": sqrt(9),
    "np": np.__name__, "pd": pd.__name__,
    "scale_change_seen": (globals().__setitem__("scale", 10), scaled(4))[1],
}
print(json.dumps(out))
"""


def test_rich_session_restores_in_a_fresh_process(home: Path) -> None:
    saved = run_json(home, RICH_SESSION)
    assert saved["skipped"] == {}
    assert {"np", "pd", "sqrt", "OD", "math", "collections"} <= set(saved["imports"])
    assert {"arr", "df", "scaled", "square", "counter", "Point", "p", "Registry", "reg"} <= set(
        saved["saved"]
    )
    got = run_json(home, RESTORE)
    assert got["failed"] == {}
    assert got["arr"] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    assert got["df_equal"]
    assert got["shared_is_one"], "two variables sharing one list must share it after restore"
    assert got["selfref"]
    assert got["scaled"] == 12.0
    assert got["scaled_globals"], "functions must see the namespace they were loaded into"
    assert got["square"] == 49
    assert got["counter"] == [11, 12], "closures keep their state"
    assert got["p_isinstance"] and got["p_norm"] == 5.0
    assert got["points_class"] and got["points_share_p"]
    assert got["reg_names"] == ["a", "b"] and got["reg_is_od"]
    assert got["callbacks_identity"]
    assert got["sqrt"] == 3.0 and got["np"] == "numpy" and got["pd"] == "pandas"
    assert got["scale_change_seen"] == 20.0, "a restored function reads live globals"


def test_partial_load_brings_what_the_variable_needs(home: Path) -> None:
    run_json(home, RICH_SESSION)
    got = run_json(
        home,
        """
        import json, sessions
        ns = {}
        report = sessions.load("rich", names=["p"], namespace=ns)
        print(json.dumps({"loaded": sorted(report.loaded), "norm": ns["p"].norm(),
                          "cls": isinstance(ns["p"], ns["Point"])}))
        """,
    )
    assert "Point" in got["loaded"] and "p" in got["loaded"]
    assert "arr" not in got["loaded"] and "df" not in got["loaded"]
    assert got["norm"] == 5.0 and got["cls"]


def test_unknown_variable_is_reported_not_raised(home: Path) -> None:
    run_json(home, RICH_SESSION)
    got = run_json(
        home,
        """
        import json, sessions
        report = sessions.load("rich", names=["arr", "nope", "scaled"], namespace={})
        print(json.dumps({"loaded": report.loaded, "failed": report.failed}))
        """,
    )
    assert "arr" in got["loaded"] and "scaled" in got["loaded"]
    assert got["failed"]["nope"].startswith("not in snapshot rich@1")


def test_private_and_pattern_filters(home: Path) -> None:
    got = run_json(
        home,
        """
        import json, sessions
        _hidden = 1
        keep_a = 2
        keep_b = 3
        drop_me = 4
        r1 = sessions.save("f1", exclude=["drop_*"])
        r2 = sessions.save("f2", include=["keep_*", "_hidden"])
        r3 = sessions.save("f3", private=True)
        print(json.dumps({"r1": sorted(r1.saved), "r2": sorted(r2.saved), "r3": "_hidden" in r3.saved}))
        """,
    )
    assert "drop_me" not in got["r1"] and "_hidden" not in got["r1"] and "keep_a" in got["r1"]
    assert got["r2"] == ["_hidden", "keep_a", "keep_b"]
    assert got["r3"]


def test_version_warning_when_module_version_differs(home: Path) -> None:
    run_json(home, RICH_SESSION)
    # rewrite nothing on disk: compare against a fake "installed" by asking for a module
    # the snapshot recorded, after pretending the saved version was different
    done = run_python(
        home,
        """
        import sessions
        from sessions.core.engine.load import version_warnings
        from sessions.core.store.manifest import Variable
        from dataclasses import replace
        info = sessions.inspect("rich")
        m = info.manifest
        var = next(v for v in m.variables if v.name == "arr")
        assert "numpy" in var.modules, var.modules
        fake = replace(m, variables=(replace(var, modules={"numpy": "0.0.1"}),))
        print(version_warnings(fake, ["arr"]))
        """,
    )
    assert "numpy: saved with 0.0.1, installed" in done.stdout
