"""Whatever dill round-trips, Sessions round-trips: each case is saved by a script run as
``__main__`` and loaded in a fresh process, as a user would."""

from __future__ import annotations

from pathlib import Path

from conftest import run_json

LOAD = """
import json, sessions
__file__ = "the-loader.py"
report = sessions.load("fid")
out = {{"failed": report.failed, "loaded": sorted(report.loaded)}}
for key, expr in {checks!r}.items():
    try:
        out[key] = eval(expr)
    except Exception as exc:
        out[key] = f"{{type(exc).__name__}}: {{exc}}"
print(json.dumps(out))
"""


def _round_trip(home: Path, session: str, checks: dict[str, str]) -> dict:
    saved = run_json(
        home,
        session
        + "\nimport json, sessions\nr = sessions.save('fid')\n"
        + "print(json.dumps({'saved': sorted(r.saved), 'skipped': r.skipped}))\n",
    )
    got = run_json(home, LOAD.format(checks=checks))
    got["saved"], got["skipped"] = saved["saved"], saved["skipped"]
    return got


def test_class_using_zero_argument_super_loads_with_its_instances(home: Path) -> None:
    got = _round_trip(
        home,
        """
class Base:
    def f(self):
        return 1
class Child(Base):
    def f(self):
        return super().f() + 1
    @property
    def p(self):
        return super().f() + 10
c = Child()
kids = [Child(), c]
""",
        {
            "f": "c.f()",
            "p": "c.p",
            "cls": "type(c) is Child and kids[1] is c",
            "cell": "Child.f.__closure__[0].cell_contents is Child",
        },
    )
    assert got["failed"] == {} and got["skipped"] == {}
    assert got["f"] == 2 and got["p"] == 11
    assert got["cls"] is True and got["cell"] is True


def test_private_helpers_read_by_saved_code_come_with_it(home: Path) -> None:
    got = _round_trip(
        home,
        """
_SCALE = 3
def _inner(x):
    return x * _SCALE
def _helper(x):
    return _inner(x) + 1
def f(x):
    return _helper(x)
class Model:
    def go(self):
        return _helper(2)
m = Model()
handlers = {"h": lambda v: _inner(v)}
_unused = 99
__file__ = "the-saver.py"
__version__ = "from-the-saver"
""",
        {
            "f": "f(1)",
            "go": "m.go()",
            "lambda": "handlers['h'](2)",
            "file": "__file__",
            "name": "__name__",
            "unused": "'_unused' in globals()",
            "version": "'__version__' in globals()",
        },
    )
    assert got["failed"] == {}
    assert got["f"] == 4 and got["go"] == 7 and got["lambda"] == 6
    assert {"_SCALE", "_helper", "_inner"} <= set(got["saved"])
    assert got["unused"] is False, "private names nothing reads stay private"
    assert got["file"] == "the-loader.py" and got["name"] == "__main__"
    assert got["version"] is False, "dunders never travel"


def test_a_private_helper_the_user_excluded_stays_out(home: Path) -> None:
    got = run_json(
        home,
        """
import json, sessions
def _helper(x):
    return x
def f(x):
    return _helper(x)
r = sessions.save("fid", exclude=["_helper"])
print(json.dumps(sorted(r.saved)))
""",
    )
    assert got == ["f"]


def test_containers_of_modules_are_saved_by_reference(home: Path) -> None:
    got = _round_trip(
        home,
        """
import math, os.path
import numpy as np
mods = {"np": np, "math": math}
modlist = [np, os.path]
class Holder:
    def __init__(self):
        self.lib = math
h = Holder()
""",
        {
            "dict": "mods['np'] is __import__('numpy') and mods['math'].sqrt(9) == 3",
            "list": "modlist[1] is __import__('os').path",
            "attr": "h.lib is __import__('math')",
        },
    )
    assert got["skipped"] == {} and got["failed"] == {}
    assert got["dict"] is True and got["list"] is True and got["attr"] is True


