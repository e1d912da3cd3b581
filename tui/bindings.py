"""Every action the app offers, registered once: id, key(s), description, help text.

The footer, the help screen and the command palette are all generated from this table, and
users remap keys by id in ``config.toml`` (``[tui.keys] restore = "R"``).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class Action:
    id: str
    keys: str
    description: str
    help: str
    show: bool = True  # in the footer (where it applies and there is room)
    rank: int = 5  # lower is more important: kept first when the footer is narrow


ACTIONS: tuple[Action, ...] = (
    Action(
        "filter",
        "slash",
        "Filter",
        "Filter snapshots by name, note, tag or variable name, across all snapshots.",
        rank=3,
    ),
    Action(
        "open",
        "enter",
        "Open",
        "Open the highlighted group or snapshot: focus moves to what it holds.",
    ),
    Action(
        "mark",
        "space",
        "Mark",
        "Mark or unmark the highlighted variable for a partial restore.",
        rank=2,
    ),
    Action(
        "reveal",
        "x",
        "Reveal",
        "Show or hide the value of a variable that looks like a credential (masked in the "
        "preview until revealed), or the history lines that look like they hold one.",
        rank=2,
    ),
    Action(
        "restore",
        "r",
        "Restore",
        "Restore the snapshot (or the marked variables and what they need).",
        rank=2,
    ),
    Action(
        "share",
        "s",
        "Share",
        "Share the snapshot: export a bundle file, or push to a team remote and copy the pull "
        "command. Variables that look like credentials are left out unless you include them.",
        rank=3,
    ),
    Action(
        "delete", "d", "Delete", "Delete the snapshot (asks first); its blobs go at the next gc."
    ),
    Action(
        "pin", "p", "Pin", "Pin or unpin the snapshot; retention never removes a pinned snapshot."
    ),
    Action("note", "n", "Note", "Edit the snapshot's note and tags."),
    Action(
        "compare",
        "c",
        "Compare",
        "Compare with another snapshot: added, removed and changed variables.",
        rank=6,
    ),
    Action(
        "verify",
        "V",
        "Verify",
        "Re-hash everything the snapshot stores; names the variable of any corruption.",
        show=False,
    ),
    Action(
        "pull",
        "P",
        "Pull",
        "Pull a teammate's snapshot from a team remote (checked against their key).",
        show=False,
    ),
    Action(
        "import_bundle",
        "I",
        "Import",
        "Import a bundle file a teammate sent (asks which; checked against their key).",
        show=False,
    ),
    Action(
        "gc",
        "ctrl+g",
        "Collect garbage",
        "Free the space of deleted snapshots: removes stored objects no snapshot uses.",
        show=False,
    ),
    Action(
        "snapshot_kernel",
        "K",
        "Snapshot kernel",
        "Snapshot a running Jupyter kernel (silently: nothing added to the notebook).",
        show=False,
    ),
    Action(
        "start_daemon",
        "D",
        "Start daemon",
        "Start the background daemon for live updates.",
        show=False,
    ),
    Action("refresh", "ctrl+r", "Refresh", "Read the snapshots again.", show=False),
    Action(
        "cancel_operation",
        "escape",
        "Cancel",
        "Stop the running operation at its next clean point: what was finished stays, nothing "
        "half-written is kept.",
        rank=0,
    ),
    Action(
        "open_demo",
        "o",
        "Open the demo",
        "Build the demo session dir (a small churn analysis) and browse it: your own session "
        "dir is not touched. Offered while there are no snapshots yet.",
        rank=1,
    ),
    Action(
        "toggle_groups",
        "ctrl+b",
        "Groups",
        "Hide or show the sessions pane (hidden by itself on narrow terminals until you show it).",
        rank=7,
    ),
    Action("next_pane", "tab", "Next pane", "Move to the next pane.", show=False),
    Action("prev_pane", "shift+tab", "Previous pane", "Move to the previous pane.", show=False),
    Action(
        "help",
        "question_mark,f1",
        "Help",
        "Show the keys of the focused pane and of the app.",
        rank=1,
    ),
    Action(
        "command_palette",
        "ctrl+p",
        "Commands",
        "Every action, searchable, with its key.",
        show=False,
    ),
    Action("quit", "q", "Quit", "Leave sessions-tui.", rank=1),
)

BY_ID = {action.id: action for action in ACTIONS}


def app_bindings() -> list[Binding]:
    # tab must beat the screen's own focus_next; the app hands it back inside dialogs
    priority = {"next_pane", "prev_pane"}
    return [
        Binding(a.keys, a.id, a.description, show=a.show, id=a.id, priority=a.id in priority)
        for a in ACTIONS
    ]


def key_label(keys: str) -> str:
    names = {
        "slash": "/",
        "question_mark": "?",
        "space": "space",
        "enter": "enter",
        "escape": "esc",
    }
    return ", ".join(names.get(k, k) for k in keys.split(","))


# Cursor keys shared by every list and table: arrows and vim keys both (ctrl+b, vim's page
# up, hides the sessions pane as in Harlequin; ctrl+u pages up).
CURSOR_BINDINGS = [
    Binding("j,down", "cursor_down", "Down", show=False),
    Binding("k,up", "cursor_up", "Up", show=False),
    Binding("g,home", "first", "First", show=False),
    Binding("G,end", "last", "Last", show=False),
    Binding("pagedown,ctrl+f,ctrl+d", "page_down", "Page down", show=False),
    Binding("pageup,ctrl+u", "page_up", "Page up", show=False),
]
