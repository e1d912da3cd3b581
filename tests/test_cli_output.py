"""The command line's output for people: aligned columns, colour on a terminal and plain text
when piped, multi-line previews that keep their indent, credential-looking values masked in
``show`` until ``--reveal``, and ``--json`` as it was."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pexpect
from conftest import ROOT, child_env, cli, run_python

SESSION = """
import sessions

class Layout:
    def __repr__(self):
        return "Layout(\\n    rows=2,\\n    cols=3,\\n)"

a_rather_long_variable_name_for_alignment = Layout()
n = 1
github_token = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
sessions.save("shown", note="for the CLI", progress=False)
sessions.save("other", progress=False)
"""

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_ls_columns_align_and_piped_output_is_plain(home: Path) -> None:
    run_python(home, SESSION)
    listed = cli(home, "ls")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert not ANSI.search(listed.stdout), "no colour codes when piped"
    assert all(line == line.rstrip() for line in lines), "no trailing spaces"
    header = lines[0]
    assert header.split() == ["REF", "ID", "WHAT", "CREATED", "VARS", "STORED", "NOTE"]
    ids_at = header.index("ID")
    for line in lines[1:]:
        assert re.match(r"[0-9A-Z]{10}$", line[ids_at : ids_at + 10]), (header, line)
    stored_end = header.index("STORED") + len("STORED")  # sizes right-aligned under it
    for line in lines[1:]:
        assert re.search(r"(B|KiB|MiB)$", line[:stored_end]), (header, line)


def test_show_keeps_multiline_reprs_indented_and_masks_secrets(home: Path) -> None:
    run_python(home, SESSION)
    shown = cli(home, "show", "shown")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if "a_rather_long_variable_name" in line)
    assert lines[at + 1 : at + 5] == [
        "      Layout(",
        "          rows=2,",
        "          cols=3,",
        "      )",
    ]
    rows = [line for line in lines if line.startswith("  ") and not line.startswith("      ")]
    type_columns = {line.index("__main__.Layout") for line in rows if "__main__.Layout" in line}
    type_columns |= {line.index("int") for line in rows if line.split()[0] == "n"}
    assert len(type_columns) == 1, rows  # one column for types, whatever the name lengths
    secret = next(line for line in lines if line.split()[:1] == ["github_token"])
    assert secret.rstrip().endswith("SECRET")
    assert "a1B2c3D4" not in shown.stdout
    assert (
        "hidden: github_token holds a GitHub token" in shown.stdout and "--reveal" in shown.stdout
    )

    revealed = cli(home, "show", "shown", "--reveal")
    assert "ghp_a1B2c3D4" in revealed.stdout and "SECRET (shown)" in revealed.stdout
    as_json = json.loads(cli(home, "show", "shown", "--json").stdout)
    assert as_json["version"] == 1 and "github_token" in as_json["manifest"]["secrets"]


def test_a_terminal_gets_colour(home: Path) -> None:
    run_python(home, SESSION)
    env = child_env(home)
    env.update(TERM="xterm-256color", COLUMNS="160", LINES="40")
    env.pop("NO_COLOR", None)
    child = pexpect.spawn(
        sys.executable,
        ["-m", "sessions.tui.cli", "ls"],
        env=env,
        cwd=str(ROOT),
        encoding="utf-8",
        dimensions=(40, 160),
        timeout=60,
    )
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    assert ANSI.search(child.before), "bold refs and dim ids on a terminal"
    plain = ANSI.sub("", child.before)
    assert "shown@1" in plain and "for the CLI" in plain
