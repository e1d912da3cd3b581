"""`sessions-tui restore` opens an interactive Python in a real terminal with the snapshot loaded."""

from __future__ import annotations

import sys
from pathlib import Path

import pexpect
from conftest import ROOT, child_env, run_python


def test_restore_opens_a_shell_with_only_the_chosen_variables(home: Path) -> None:
    run_python(home, "import sessions\nalpha = 11\nbeta = 22\ngamma = 33\nsessions.save('shell')\n")
    env = child_env(home)
    env["TERM"] = "dumb"
    shell = pexpect.spawn(
        sys.executable,
        ["-m", "sessions.tui.cli", "restore", "shell", "--vars", "alpha,gamma"],
        env=env,
        cwd=str(ROOT),
        encoding="utf-8",
        timeout=60,
        dimensions=(40, 120),
    )
    try:
        shell.expect("loaded 2 variables from shell@1")
        shell.sendline(
            "print('VARS', sorted(n for n in ('alpha', 'beta', 'gamma') if n in globals()), alpha + gamma)"
        )
        shell.expect(r"VARS \['alpha', 'gamma'\] 44")
        shell.sendline("exit()")
        shell.expect(pexpect.EOF)
    finally:
        shell.close(force=True)
    assert shell.exitstatus == 0
