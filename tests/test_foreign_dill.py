"""A dill.dump_module file dropped in the session dir is listed and inspected without
running any of it, and loads with dill when asked."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import cli, run_json, run_python


def _make_dill_file(home: Path, canary: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    run_python(
        home,
        f"""
        import os, dill, numpy as np

        class Trap:
            def __reduce__(self):
                return (os.mkdir, ({str(canary)!r},))

        trap = Trap()
        values = np.arange(5)
        greeting = "hello"
        def twice(x):
            return 2 * x
        dill.dump_module({str(home / "old-work.pkl")!r})
        """,
    )


def test_dill_file_is_inspected_without_running_it(home: Path, tmp_path: Path) -> None:
    canary = tmp_path / "canary-created"
    _make_dill_file(home, canary)
    listed = cli(home, "ls", "--json")
    assert listed.returncode == 0, listed.stderr
    entries = json.loads(listed.stdout)["snapshots"]
    foreign = [e for e in entries if e["kind"] == "foreign"]
    assert [e["ref"] for e in foreign] == ["old-work.pkl"]
    assert foreign[0]["variables"] >= 4
    shown = cli(home, "show", "old-work.pkl")
    assert shown.returncode == 0, shown.stderr
    for name, kind in [
        ("values", "numpy.ndarray"),
        ("greeting", "str"),
        ("twice", "function"),
        ("trap", "posix.mkdir"),
    ]:
        line = next(line for line in shown.stdout.splitlines() if line.split()[:1] == [name])
        assert kind in line, line
    assert not canary.exists(), "inspecting must never run the pickle"

    refused = run_json(
        home,
        """
        import json, sessions
        try:
            sessions.load("old-work.pkl")
        except sessions.SessionsError as exc:
            print(json.dumps(str(exc)))
        """,
    )
    assert "refusing to load old-work.pkl" in refused and "trust=True" in refused
    assert not canary.exists(), "an unsigned dill file is not loaded without the override"

    got = run_json(
        home,
        """
        import json, sessions
        r = sessions.load("old-work.pkl", trust=True)
        print(json.dumps({"loaded": r.loaded, "greeting": greeting, "twice": twice(21)}))
        """,
    )
    assert got["greeting"] == "hello" and got["twice"] == 42
    assert canary.exists(), "loading with dill runs the file (which is why looking never does)"


def test_garbage_pkl_is_reported_not_fatal(home: Path) -> None:
    home.mkdir(parents=True)
    (home / "junk.pkl").write_bytes(b"\x80\x05this is not a pickle" * 10)
    listed = cli(home, "ls")
    assert listed.returncode == 0
    assert "junk.pkl" in listed.stdout and "DAMAGED" in listed.stdout
