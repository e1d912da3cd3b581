"""A program in a real terminal: a private tmux server, driven by keys, read from the screen.

Without tmux these tests are skipped, except in CI (``CI`` set), where ``.ci/run`` installs
tmux and a missing one is a failure rather than a silent skip.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable

import pytest

requires_tmux = pytest.mark.skipif(
    shutil.which("tmux") is None and not os.environ.get("CI"), reason="tmux is not installed"
)


# What this machine needs in every process's environment (the locale; OpenBLAS settings for
# processors older OpenBLAS builds get wrong), passed to the program unless ``env`` says it.
MACHINE_VARIABLES = ("LANG", "LC_", "OPENBLAS_")


class Tmux:
    """The app in a real terminal: a private tmux server (tmux's defaults, no user config, its
    own socket), driven by keys and read from the screen. Keys are sent without pauses; a test
    waits for the state a key leads to before sending one that depends on it."""

    def __init__(
        self,
        command: list[str],  # run with ``env`` (and MACHINE_VARIABLES) as its environment
        env: dict[str, str],
        size: tuple[int, int] = (150, 46),
        *,
        cwd: str | None = None,
    ) -> None:
        if shutil.which("tmux") is None:
            pytest.fail("tmux is not installed (.ci/run installs it)")
        self.name = f"sessions-e2e-{uuid.uuid4().hex[:8]}"
        self.tmux = ["tmux", "-L", self.name, "-f", "/dev/null"]
        machine = {k: v for k, v in os.environ.items() if k.startswith(MACHINE_VARIABLES)}
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in {**machine, **env}.items())
        # env -i: the program sees ``env`` and nothing of the tmux server's (this test run's),
        # except what tmux tells its panes (how to reach it: the clipboard uses that)
        command_line = " ".join(shlex.quote(c) for c in command)
        pane = 'TMUX="$TMUX" TMUX_PANE="$TMUX_PANE"'
        shell = f"env -i {pane} {exports} {command_line}; echo APP-EXITED-$?; sleep 600"
        subprocess.run(
            [
                *self.tmux,
                "new-session",
                "-d",
                "-s",
                self.name,
                "-x",
                str(size[0]),
                "-y",
                str(size[1]),
                *(["-c", cwd] if cwd else []),
                shell,
                # keep that size: with no client attached, tmux would otherwise resize the
                # window to its default 80x24 on some later event
                *(";", "set-option", "-g", "default-size", f"{size[0]}x{size[1]}"),
                *(";", "set-option", "-g", "window-size", "manual"),
            ],
            check=True,
        )

    def screen(self, *, colors: bool = False) -> str:
        done = subprocess.run(
            [*self.tmux, "capture-pane", "-p", *(["-e"] if colors else []), "-t", self.name],
            capture_output=True,
            text=True,
        )
        return done.stdout

    def keys(self, *keys: str, literal: bool = False) -> None:
        args = [*self.tmux, "send-keys", "-t", self.name, *(["-l"] if literal else []), *keys]
        subprocess.run(args, check=True)

    def type(self, text: str) -> None:
        self.keys(text, literal=True)

    def until(self, what: str, ready: Callable[[], str | None], timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            found = ready()
            if found is not None:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} never happened; screen was:\n{self.screen()}")
            time.sleep(0.05)

    def wait(self, text: str, timeout: float = 60) -> str:
        """The screen, once ``text`` is on it."""

        def shown() -> str | None:
            screen = self.screen()
            return screen if text in screen else None

        return self.until(f"{text!r} appearing", shown, timeout)

    def wait_gone(self, text: str, timeout: float = 60) -> str:
        """The screen, once ``text`` has left it (a dialog closed: the key that closed it,
        escape included, has been read, so the next key is a key of its own)."""

        def gone() -> str | None:
            screen = self.screen()
            return screen if text not in screen else None

        return self.until(f"{text!r} leaving", gone, timeout)

    def wait_focus(self, pane: str, timeout: float = 60) -> None:
        """Until ``pane`` (a bordered pane's title) is the one drawn as focused: its border has
        a colour no other pane's border has."""

        def focused() -> str | None:
            colors = _border_colors(self.screen(colors=True))
            others = [c for title, c in colors.items() if title != pane]
            mine = colors.get(pane)
            return pane if mine is not None and others and mine not in others else None

        self.until(f"focus on {pane}", focused, timeout)

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], capture_output=True)


_SGR = re.compile(r"\x1b\[([0-9;]*)m")
_TITLE = re.compile(r"╭─ (\w+) ")


def _border_colors(screen: str) -> dict[str, str]:
    """Each pane title on the screen (``╭─ Title ─…``) with the foreground colour its
    border corner is drawn in."""
    found: dict[str, str] = {}
    for line in screen.splitlines():
        fg, plain, colors = "", [], []
        position = 0
        for match in _SGR.finditer(line + "\x1b[m"):
            text = line[position : match.start()]
            plain.append(text)
            colors.extend([fg] * len(text))
            fg = _foreground(match.group(1), fg)
            position = match.end()
        joined = "".join(plain)
        for title in _TITLE.finditer(joined):
            found[title.group(1)] = colors[title.start()]
    return found


def _foreground(params: str, current: str) -> str:
    parts = params.split(";") if params else ["0"]
    i = 0
    while i < len(parts):
        part = parts[i]
        if part in ("0", "", "39"):  # reset, default foreground
            current = ""
        elif part == "38" and i + 2 < len(parts) and parts[i + 1] == "5":
            current, i = f"5;{parts[i + 2]}", i + 2
        elif part == "38" and i + 4 < len(parts) and parts[i + 1] == "2":
            current, i = ";".join(parts[i + 2 : i + 5]), i + 4
        elif part.isdigit() and (30 <= int(part) <= 37 or 90 <= int(part) <= 97):
            current = part
        i += 1
    return current
