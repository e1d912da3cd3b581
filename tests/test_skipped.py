"""One object that cannot be saved never fails the save: it is skipped with its reason."""

from __future__ import annotations

from pathlib import Path

from conftest import cli, run_json


def test_unpicklable_objects_are_skipped_and_the_rest_restores(home: Path) -> None:
    saved = run_json(
        home,
        """
        import json, socket, sqlite3, threading
        import sessions
        gen = (i * i for i in range(10))
        sock = socket.socket()
        conn = sqlite3.connect(":memory:")
        fh = open(__file__)
        lock = threading.Lock()
        good = {"numbers": [1, 2, 3]}
        text = "still here"
        r = sessions.save("mixed")
        print(json.dumps({"saved": sorted(r.saved), "skipped": r.skipped}))
        """,
    )
    skipped = saved["skipped"]
    assert set(skipped) == {"gen", "sock", "conn", "fh", "lock"}
    assert "generator" in skipped["gen"]
    assert "socket" in skipped["sock"]
    assert "sqlite3.Connection" in skipped["conn"]
    assert "TextIOWrapper" in skipped["fh"]
    assert all("\n" not in reason for reason in skipped.values())
    assert saved["saved"] == ["good", "text"]

    shown = cli(home, "show", "mixed")
    assert shown.returncode == 0
    assert "5 skipped" in shown.stdout and "cannot pickle 'generator' object" in shown.stdout

    got = run_json(
        home,
        """
        import json, sessions
        report = sessions.load("mixed")
        print(json.dumps({"failed": report.failed, "good": good, "text": text}))
        """,
    )
    assert got == {"failed": {}, "good": {"numbers": [1, 2, 3]}, "text": "still here"}


def test_a_bad_member_of_a_sharing_group_does_not_take_the_others_down(home: Path) -> None:
    saved = run_json(
        home,
        """
        import json, socket
        import sessions
        shared = [1, 2]
        a = {"shared": shared, "sock": socket.socket()}
        b = [shared]
        r = sessions.save("group")
        print(json.dumps({"saved": sorted(r.saved), "skipped": sorted(r.skipped)}))
        """,
    )
    assert saved["skipped"] == ["a"]
    assert saved["saved"] == ["b", "shared"]
