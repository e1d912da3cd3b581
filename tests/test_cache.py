"""``@sessions.cache``: a stored result comes back only when nothing it depends on changed.

Each run is a fresh interpreter (``python script.py``) and every cached function appends a
line to ``calls.txt`` when it really runs, so "hit" and "recomputed" are read from that file,
never from timings."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest
from conftest import child_env, cli, run_python
from daemons import RunningDaemon


def calls(home: Path) -> list[str]:
    path = home.parent / "calls.txt"
    return path.read_text().splitlines() if path.exists() else []


PRELUDE = """
import json, sys, warnings
import numpy as np
import sessions
def ran(name):
    with open("calls.txt", "a") as handle:
        handle.write(name + "\\n")
"""


def script(home: Path, body: str, **kwargs: object):
    return run_python(home, PRELUDE + textwrap.dedent(body), **kwargs)


def test_the_same_call_in_a_new_process_is_a_hit(home: Path) -> None:
    body = """
    @sessions.cache
    def total(a, scale=2):
        ran("total")
        return a * scale
    out = total(np.arange(1_000_000, dtype=np.float64), scale=3)
    print(json.dumps({"sum": float(out.sum()), "hits": total.hits}))
    """
    first = json.loads(script(home, body).stdout.splitlines()[-1])
    second = json.loads(script(home, body).stdout.splitlines()[-1])
    assert calls(home) == ["total"], "the second process took the stored result"
    assert second == {"sum": first["sum"], "hits": 1}


def test_positional_and_keyword_forms_of_one_call_share_an_entry(home: Path) -> None:
    script(
        home,
        """
        @sessions.cache
        def f(a, b=2):
            ran("f")
            return a + b
        assert f(1, 2) == f(1, b=2) == f(a=1) == 3
        """,
    )
    assert calls(home) == ["f"]


def test_mutating_an_argument_array_in_place_recomputes(home: Path) -> None:
    script(
        home,
        """
        @sessions.cache
        def norm(a):
            ran("norm")
            return float(np.sqrt((a * a).sum()))
        a = np.ones(4_000_000)
        first = norm(a)
        a[123_456] = 5.0          # same object, same shape: only its bytes changed
        second = norm(a)
        assert second != first and norm(a) == second
        """,
    )
    assert calls(home) == ["norm", "norm"]


HELPER = """
def helper(x):
    return x + {delta}

def twice(x):
    return helper(x) * 2

@sessions.cache
def compute(x):
    ran("compute")
    return twice(x)

print(compute(10))
"""


def test_editing_a_helper_function_recomputes(home: Path) -> None:
    """``compute`` calls ``twice``, which calls ``helper``: editing the helper two calls
    down changes the key; putting it back finds the first result again."""
    one = script(home, HELPER.format(delta=1)).stdout.split()
    assert script(home, HELPER.format(delta=1)).stdout.split() == one == ["22"]
    assert script(home, HELPER.format(delta=5)).stdout.split() == ["30"]
    assert script(home, HELPER.format(delta=1)).stdout.split() == ["22"]
    assert calls(home) == ["compute", "compute"]


def test_a_comment_or_blank_lines_above_do_not_change_the_key(home: Path) -> None:
    script(home, HELPER.format(delta=1))
    script(home, "# a comment\n\n\n" + HELPER.format(delta=1))
    assert calls(home) == ["compute"]


GLOBAL = """
THRESHOLD = {threshold}
SETTINGS = {{"mode": "{mode}", "tags": {{"b", "a", "c"}}}}

@sessions.cache
def count_over(a):
    ran("count_over")
    return int((a > THRESHOLD).sum()) if SETTINGS["mode"] == "gt" else -1