def test_functions_defined_into_another_dict_are_saved_by_value(home: Path) -> None:
    module = home.parent / "helper_script.py"
    module.parent.mkdir(parents=True, exist_ok=True)
    module.write_text("OFFSET = 100\ndef shifted(x):\n    return x + OFFSET\n")
    got = _round_trip(
        home,
        f"""
import runpy
scope = {{}}
exec("K = 10\\ndef g(x):\\n    return x + K\\n", scope)
g = scope["g"]
ran = runpy.run_path({str(module)!r})
shifted = ran["shifted"]
in_main = {{}}
exec("def h(x):\\n    return -x\\n", {{"__name__": "__main__"}}, in_main)
h = in_main["h"]
""",
        {"g": "g(1)", "scope": "scope['g'](2)", "runpy": "shifted(1)", "h": "h(3)"},
    )
    assert got["skipped"] == {} and got["failed"] == {}
    assert got["g"] == 11 and got["scope"] == 12 and got["runpy"] == 101 and got["h"] == -3


def test_recursive_closures_and_self_referencing_functions_load(home: Path) -> None:
    got = _round_trip(
        home,
        """
def outer():
    def fact(n):
        return 1 if n <= 1 else n * fact(n - 1)
    return fact
fact = outer()
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)
table = {"fib": fib, "fact": fact}
""",
        {"fact": "fact(5)", "fib": "table['fib'](10)", "same": "table['fact'] is fact"},
    )
    assert got["failed"] == {} and got["skipped"] == {}
    assert got["fact"] == 120 and got["fib"] == 55 and got["same"] is True


def test_weak_references_and_proxies_point_at_the_loaded_objects(home: Path) -> None:
    got = _round_trip(
        home,
        """
import weakref
class A:
    pass
a = A()
live = [weakref.proxy(a), weakref.ref(a)]
alone = weakref.ref(a)
by_key = weakref.WeakKeyDictionary({a: 1})
members = weakref.WeakSet([a])
""",
        {
            "proxy": "type(live[0]) is weakref.ProxyType and live[0].__class__ is A",
            "ref": "live[1]() is a and alone() is a",
            "keys": "list(by_key) == [a] and by_key[a] == 1",
            "set": "list(members) == [a]",
        },
    )
    assert got["skipped"] == {} and got["failed"] == {}
    assert got["proxy"] is True and got["ref"] is True
    assert got["keys"] is True and got["set"] is True


def test_a_dead_weak_proxy_is_one_variable_not_a_failed_save(home: Path) -> None:
    got = _round_trip(
        home,
        """
import weakref
class B:
    pass
b = B()
dead = weakref.proxy(b)
del b
kept = [1, 2, 3]
""",
        {"kept": "kept", "dead": "type(dead).__name__"},
    )
    assert got["failed"] == {}
    assert "kept" in got["saved"] and got["kept"] == [1, 2, 3]
    assert got["dead"] == "ProxyType" or "dead" in got["skipped"]


def test_a_cached_session_function_loads_and_computes(home: Path) -> None:
    got = _round_trip(
        home,
        """
import functools
OFFSET = 10
@functools.lru_cache(maxsize=32)
def cached(x):
    return x * 2 + OFFSET
cached(3)
table = {"f": cached}
""",
        {
            "call": "cached(4)",
            "params": "cached.cache_parameters()['maxsize']",
            "shared": "table['f'](1)",
        },
    )
    assert got["skipped"] == {} and got["failed"] == {}
    assert got["call"] == 18 and got["params"] == 32 and got["shared"] == 12


def test_an_unpicklable_member_leaves_the_rest_of_its_group_sharing(home: Path) -> None:
    got = _round_trip(
        home,
        """
shared = [1, 2]
holder = {"items": shared}
def numbers():
    yield from shared
gen = (x for x in shared)
both = [shared, gen]
""",
        {"same": "holder['items'] is shared"},
    )
    assert set(got["skipped"]) == {"both", "gen"} and got["failed"] == {}
    assert got["same"] is True
