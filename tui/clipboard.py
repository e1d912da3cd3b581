"""Copying text so that the UI can say truthfully where it went.

OSC 52 (the terminal escape Textual's ``copy_to_clipboard`` sends) cannot be confirmed: a
terminal that ignores it, or tmux under its default ``set-clipboard external``, drops it
silently. So the text also goes through a tool that reports success: pyperclip when it is
installed, else the platform's own (``wl-copy``, ``xclip``, ``xsel``, ``pbcopy``,
``clip.exe``), and tmux's paste buffer (``tmux load-buffer``) when running inside tmux.
:func:`copy_text` returns what happened; the UI turns that into one toast, showing the text
itself when nothing confirmed the copy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

TIMEOUT = 3.0  # seconds a clipboard tool may take before it counts as failed


@dataclass(frozen=True)
class CopyResult:
    """Where copied text went: ``places`` confirmed it, ``tried`` refused it (with why)."""

    text: str
    places: tuple[str, ...]
    tried: tuple[str, ...] = ()

    @property
    def confirmed(self) -> bool:
        return bool(self.places)

    def message(self, what: str = "Text") -> str:
        """One line for a toast: where it went, or that it could not be copied and the text."""
        if self.places:
            return f"{what} copied to {' and '.join(self.places)}"
        why = f" ({'; '.join(self.tried)})" if self.tried else " (no clipboard tool found)"
        return (
            f"{what} could not be copied{why}. Sent to the terminal by OSC 52, which it may "
            f"ignore. The text:\n{self.text}"
        )


def _commands() -> list[tuple[str, list[str]]]:
    """Clipboard tools that apply to this machine, best first: (label, argv)."""
    found: list[tuple[str, list[str]]] = []
    if sys.platform == "darwin" and shutil.which("pbcopy"):
        found.append(("the clipboard (pbcopy)", ["pbcopy"]))
    if os.environ.get("WAYLAND_DISPLAY") and shutil.which("wl-copy"):
        found.append(("the clipboard (wl-copy)", ["wl-copy"]))
    if os.environ.get("DISPLAY"):
        if shutil.which("xclip"):
            found.append(("the clipboard (xclip)", ["xclip", "-selection", "clipboard"]))
        elif shutil.which("xsel"):
            found.append(("the clipboard (xsel)", ["xsel", "--clipboard", "--input"]))
    if shutil.which("clip.exe"):
        found.append(("the Windows clipboard (clip.exe)", ["clip.exe"]))
    return found


def _run(argv: list[str], text: str) -> str | None:
    """Feed ``text`` to ``argv``; ``None`` on success, else why it failed."""
    try:
        done = subprocess.run(
            argv,
            input=text.encode(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{argv[0]}: {exc}"
    if done.returncode != 0:
        error = done.stderr.decode(errors="replace").strip().splitlines()
        return f"{argv[0]}: {error[-1] if error else f'exit status {done.returncode}'}"
    return None


def _system_clipboard(text: str) -> tuple[str | None, list[str]]:
    """Put ``text`` on the system clipboard: (where it went or None, failures)."""
    failures: list[str] = []
    try:
        import pyperclip  # type: ignore[import-not-found, import-untyped, unused-ignore]
    except ImportError:
        pyperclip = None
    if pyperclip is not None:
        try:
            pyperclip.copy(text)
            return "the clipboard (pyperclip)", failures
        except Exception as exc:  # pyperclip raises its own error when it finds no mechanism
            failures.append(f"pyperclip: {exc}")
    for label, argv in _commands():
        failure = _run(argv, text)
        if failure is None:
            return label, failures
        failures.append(failure)
    return None, failures


def copy_text(text: str) -> CopyResult:
    """Copy ``text`` through every confirmable route that applies (blocking: call it from a
    worker thread). The caller sends OSC 52 as well; this reports what is confirmed."""
    places: list[str] = []
    tried: list[str] = []
    where, failures = _system_clipboard(text)
    tried += failures
    if where:
        places.append(where)
    if os.environ.get("TMUX") and shutil.which("tmux"):
        # -w also hands the buffer to the outer terminal's clipboard (tmux 3.2+)
        failure = _run(["tmux", "load-buffer", "-w", "-"], text)
        if failure is not None:
            failure = _run(["tmux", "load-buffer", "-"], text)
        if failure is None:
            places.append("tmux's paste buffer (prefix ] pastes it)")
        else:
            tried.append(failure)
    return CopyResult(text, tuple(places), tuple(tried))
