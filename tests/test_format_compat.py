"""Yesterday's snapshots load today: stores written by earlier versions stay readable.

``fixtures/store-format1`` was written by sessions-tui 0.1 (store format 1, the flat
``core`` package, before the library moved under ``sessions``) by running
``fixtures/store-format1-make.py`` as a script. Its pickle streams name the old module paths,
so this test proves that the rename and any later format change keep a reader for it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import cli

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def format1_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    shutil.copytree(FIXTURES / "store-format1", home)
    home.chmod(0o700)
    return home


def test_a_store_written_by_format_1_loads_every_variable(format1_home: Path) -> None:
    # A fresh interpreter, as a user restoring yesterday's work would have: nothing of the
    # saving script is importable, so functions and classes must come from the snapshot.
    code = textwrap.dedent(
        """
        import sys
        import numpy as np
        import sessions

        home = sys.argv[1]
        report = sessions.load("fixture", home=home, trust=True)
        assert not report.failed, report.failed
        ns = sys.modules["__main__"].__dict__
        assert numbers == list(range(10))
        assert text == "hello, format 1"
        assert table == {"a": 1, "b": [1, 2, 3], "c": {"nested": (1.5, None)}}
        assert np.array_equal(weights, np.arange(200_000, dtype=np.float64))
        assert small.tolist() == np.arange(12, dtype=np.int32).reshape(3, 4).tolist()
        assert frame["y"].tolist() == list("abcde")
        assert model.predict(2) == 5.0 and type(model) is Model
        assert triple(2) == 6 and square(3) == 9
        assert pair[0] is pair[1]
        print("ok", len(report.loaded))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(format1_home)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok")


def test_a_store_written_by_format_1_lists_and_verifies(format1_home: Path) -> None:
    listed = cli(format1_home, "ls")
    assert listed.returncode == 0, listed.stderr
    assert "fixture" in listed.stdout
    verified = cli(format1_home, "verify", "fixture")
    assert verified.returncode == 0, verified.stdout + verified.stderr