print(count_over(np.arange(100)))
"""


def test_changing_a_global_it_reads_recomputes(home: Path) -> None:
    assert script(home, GLOBAL.format(threshold=10, mode="gt")).stdout.split() == ["89"]
    assert script(home, GLOBAL.format(threshold=50, mode="gt")).stdout.split() == ["49"]
    assert script(home, GLOBAL.format(threshold=50, mode="lt")).stdout.split() == ["-1"]
    assert script(home, GLOBAL.format(threshold=50, mode="gt")).stdout.split() == ["49"]
    assert calls(home) == ["count_over"] * 3


def test_sets_hash_the_same_whatever_the_hash_seed(home: Path) -> None:
    """Set iteration order follows PYTHONHASHSEED; the key must not."""
    body = """
    @sessions.cache
    def size(words):
        ran("size")
        return len(words)
    print(size({"alpha", "beta", "gamma", "delta", "epsilon"}))
    """
    for seed in ("1", "2", "3"):
        env = child_env(home)
        env["PYTHONHASHSEED"] = seed
        path = home.parent / "seeded.py"
        path.write_text(PRELUDE + textwrap.dedent(body))
        import subprocess
        import sys

        done = subprocess.run(
            [sys.executable, str(path)], env=env, cwd=home.parent, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
    assert calls(home) == ["size"]


def _fake_package(site: Path, version: str) -> None:
    """An installed distribution ``fakestats`` (a module plus its .dist-info) whose code is
    the same in every version: only the version says it changed."""
    package = site / "fakestats"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(
        f'__version__ = "{version}"\n\ndef mean(values):\n    return sum(values) / len(values)\n'
    )
    for old in site.glob("fakestats-*.dist-info"):
        for file in old.iterdir():
            file.unlink()
        old.rmdir()
    info = site / f"fakestats-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: fakestats\nVersion: {version}\n")
    (info / "top_level.txt").write_text("fakestats\n")
    (info / "RECORD").write_text("")


def test_a_different_installed_version_of_a_module_it_uses_recomputes(home: Path) -> None:
    site = home.parent / "site"
    body = """
    import fakestats
    @sessions.cache
    def average(values):
        ran("average " + fakestats.__version__)
        return fakestats.mean(values)
    print(average([1, 2, 3, 4]))
    """
    path = home.parent / "uses_fakestats.py"
    path.write_text(PRELUDE + textwrap.dedent(body))
    import subprocess
    import sys

    def run() -> None:
        env = child_env(home)
        env["PYTHONPATH"] = os.pathsep.join([str(site), env["PYTHONPATH"]])
        done = subprocess.run(
            [sys.executable, str(path)], env=env, cwd=home.parent, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["2.5"]

    _fake_package(site, "1.0")
    run()
    run()
    _fake_package(site, "2.0")
    run()
    assert calls(home) == ["average 1.0", "average 2.0"]


def test_a_function_that_changes_its_argument_is_computed_not_cached(home: Path) -> None:
    done = script(
        home,
        """
        @sessions.cache
        def append_one(items):
            ran("append_one")
            items.append(1)
            return len(items)
        first, second = [0], [0]
        assert append_one(first) == 2 and append_one(second) == 2
        assert first == second == [0, 1], "the side effect happened both times"
        """,
    )
    assert calls(home) == ["append_one", "append_one"]
    assert "changes argument 'items' in place" in done.stderr


def test_an_argument_that_cannot_be_hashed_is_computed_with_a_warning(home: Path) -> None:
    done = script(
        home,
        """
        import threading
        @sessions.cache
        def locked_sum(lock, values):
            ran("locked_sum")
            with lock:
                return sum(values)
        lock = threading.Lock()
        assert locked_sum(lock, [1, 2]) == locked_sum(lock, [1, 2]) == 3
        """,
    )
    assert calls(home) == ["locked_sum", "locked_sum"]
    assert "argument 'lock' cannot be hashed" in done.stderr
    assert "Traceback" not in done.stderr


def test_ignored_arguments_do_not_change_the_key(home: Path) -> None:
    script(
        home,
        """
        @sessions.cache(ignore=["verbose"])
        def square(x, verbose=False):
            ran("square")
            return x * x
        assert square(3, verbose=True) == square(3) == 9
        """,
    )
    assert calls(home) == ["square"]


def test_exceptions_are_not_cached(home: Path) -> None:
    script(
        home,
        """
        @sessions.cache
        def fails(x):
            ran("fails")
            raise ValueError(x)
        for _ in range(2):
            try:
                fails(1)
            except ValueError:
                pass
        """,
    )
    assert calls(home) == ["fails", "fails"]


def test_a_result_of_a_session_class_is_an_instance_of_the_live_class(home: Path) -> None:
    body = """
    class Point:
        def __init__(self, x, y):
            self.x, self.y = x, y
        def norm(self):
            return (self.x ** 2 + self.y ** 2) ** 0.5
    @sessions.cache
    def make(x, y):
        ran("make")
        return [Point(x, y), Point(y, x)]
    points = make(3, 4)
    assert all(type(p) is Point for p in points), "same class object, not a copy"
    print(points[0].norm())
    """
    assert script(home, body).stdout.split() == ["5.0"]
    assert script(home, body).stdout.split() == ["5.0"]
    assert calls(home) == ["make"]


def test_clear_removes_the_functions_entries_and_frees_their_space(home: Path) -> None:
    done = script(
        home,
        """
        @sessions.cache
        def big(n):
            ran("big")
            return np.full(n, 7.0)
        @sessions.cache
        def other(n):
            return n
        big(500_000); big(600_000); other(1)
        before = len(big.entries())
        removed = big.clear()
        print(json.dumps({"before": before, "removed": removed, "left": len(big.entries()),
                          "other": len(other.entries())}))
        """,
    )
    assert json.loads(done.stdout.splitlines()[-1]) == {
        "before": 2,
        "removed": 2,
        "left": 0,
        "other": 1,
    }
    blobs = sum(f.stat().st_size for f in (home / "blobs").rglob("*") if f.is_file())
    assert blobs < 1_000_000, "the arrays' objects were freed"


def test_a_size_cap_evicts_the_least_recently_used_entries(home: Path) -> None:
    done = script(
        home,
        """
        @sessions.cache(max_mb=2.5)
        def block(seed):
            ran(f"block {seed}")
            return np.random.default_rng(seed).random(125_000)  # 1 MB, incompressible
        block(1); block(2)
        block(1)                  # 1 is now more recently used than 2
        block(3)                  # over 2.5 MB: 2 goes first
        block(1)
        block(2)
        print(json.dumps(sorted(e.function for e in block.entries())))
        """,
    )
    assert calls(home) == ["block 1", "block 2", "block 3", "block 2"]
    assert len(json.loads(done.stdout.splitlines()[-1])) <= 2


def test_cache_entries_are_listed_removed_and_cleared_from_the_command_line(
    home: Path,
) -> None:
    script(
        home,
        """
        @sessions.cache
        def area(w, h):
            return w * h
        area(2, 3); area(2, 3); area(4, 5)
        """,
    )
    listed = cli(home, "cache", "ls")
    assert listed.returncode == 0, listed.stderr
    lines = [line for line in listed.stdout.splitlines() if "area" in line]
    assert len(lines) == 2
    assert any(" 1 " in f" {line} " for line in lines), "the hit is counted"
    summary = listed.stdout.splitlines()[-1]
    assert summary.startswith("2 entries, ") and summary.endswith(", 1 hit"), summary
    as_json = json.loads(cli(home, "cache", "ls", "--json").stdout)
    assert {e["function"] for e in as_json["entries"]} == {"__main__.area"}
    assert sorted(e["hits"] for e in as_json["entries"]) == [0, 1]
    removed = cli(home, "cache", "rm", as_json["entries"][0]["ref"])
    assert removed.returncode == 0, removed.stderr
    assert len(json.loads(cli(home, "cache", "ls", "--json").stdout)["entries"]) == 1
    cleared = cli(home, "cache", "clear")
    assert cleared.returncode == 0 and "removed 1" in cleared.stdout
    assert json.loads(cli(home, "cache", "ls", "--json").stdout)["entries"] == []
    assert cli(home, "cache", "rm", "nothing-like-this").returncode == 2


@pytest.mark.parametrize("bad", ["generator", "builtin"])
def test_what_cannot_be_cached_is_refused_when_decorated(bad: str) -> None:
    import sessions

    def gen():
        yield 1

    with pytest.raises(TypeError, match=r"generator|Python function"):
        sessions.cache(gen if bad == "generator" else len)


def test_a_changed_file_it_read_recomputes_and_a_file_it_wrote_does_not(home: Path) -> None:
    """Files a call opens for reading are seen as it runs; files it writes are its output."""
    body = """
    @sessions.cache
    def load(path, out):
        ran("load")
        with open(path) as handle:
            text = handle.read()
        with open(out, "a") as log:
            log.write(text)
        return text.upper()
    print(load("data.txt", "copy.txt"))
    """
    (home.parent / "data.txt").write_text("one")
    assert script(home, body).stdout.split() == ["ONE"]
    assert script(home, body).stdout.split() == ["ONE"]
    assert calls(home) == ["load"], "writing copy.txt did not make it stale"
    (home.parent / "data.txt").write_text("two!")
    assert script(home, body).stdout.split() == ["TWO!"]
    assert calls(home) == ["load", "load"]


def test_retention_over_its_size_removes_cached_results_before_snapshots(home: Path) -> None:
    """A newer cache entry goes before an older snapshot under ``max_total_mb``; pinned
    entries stay."""
    import numpy as np

    import sessions
    from sessions.core.config import RetentionPolicy
    from sessions.core.store import annotation, retention
    from sessions.core.store.session_dir import Store

    data = np.random.default_rng(1).random(200_000)  # 1.6 MB, incompressible
    sessions.save("work", namespace={"data": data}, home=home)

    def noise(seed):
        return np.random.default_rng(seed).random(200_000)

    cached = sessions.cache(noise, home=home)
    cached(1)
    cached(2)
    store = Store(home)
    pinned = next(e for e in store.entries() if e.manifest and "noise" in e.name)
    annotation.write(home, pinned.id, annotation.Annotation(pinned=True))
    report = retention.apply(store, RetentionPolicy(max_total_bytes=2 * 1024 * 1024))
    left = {e.name.split(":")[0] for e in store.entries()}
    assert "work" in left, "the snapshot stayed"
    assert len(report.removed) == 1 and ".noise:" in report.removed[0]
    assert any(e.id == pinned.id for e in store.entries()), "the pinned entry stayed"


def _four_entries_and_a_snapshot(home: Path) -> dict[str, str]:
    """Four 1.5 MiB cache entries (the first used again last, the second pinned) beside a
    1.5 MiB snapshot; returns {seed or "work": id}. The function's own cap is set high so
    only gc or the daemon can enforce ``[cache] max_mb``."""
    done = script(
        home,
        """
        @sessions.cache(max_mb=1000)
        def block(seed):
            return np.random.default_rng(seed).random(200_000)  # 1.6 MB, incompressible
        for seed in (1, 2, 3, 4):
            block(seed)
        block(1)                                    # 1 is now the most recently used
        data = np.random.default_rng(9).random(200_000)
        work = sessions.save("work")
        ids = {str(e.extra["args"]["seed"]["repr"]): e.id for e in block.entries()}
        print(json.dumps({**ids, "work": work.id}))
        """,
    )
    made = json.loads(done.stdout.splitlines()[-1])
    from sessions.core.store import annotation

    annotation.write(home, made["2"], annotation.Annotation(pinned=True))
    return made


def _left(home: Path) -> set[str]:
    from sessions.core.store.session_dir import Store

    return {i for _, i, _ in Store(home).manifest_files()}


def test_gc_enforces_the_cache_cap_least_recently_used_first_pinned_never(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "config.toml").write_text("[cache]\nmax_mb = 4\n")
    monkeypatch.setenv("SESSIONS_CONFIG_DIR", str(config))
    made = _four_entries_and_a_snapshot(home)
    assert len(_left(home)) == 5, "nothing was evicted while the function's own cap held"
    done = cli(home, "gc")  # no --policy: [cache] max_mb applies all the same
    assert done.returncode == 0, done.stderr
    assert _left(home) == {made["1"], made["2"], made["work"]}, "3 then 4 went; 2 is pinned"
    assert done.stdout.count("over [cache] max_mb 4") == 2
    assert not (home / "annotations" / f"{made['3']}.hits").exists()
    assert cli(home, "verify").returncode == 0
    cached = sum(
        i["stored"] for i in json.loads(cli(home, "cache", "ls", "--json").stdout)["entries"]
    )
    assert cached <= 4 * 1024 * 1024


def test_the_daemon_enforces_the_cache_cap_when_it_applies_retention(
    home: Path, daemon_env: dict[str, str]
) -> None:
    from sessions.daemon.client import DaemonClient

    config = home.parent / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.toml").write_text("[cache]\nmax_mb = 4\n")
    made = _four_entries_and_a_snapshot(home)
    daemon = RunningDaemon(home, daemon_env)
    try:
        with DaemonClient(home, timeout=60).connect() as client:
            result = client.request("retention")  # what its periodic run does
    finally:
        daemon.stop()
    assert len(result["removed"]) == 2 and result["freed"] > 2_000_000
    assert _left(home) == {made["1"], made["2"], made["work"]}
