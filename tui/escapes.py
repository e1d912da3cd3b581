"""Text the UI shows is data, never terminal commands.

Notes, names, previews and paths come from manifests, catalogs and foreign files — from a
teammate's remote, say — and Rich and Textual pass most control characters straight to the
terminal (they drop only BEL, BS, VT, FF and CR). An ESC in a note would then reach the
user's terminal as an escape sequence: moving the cursor, retitling the window, writing the
clipboard (OSC 52). :func:`show_control_characters` makes every piece of text Rich or
Textual renders show each control character (but newline, tab and carriage return, which
they drop) as a visible escape such as ``\\x1b`` instead, whichever widget shows it.

Both libraries strip control codes through one translation table each, so the tables are
extended rather than every widget wrapped; if a future version moves them, this says so
in the log and the UI still works (without the protection).
"""

from __future__ import annotations

import logging

log = logging.getLogger("sessions.tui")

# all but tab and newline (layout) and carriage return (still dropped: CRLF line ends)
_CODES = [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F, *range(0x80, 0xA0)]
VISIBLE = {code: f"\\x{code:02x}" for code in _CODES}


def show_control_characters() -> bool:
    """Make Rich and Textual show control characters as escapes; False if a library's
    table was not where this version expects it (logged)."""
    import rich.control
    import textual.content

    done = True
    for module in (rich.control, textual.content):
        table = getattr(module, "_CONTROL_STRIP_TRANSLATE", None)
        if isinstance(table, dict):
            table.update(VISIBLE)
        else:
            log.warning("cannot escape control characters in %s text", module.__name__)
            done = False
    return done
