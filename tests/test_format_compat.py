"""Yesterday's snapshots load today: stores written by earlier versions stay readable.

``fixtures/store-format1`` was written by sessions-tui 0.1 (store format 1, the flat
``core`` package, before the library moved under ``sessions``) by running
``fixtures/store-format1-make.py`` as a script. Its pickle streams name the old module paths,
so this test proves that the rename and any later format change keep a reader for it.

``fixtures/store-format2`` was written by store format 2 (packs, manifest schema 1.1: one
msgpack map per snapshot, signed over its re-encoding) by ``fixtures/store-format2-make.py``,
two versions of one name: what every later format must keep reading.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import cli, run_json, run_python

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


@pytest.fixture
def format2_home(tmp_path: Path) -> Path:
    home = tmp_path / "home2"
    shutil.copytree(FIXTURES / "store-format2", home)
    home.chmod(0o700)
    return home


FORMAT2_CHECKS = """
import sys
import numpy as np
import sessions

home = sys.argv[1]
report = sessions.load("fixture@1", home=home, trust=True)
assert not report.failed, report.failed
assert numbers == list(range(10)), numbers
assert text == "hello, format 2"
assert table == {"a": 1, "b": [1, 2, 3], "c": {"nested": (1.5, None)}}
assert np.array_equal(weights, np.arange(1 << 17, dtype=np.float64))
weights[0] = -1.0  # loaded arrays are writable
assert small.tolist() == np.arange(12, dtype=np.int32).reshape(3, 4).tolist()
assert [t.tolist() for t in tiny] == [[i] * 4 for i in range(50)]
assert frame["y"].tolist() == list("abcde")
assert model.predict(2) == 5.0 and type(model) is Model and isinstance(model, Base)
assert triple(2) == 6 and square(3) == 9
assert pair[0] is pair[1] and modules["np"] is np
assert raw == bytearray(b"\x01\x02" * 40_000)
one = sessions.load("fixture", names=["numbers"], home=home, trust=True, namespace={})
assert one.loaded == ["numbers"], one.loaded
second = {}
sessions.load("fixture@2", names=["numbers", "model"], home=home, trust=True, namespace=second)
assert second["numbers"] == list(range(11)) and second["model"].predict(2) == 5.0
info = sessions.inspect("fixture@1", home=home)
assert info.note == "store format 2" and info.tags == ("fixture",)
assert info.variables["weights"] == "numpy.ndarray"
assert "shape" in str(info.preview("weights"))
print("ok", len(report.loaded))
"""


def test_a_store_written_by_format_2_loads_every_variable(format2_home: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", FORMAT2_CHECKS, str(format2_home)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok")


def test_a_store_written_by_format_2_lists_verifies_and_keeps_its_blobs(
    format2_home: Path,
) -> None:
    listed = cli(format2_home, "ls")
    assert listed.returncode == 0, listed.stderr
    assert "fixture@1" in listed.stdout and "fixture@2" in listed.stdout
    assert "damaged" not in listed.stdout.lower()
    assert cli(format2_home, "verify").returncode == 0
    before = _files(format2_home)
    done = cli(format2_home, "gc")
    assert done.returncode == 0, done.stderr
    assert {p for p in before if "blobs" in p.parts} <= _files(format2_home)
    assert cli(format2_home, "verify").returncode == 0
    # a new save into yesterday's store: both formats side by side, both load
    run_python(format2_home, "import sessions\nnewer = list(range(5))\nsessions.save('newer')\n")
    got = run_json(
        format2_home,
        """
        import json, sessions
        a = sessions.load("fixture", trust=True)
        b = sessions.load("newer")
        print(json.dumps([a.failed, b.failed, text, newer]))
        """,
    )
    assert got == [{}, {}, "hello, format 2", [0, 1, 2, 3, 4]]
    assert cli(format2_home, "verify").returncode == 0


def _files(home: Path) -> set[Path]:
    return {p for p in home.rglob("*") if p.is_file() and "locks" not in p.parts}


def _packs(home: Path) -> set[str]:
    return {p.name for p in (home / "blobs" / "pack").glob("pack-*")}


MANY_SMALL = """
import numpy as np, sessions
for i in range(3000):
    globals()[f"a{i}"] = np.arange(i % 50, dtype=np.int64) * i
for i in range(500):
    globals()[f"d{i}"] = {"id": i, "name": f"row {i}", "tags": ["x"] * (i % 4)}
