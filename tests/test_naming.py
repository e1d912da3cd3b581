"""Default snapshot names: the same script's saves are versions of one name; another file
with the same name, or another shell, never becomes a version of it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import child_env, cli


def _run_script(home: Path, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("import sessions\nvalue = 1\nsessions.save(progress=False)\n")
    done = subprocess.run(
        [sys.executable, str(path)], env=child_env(home), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def _refs(home: Path) -> list[str]:
    return [s["ref"] for s in json.loads(cli(home, "ls", "--json").stdout)["snapshots"]]


def test_same_script_versions_one_name_another_file_of_that_name_gets_its_own(
    home: Path, tmp_path: Path
) -> None:
    first, other = tmp_path / "etl" / "main.py", tmp_path / "report" / "main.py"
    _run_script(home, first)
    _run_script(home, first)
    _run_script(home, other)
    _run_script(home, other)
    refs = _refs(home)
    assert "main@1" in refs and "main@2" in refs
    theirs = sorted(r for r in refs if r.startswith("main-"))
    assert len(theirs) == 2 and theirs[0].endswith("@1") and theirs[1].endswith("@2"), refs
    assert theirs[0].split("@")[0] == theirs[1].split("@")[0]  # one name for that file


def test_two_python_prompts_never_share_a_name(home: Path) -> None:
    code = "import sessions\nvalue = 1\nsessions.save(progress=False)\n"
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-i"], input=code, env=child_env(home), capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
    names = {ref.split("@")[0] for ref in _refs(home)}
    assert len(names) == 2 and all(n.startswith("python-") for n in names), names