big = np.arange(400_000, dtype=np.float64)          # 3.2 MB: a blob file of its own
sessions.save("many")
"""


def test_many_small_variables_save_into_a_few_files_and_load_back(home: Path) -> None:
    run_python(home, MANY_SMALL)
    # FORMAT, one manifest, a pack and its index, one big blob: not one file per object
    assert len(_files(home)) <= 8, sorted(map(str, _files(home)))
    assert (home / "FORMAT").read_text().strip() == "sessions-store 3"
    got = run_json(
        home,
        """
        import json, numpy as np, sessions
        r = sessions.load("many")
        ok = all(np.array_equal(globals()[f"a{i}"], np.arange(i % 50) * i) for i in range(3000))
        ok = ok and all(globals()[f"d{i}"]["id"] == i for i in range(500))
        big[0] = -1.0                                  # loaded arrays are writable
        print(json.dumps([r.failed, len(r.loaded), ok, float(big[1:].sum())]))
        """,
    )
    assert got == [{}, 3502, True, float(sum(range(1, 400_000)))]


def test_resaving_unchanged_variables_writes_no_new_pack(home: Path) -> None:
    run_python(home, MANY_SMALL)
    before = _packs(home)
    run_python(home, MANY_SMALL)
    assert _packs(home) == before
    assert "many@2" in cli(home, "ls").stdout


def test_a_store_mixing_format_1_and_format_2_snapshots_keeps_both(format1_home: Path) -> None:
    home = format1_home
    assert not (home / "blobs" / "pack").exists()
    run_python(
        home, "import sessions\nrows = [{'i': i} for i in range(100)]\nsessions.save('newer')\n"
    )
    assert (home / "FORMAT").read_text().strip() == "sessions-store 3"
    assert _packs(home)
    assert cli(home, "verify").returncode == 0
    done = cli(home, "gc")
    assert done.returncode == 0, done.stderr
    assert cli(home, "verify").returncode == 0
    got = run_json(
        home,
        """
        import json, sessions
        a = sessions.load("fixture", trust=True)
        b = sessions.load("newer")
        print(json.dumps([a.failed, b.failed, text, rows[99]]))
        """,
    )
    assert got == [{}, {}, "hello, format 1", {"i": 99}]
    # removing the new snapshot lets gc drop its pack; the format-1 snapshot is untouched
    assert cli(home, "rm", "newer").returncode == 0
    assert cli(home, "gc").returncode == 0
    assert not _packs(home)
    assert cli(home, "verify").returncode == 0
    again = run_json(
        home,
        "import json, sessions\nprint(json.dumps(sessions.load('fixture', trust=True).failed))\n",
    )
    assert again == {}


def test_gc_repacks_a_pack_that_is_mostly_garbage(home: Path) -> None:
    run_python(
        home,
        """
        import sessions
        keep = ["kept"] * 10
        sessions.save("keep")
        drop = [f"row {i}" for i in range(50_000)]   # most of the pack's bytes
        sessions.save("drop")
        """,
    )
    run_python(home, "import sessions\nkeep = ['kept'] * 10\nsessions.save('both')\n")
    assert cli(home, "rm", "drop").returncode == 0
    before = _packs(home)
    done = cli(home, "gc")
    assert done.returncode == 0 and "removed" in done.stdout
    assert _packs(home) != before
    assert cli(home, "verify").returncode == 0
    got = run_json(
        home,
        "import json, sessions\nr = sessions.load('both')\nprint(json.dumps([r.failed, keep]))\n",
    )
    assert got == [{}, ["kept"] * 10]


def test_a_damaged_pack_index_still_loads_and_verify_names_the_pack(home: Path) -> None:
    run_python(home, "import sessions\nrows = [{'i': i} for i in range(100)]\nsessions.save('r')\n")
    (index,) = (home / "blobs" / "pack").glob("*.idx")
    data = bytearray(index.read_bytes())
    data[20] ^= 0x01
    index.write_bytes(bytes(data))
    got = run_json(
        home,
        "import json, sessions\nr = sessions.load('r')\nprint(json.dumps([r.failed, rows[5]]))\n",
    )
    assert got == [{}, {"i": 5}]
    verified = cli(home, "verify")
    assert verified.returncode == 1
    (line,) = [ln for ln in verified.stdout.splitlines() if ln.startswith("CORRUPT")]
    assert "pack" in line and "damaged index" in line
    # gc keeps a pack whose index it cannot trust
    assert cli(home, "gc").returncode == 0 and index.exists()
