"""The Sessions terminal UI: browse, preview, restore and manage snapshots from the keyboard.

Layout: origin groups | snapshots (top) over variables and the preview tabs (bottom).
All disk, catalog and socket work runs in thread workers that post messages back; the first
paint never waits for data and no widget is touched from a thread.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Header, Input, OptionList, TabbedContent

from sessions.core.config import Config, ConfigError, load_config, resolve_keys, save_theme
from sessions.core.engine.compare import compare
from sessions.core.errors import Cancelled, SessionsError
from sessions.core.store import annotation
from sessions.core.store.catalog import Row
from sessions.core.store.session_dir import Entry, Store
from sessions.tui import messages
from sessions.tui.bindings import ACTIONS, app_bindings, key_label
from sessions.tui.clipboard import CopyResult, copy_text
from sessions.tui.components import group_list, preview_pane, snapshot_table, variable_table
from sessions.tui.components.compare_modal import CompareModal, PickSnapshotModal
from sessions.tui.components.confirm_modal import ConfirmModal
from sessions.tui.components.group_list import ALL, GroupList
from sessions.tui.components.help_screen import HelpScreen
from sessions.tui.components.key_footer import KeyFooter
from sessions.tui.components.note_modal import NoteModal
from sessions.tui.components.outcome_modal import OutcomeModal
from sessions.tui.components.path_modal import PathModal
from sessions.tui.components.preview_pane import PreviewPane
from sessions.tui.components.progress_panel import ProgressPanel
from sessions.tui.components.pull_modal import PullModal, RemoteChoice
from sessions.tui.components.report_modal import ReportModal
from sessions.tui.components.restore_modal import KernelModal, RestoreModal, Target
from sessions.tui.components.share_modal import ShareChoice, ShareModal
from sessions.tui.components.snapshot_table import SnapshotTable
from sessions.tui.components.variable_table import VariableTable
from sessions.tui.components.welcome import Welcome
from sessions.tui.data import Detail, Source
from sessions.tui.escapes import show_control_characters
from sessions.tui.formatting import human_size, local_path, plural
from sessions.tui.idle_gc import EVERY_SECONDS, IdleCollector
from sessions.tui.operations import Operation

PANES = ("groups", "snapshots", "variables", "preview")
NARROW = 100  # below this many columns the sessions pane hides itself until shown (ctrl+b)
PANE_HELP = {
    "groups": ("Sessions", group_list.HELP),
    "snapshots": ("Snapshots", snapshot_table.HELP),
    "variables": ("Variables", variable_table.HELP),
    "preview": ("Preview", preview_pane.HELP),
    "filter": (
        "Filter",
        "Type to filter snapshots by name, note, tag or variable name. Enter keeps the filter, esc clears it.",
    ),
}


def _while_mounted(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Messages from workers can arrive while the app is closing: then there is nothing to
    update, and that is not an error."""

    def wrapper(self: SessionsApp, *args: Any, **kwargs: Any) -> Any:
        try:
            return handler(self, *args, **kwargs)
        except NoMatches:
            if self.is_running and self.screen_stack and self.screen_stack[0].query("#snapshots"):
                raise
            return None

    wrapper.__name__ = handler.__name__
    wrapper.__doc__ = handler.__doc__
    return wrapper


class FilterInput(Input):
    BINDINGS = [Binding("escape", "app.clear_filter", "Clear filter", show=False)]


class SessionsApp(App[None]):
    operation_class: type[Operation] = Operation  # what run_operation makes (tests hold one)
    CSS_PATH = "app.tcss"
    TITLE = "Sessions"
    BINDINGS = app_bindings()
    # Screen classes for app.tcss: dialogs and panes size to the terminal (80x24 to 200x60+)
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (NARROW, "-normal"), (160, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]

    def __init__(
        self,
        store: Store | None = None,
        *,
        config: Config | None = None,
        watch_daemon: bool = True,
    ) -> None:
        super().__init__()
        show_control_characters()  # a note from a teammate is shown, never obeyed
        self.store = store or Store()
        self.source = Source(self.store)
        self.settings = config or load_config()
        self.watch_daemon = watch_daemon
        self.live = False
        self.filter_text = ""
        self.group: str | None = None
        self.detail: Detail | None = None
        self.marks: dict[str, set[str]] = {}
        self.rows: list[Row] = []
        self.total = 0
        self._detail_timer: Timer | None = None
        self._filter_timer: Timer | None = None
        self._reload_timer: Timer | None = None
        self.idle_gc = IdleCollector()
        self.copied: CopyResult | None = None  # what the last copy reported (tests read it)
        self.groups_shown: bool | None = None  # None: by the width; else as the user chose
        self.revealed: set[str] = set()  # secret-looking variables shown, in this snapshot
        self.history_revealed = False
        self.operations: dict[int, Operation] = {}  # running, oldest first
        self.empty = False  # the session dir holds nothing: the first-run screen shows
        self.last_export_dir: Path | None = None

    def on_unmount(self) -> None:
        self.idle_gc.stop()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.MouseDown)):
            self.idle_gc.touched()
        await super().on_event(event)

    # --- layout -----------------------------------------------------------------------
    def _w(self, selector: str, expect_type: type[Any] | None = None) -> Any:
        """A widget of the main screen, whatever dialog is on top."""
        if not self.screen_stack:
            raise NoMatches(selector)
        screen = self.screen_stack[0]
        return (
            screen.query_one(selector, expect_type) if expect_type else screen.query_one(selector)
        )

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """A toast; its text is plain by default: messages carry names and notes from
        manifests, and markup in those (``[@click=…]``) must not become links or actions."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            yield GroupList(id="groups")
            with Vertical(id="right"):
                yield Welcome(id="welcome")
                yield SnapshotTable(id="snapshots")
                yield FilterInput(
                    id="filter", placeholder="filter by name, note, tag or variable (esc clears)"
                )
                with Horizontal(id="lower"):
                    yield VariableTable(id="variables")
                    yield PreviewPane(id="preview")
        yield ProgressPanel(id="progress")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.idle_gc.start()
        self.set_interval(EVERY_SECONDS, self.idle_gc.tick)
        self.sub_title = f"{self._where()} · reading…"
        self._apply_config()
        self._w("#filter", FilterInput).display = False
        self._w("#welcome", Welcome).display = False
        self._w("#progress", ProgressPanel).display = False
        self._show_groups()
        self._w("#snapshots", SnapshotTable).focus()
        if self.watch_daemon:
            self.check_daemon()
        else:
            self.load_rows()

    def on_resize(self, event: events.Resize) -> None:
        # runs before Textual's own handler has recorded the new size: pass it on
        self._show_groups(event.size.width)

    # --- the sessions pane ------------------------------------------------------------
    def _show_groups(self, width: int | None = None) -> None:
        """The sessions pane shows when the user said so, else when the terminal (``width``
        columns, by default the app's) is wide enough for it and the tables both."""
        groups = self._w("#groups", GroupList)
        wide = (width if width is not None else self.size.width) >= NARROW
        shown = self.groups_shown if self.groups_shown is not None else wide
        if groups.display != shown:
            if not shown and groups.has_focus:
                self._focus_pane("snapshots")
            groups.display = shown

    def action_toggle_groups(self) -> None:
        self.groups_shown = not self._w("#groups", GroupList).display
        self._show_groups()
        if self.groups_shown and not self.empty:
            self._focus_pane("groups")

    # --- daemon -----------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="daemon-check")
    def check_daemon(self) -> None:
        from sessions.daemon.client import status

        info = status(self.store.root)
        self.post_message(messages.DaemonState(info is not None))

    @work(thread=True, exclusive=True, group="daemon-events")
    def subscribe_daemon(self) -> None:
        from textual.worker import get_current_worker

        from sessions.daemon.client import DaemonClient, DaemonUnavailable

        worker = get_current_worker()
        client = DaemonClient(self.store.root)
        try:
            client.connect()
            for event in client.subscribe(stop=lambda: worker.is_cancelled):
                self.post_message(messages.DaemonEvent(event))
        except DaemonUnavailable:
            pass
        except Exception as exc:  # the live feed is a convenience: say so, keep going
            self.post_message(messages.ActionFailed(f"live updates stopped: {exc}"))
        finally:
            client.close()
        if not worker.is_cancelled:
            self.post_message(messages.DaemonState(False, "daemon stopped"))

    @_while_mounted
    def on_daemon_state(self, message: messages.DaemonState) -> None:
        was_live = self.live
        self.live = message.live
        self._update_subtitle()
        self.load_rows()
        if message.live and not was_live:
            self.subscribe_daemon()
        elif not message.live:
            key = key_label(self._key_of("start_daemon"))
            self.notify(
                f"No daemon for this session dir: reading the disk directly. Press {key} to start it for live updates.",
                title=message.reason or "Offline",
                timeout=6,
            )

    def on_daemon_event(self, message: messages.DaemonEvent) -> None:
        if self._reload_timer is not None:
            self._reload_timer.stop()
        self._reload_timer = self.set_timer(0.2, self.load_rows)

    def _update_subtitle(self) -> None:
        state = "live" if self.live else "offline"
        shown = (
            f"{len(self.rows)} of {self.total}" if self.total > len(self.rows) else f"{self.total}"
        )
        filtered = f" · filter: {self.filter_text}" if self.filter_text else ""
        self.sub_title = f"{self._where()} · {shown} snapshots · {state}{filtered}"

    def _where(self) -> str:
        """The session dir, with ``~`` for the home directory (the header is narrow)."""
        return local_path(self.store.root)

    # --- rows -------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="rows")
    def load_rows(self) -> None:
        """The first page first (it paints at once), then everything up to the page limit."""
        text, group, live = self.filter_text, self.group, self.live
        try:
            first = SnapshotTable.FIRST_PAGE
            rows, groups, total = self.source.rows(live=live, text=text, group=group, limit=first)
            self.post_message(
                messages.RowsLoaded(rows, groups, total, text, group, live, final=False)
            )
            if len(rows) == first:
                rows, groups, total = self.source.rows(live=live, text=text, group=group)
                self.post_message(messages.RowsLoaded(rows, groups, total, text, group, live))
        except Exception as exc:
            self.post_message(messages.ActionFailed(f"cannot list snapshots: {exc}"))

    @_while_mounted
    def on_rows_loaded(self, message: messages.RowsLoaded) -> None:
        table = self._w("#snapshots", SnapshotTable)
        current = table.current()
        self.rows = message.rows
        self.total = message.total
        keep = current.path if current else None
        if message.final and len(message.rows) > SnapshotTable.FIRST_PAGE:
            table.extend_rows(message.rows, keep=keep)
        else:
            table.show_rows(message.rows, keep=keep)
        groups = self._w("#groups", GroupList)
        if not groups.has_focus or groups.option_count == 0:
            groups.show_groups(message.groups, message.total, self.group)
        table.border_subtitle = f"{len(message.rows)} shown" if message.rows else "none"
        self._update_subtitle()
        nothing = not message.groups  # not even a cache entry
        self._show_first_run(nothing and not message.query and message.group is None)
        row = table.current()
        if row is None:
            self.detail = None
            self._w("#variables", VariableTable).show(None)
            self._w("#preview", PreviewPane).show_detail(None)
        elif self.detail is None or self.detail.row.path != row.path or row != self.detail.row:
            self.load_detail(row)
        self.refresh_bindings()

    def _show_first_run(self, empty: bool) -> None:
        """Nothing saved here yet: the welcome text instead of empty tables."""
        if empty == self.empty:
            return
        self.empty = empty
        welcome = self._w("#welcome", Welcome)
        if empty:
            keys = {
                a: key_label(self._key_of(a))
                for a in ("open_demo", "snapshot_kernel", "start_daemon", "refresh")
            }
            welcome.show(self.store.root, keys)
        welcome.display = empty
        for selector in ("#snapshots", "#lower"):
            self._w(selector).display = not empty
        if empty and self._w("#filter", FilterInput).display:
            self._w("#filter", FilterInput).display = False
        if not empty and self.focused is None:
            self._focus_pane("snapshots")

    @on(OptionList.OptionHighlighted, "#groups")
    @_while_mounted
    def group_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        group = None if event.option.id == ALL else event.option.id
        if group != self.group:
            self.group = group
            self.load_rows()

    # --- detail -----------------------------------------------------------------------
    @on(DataTable.RowHighlighted, "#snapshots")
    @_while_mounted
    def snapshot_highlighted(self, event: DataTable.RowHighlighted) -> None:
        row = self._w("#snapshots", SnapshotTable).rows_by_key.get(event.row_key.value or "")
        if row is None:
            return
        self.refresh_bindings()
        if self.detail is not None and self.detail.row == row:
            return  # the table was redrawn (a reload, a resize): the same snapshot, shown
        if self._detail_timer is not None:
            self._detail_timer.stop()
        self._detail_timer = self.set_timer(0.06, lambda: self.load_detail(row))

    @work(thread=True, exclusive=True, group="detail")
    def load_detail(self, row: Row) -> None:
        try:
            detail = self.source.detail(row)
        except Exception as exc:
            self.post_message(messages.ActionFailed(f"cannot read {row.ref}: {exc}"))
            return
        detail.marked = self.marks.setdefault(row.path, set())
        self.post_message(messages.DetailLoaded(detail))

    @_while_mounted
    def on_detail_loaded(self, message: messages.DetailLoaded) -> None:
        current = self._w("#snapshots", SnapshotTable).current()
        if current is not None and current.path != message.detail.row.path:
            return  # the cursor moved on meanwhile
        if self.detail is None or self.detail.row.path != message.detail.row.path:
            self.revealed = set()  # what was revealed stays with the snapshot it was in
            self.history_revealed = False
        self.detail = message.detail
        variables = self._w("#variables", VariableTable)
        variables.show(message.detail)
        preview = self._w("#preview", PreviewPane)
        preview.show_detail(message.detail, history_revealed=self.history_revealed)
        if not message.detail.error or message.detail.foreign is not None:
            self._preview(variables.current_name())
        self.refresh_bindings()

    def _preview(self, name: str | None) -> None:
        self._w("#preview", PreviewPane).show_variable(
            self.detail,
            name,
            revealed=name in self.revealed,
            reveal_key=key_label(self._key_of("reveal")),
        )

    @on(DataTable.RowHighlighted, "#variables")
    @_while_mounted
    def variable_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._preview(event.row_key.value)
        self.refresh_bindings()

    @on(TabbedContent.TabActivated, "#preview-tabs")
    def preview_tab_changed(self, _: TabbedContent.TabActivated) -> None:
        self.refresh_bindings()  # reveal applies to the history tab's hidden lines

    # --- actions: navigation ----------------------------------------------------------
    def _focused_pane(self) -> str:
        focused = self.focused
        while focused is not None:
            if focused.id in (*PANES, "filter"):
                return str(focused.id)
            focused = focused.parent  # type: ignore[assignment]
        return "snapshots"

    def _panes(self) -> tuple[str, ...]:
        """The panes tab moves between: the visible ones."""
        return tuple(p for p in PANES if p != "groups" or self._w("#groups").display)

    def _focus_pane(self, pane: str) -> None:
        widget = self._w(f"#{pane}")
        if pane == "preview":
            target = (
                widget.query("VerticalScroll").first() if widget.query("VerticalScroll") else widget
            )
            target.focus()
        else:
            widget.focus()

    def _in_dialog(self) -> bool:
        return len(self.screen_stack) > 1

    def action_next_pane(self) -> None:
        if self._in_dialog():
            self.screen.focus_next()
            return
        pane, panes = self._focused_pane(), self._panes()
        index = panes.index(pane) if pane in panes else 0
        self._focus_pane(panes[(index + 1) % len(panes)])

    def action_prev_pane(self) -> None:
        if self._in_dialog():
            self.screen.focus_previous()
            return
        pane, panes = self._focused_pane(), self._panes()
        index = panes.index(pane) if pane in panes else 0
        self._focus_pane(panes[(index - 1) % len(panes)])

    def action_open(self) -> None:
        pane = self._focused_pane()
        following = {"groups": "snapshots", "snapshots": "variables", "variables": "preview"}
        if pane in following:
            self._focus_pane(following[pane])

    @on(DataTable.RowSelected, "#snapshots")
    def snapshot_selected(self, _: DataTable.RowSelected) -> None:
        self._focus_pane("variables")

    @on(OptionList.OptionSelected, "#groups")
    def group_selected(self, _: OptionList.OptionSelected) -> None:
        self._focus_pane("snapshots")

    @on(DataTable.RowSelected, "#variables")
    def variable_selected(self, _: DataTable.RowSelected) -> None:
        self._focus_pane("preview")

    # --- actions: filter --------------------------------------------------------------
    def action_filter(self) -> None:
        box = self._w("#filter", FilterInput)
        box.display = True
        box.focus()

    @on(Input.Changed, "#filter")
    def filter_changed(self, event: Input.Changed) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()

        def apply() -> None:
            self.filter_text = event.value.strip()
            self.load_rows()

        self._filter_timer = self.set_timer(0.15, apply)

    @on(Input.Submitted, "#filter")
    def filter_submitted(self, event: Input.Submitted) -> None:
        self.filter_text = event.value.strip()
        if not self.filter_text:
            self._w("#filter", FilterInput).display = False
        self.load_rows()
        self._focus_pane("snapshots")

    def action_clear_filter(self) -> None:
        box = self._w("#filter", FilterInput)
        box.value = ""
        box.display = False
        self.filter_text = ""
        self.load_rows()
        self._focus_pane("snapshots")

    # --- actions: snapshot operations -------------------------------------------------
    def _need_snapshot(self, *, readable: bool = True) -> Detail | None:
        """The highlighted snapshot's detail. A key pressed right after the cursor moved (or
        the list was filtered) comes before that detail is read: it is read now, so the
        action is on what the screen highlights, never on the snapshot highlighted before."""
        detail = self.detail
        row = self._w("#snapshots", SnapshotTable).current()
        if row is not None and (detail is None or detail.row.path != row.path):
            try:
                detail = self.source.detail(row)
            except Exception as exc:
                self.notify(f"cannot read {row.ref}: {exc}", severity="error")
                return None
            detail.marked = self.marks.setdefault(row.path, set())
            self.post_message(messages.DetailLoaded(detail))
        if detail is None:
            self.notify("No snapshot selected", severity="warning")
            return None
        if readable and detail.manifest is None and detail.foreign is None:
            self.notify(f"{detail.row.ref} is damaged: {detail.error}", severity="error")
            return None
        return detail

    def action_mark(self) -> None:
        table = self._w("#variables", VariableTable)
        if table.toggle_mark() is not None and table.cursor_row < table.row_count - 1:
            table.move_cursor(row=table.cursor_row + 1)

    def action_reveal(self) -> None:
        """Show (or mask again) the secret-looking variable highlighted, or the history lines
        that look like they hold a credential when the History tab is open."""
        if self._history_tab_open():
            self.history_revealed = not self.history_revealed
            self._w("#preview", PreviewPane).show_detail(
                self.detail, history_revealed=self.history_revealed
            )
            return
        name = self._w("#variables", VariableTable).current_name()
        if name is None:
            return
        self.revealed ^= {name}
        self._preview(name)

    def _history_tab_open(self) -> bool:
        return self._w("#preview-tabs", TabbedContent).active == "tab-history"

    def _secret_highlighted(self) -> bool:
        name = self._w("#variables", VariableTable).current_name()
        return self.detail is not None and name is not None and name in self.detail.secrets

    # --- what applies where: the footer, the keys and the command palette --------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Actions that do not apply where the focus is (or to what is selected) are hidden
        from the footer and the palette, and their keys do nothing."""
        if not self.screen_stack:
            return True
        detail = self.detail
        snapshot = detail is not None and detail.manifest is not None
        readable = detail is not None and (
            detail.manifest is not None or detail.foreign is not None
        )
        if action in ("restore",):
            return readable and not self.empty
        if action in ("share", "compare", "verify"):
            return snapshot and not self.empty
        if action == "delete":
            return detail is not None and not self.empty
        if action in ("pin", "note"):
            return detail is not None and detail.row.kind == "snapshot" and not self.empty
        if action == "mark":
            return (
                self._focused_pane() == "variables"
                and self._w("#variables", VariableTable).markable()
            )
        if action == "reveal":
            if self._history_tab_open():
                preview = self._w("#preview", PreviewPane)
                return bool(preview.history_hidden) or self.history_revealed
            return self._secret_highlighted()
        if action in ("filter", "open", "toggle_groups"):
            return not self.empty
        if action == "open_demo":
            return self.empty
        if action == "start_daemon":
            return not self.live
        if action == "cancel_operation":
            return any(
                op.cancellable and not op.cancel_requested for op in self.operations.values()
            )
        return True

    def action_restore(self) -> None:
        detail = self._need_snapshot()
        if detail is None or detail.entry is None:
            return
        self._open_restore(detail)

    @work(thread=True, exclusive=True, group="kernels")
    def _open_restore(self, detail: Detail) -> None:
        """The targets need the running kernels, which takes a directory scan and maybe a
        Jupyter server request: found on a thread, then the dialog opens."""
        names = sorted(detail.marked) if detail.marked else None
        targets = [
            Target(
                "shell",
                "New Python shell with the snapshot loaded (the app comes back when it exits)",
            ),
            Target("clipboard", "Copy the loading code to the clipboard"),
        ]
        if detail.row.kind == "snapshot":
            targets[1:1] = self.kernel_targets()
        self.call_from_thread(
            self.push_screen,
            RestoreModal(detail.row.ref, names, targets),
            lambda t: self._restore_to(detail, names, t),
        )

    def kernel_targets(self) -> list[Target]:
        """Running Jupyter kernels to restore into (an empty list without jupyter_client)."""
        try:
            from sessions.kernels.outside import list_kernels

            return [Target(f"kernel:{k.id}", f"Jupyter {k.label}") for k in list_kernels()]
        except SessionsError:
            return []

    def _restore_to(self, detail: Detail, names: list[str] | None, target: Target | None) -> None:
        if target is None or detail.entry is None:
            return
        from sessions.core.engine.restore import interpreter_for, loading_code

        code = loading_code(self.store, detail.entry, names)
        if target.id == "clipboard":
            self.copy_out(code, "Loading code", title="Restore")
            return
        if target.id == "shell":
            self._restore_in_shell(detail, code, interpreter_for(detail.entry))
        elif target.id.startswith("kernel:"):
            self._restore_in_kernel(detail, names, target.id.removeprefix("kernel:"))

    @work(thread=True, group="ops")
    def _restore_in_kernel(self, detail: Detail, names: list[str] | None, kernel_id: str) -> None:
        from sessions.kernels.outside import find_kernel, restore_into_kernel

        def waiting(text: str) -> None:
            self.call_from_thread(self.notify, text, title="Restore", timeout=8)

        result = self.run_operation(
            f"Restoring {detail.row.ref} into kernel {kernel_id[:8]}",
            lambda operation: restore_into_kernel(
                find_kernel(kernel_id),
                detail.row.id,
                names=names,
                home=self.store.root,
                on_wait=waiting,
                progress=operation.relay,
                cancel=lambda: operation.cancel_requested,  # the kernel puts its names back
            ),
        )
        if result is None:
            return
        self.call_from_thread(
            self.push_screen,
            ReportModal(f"Restored {detail.row.ref} into kernel {kernel_id[:8]}", result["report"]),
        )

    def action_snapshot_kernel(self) -> None:
        self._pick_kernel()

    @work(thread=True, exclusive=True, group="kernels")
    def _pick_kernel(self) -> None:
        targets = self.kernel_targets()
        if not targets:
            self.call_from_thread(
                self.notify, "No running Jupyter kernels found", severity="warning"
            )
            return
        self.call_from_thread(
            self.push_screen,
            KernelModal(targets),
            lambda t: self._snapshot_kernel(t.id.removeprefix("kernel:")) if t else None,
        )

    @work(thread=True, group="ops")
    def _snapshot_kernel(self, kernel_id: str) -> None:
        from sessions.kernels.outside import find_kernel, save_kernel

        def waiting(text: str) -> None:
            self.call_from_thread(self.notify, text, title="Snapshot", timeout=8)

        result = self.run_operation(
            f"Snapshotting kernel {kernel_id[:8]}",
            lambda operation: save_kernel(
                find_kernel(kernel_id),
                home=self.store.root,
                on_wait=waiting,
                progress=operation.relay,
                cancel=lambda: operation.cancel_requested,  # no snapshot is made
            ),
        )
        if result is None:
            return
        self.source.refresh()
        self.call_from_thread(self.notify, result["text"], title=f"Kernel {kernel_id[:8]}")
        self.call_from_thread(self.load_rows)

    def _restore_in_shell(
        self, detail: Detail, code: str, interpreter: tuple[str, str | None]
    ) -> None:
        from sessions.core.engine.restore import shell_command

        executable, note = interpreter
        handle, report_path = tempfile.mkstemp(prefix="sessions-restore-", suffix=".json")
        os.close(handle)
        code += (
            "import json as _sessions_json\n"
            f"with open({report_path!r}, 'w') as _sessions_f:\n"
            "    _sessions_r = globals().get('_sessions_report')\n"
            "    _sessions_json.dump(_sessions_r.to_dict() if _sessions_r is not None else "
            "{'failed': {'(snapshot)': str(globals().get('_sessions_error'))}}, _sessions_f)\n"
            "del _sessions_json, _sessions_f, _sessions_r\n"
        )
        env = dict(os.environ, SESSIONS_HOME=str(self.store.root))
        try:
            with self.suspend():
                if note:
                    print(f"sessions-tui: {note}")
                subprocess.call(shell_command(executable, code), env=env)
        except Exception as exc:  # e.g. no terminal to hand over
            self.notify(f"Cannot open a shell here: {exc}", severity="error")
            return
        try:
            report: dict[str, Any] = json.loads(Path(report_path).read_text() or "{}")
        except (OSError, ValueError):
            report = {}
        finally:
            Path(report_path).unlink(missing_ok=True)
        if not report:
            self.push_screen(
                ReportModal(
                    f"Restore of {detail.row.ref}",
                    {"failed": {"(shell)": "the shell ended before the snapshot was loaded"}},
                )
            )
            return
        self.push_screen(ReportModal(f"Restored {detail.row.ref} into a new shell", report))

    def action_share(self) -> None:
        detail = self._need_snapshot()
        if detail is None:
            return
        if detail.manifest is None:
            self.notify(
                "A dill file cannot be signed or shared; restore it and save it as a snapshot",
                severity="warning",
            )
            return
        from sessions.core.sharing.remote import configured
        from sessions.core.sharing.share import flagged

        try:
            remotes = {name: r.url for name, r in configured().items()}
        except SessionsError as exc:
            self.notify(str(exc), severity="error")
            remotes = {}
        self.push_screen(
            ShareModal(detail.row.ref, remotes, flagged(detail.manifest)),
            lambda choice: self._shared(detail.row, choice) if choice else None,
        )

    def _shared(self, row: Row, choice: ShareChoice) -> None:
        if choice.action != "export":
            self._push(row, choice)
            return
        name = f"{row.ref}.sessions"
        self.push_screen(
            PathModal(
                f"Export {row.ref}",
                "Where should the bundle file go? A directory writes "
                f"{name} in it. (The default comes from [share] export_dir in config.toml.)",
                self.export_dir() / name,
                confirm="Export",
                write=True,
                default_name=name,
            ),
            lambda path: self._export(row, path, choice.include_secrets) if path else None,
        )

    def export_dir(self) -> Path:
        """Where the export dialog offers to write: the directory of the last export, else
        ``[share] export_dir`` from config.toml, else the directory the app started in."""
        return self.last_export_dir or self.settings.export_dir or Path.cwd()

    @work(thread=True, group="ops")
    def _export(self, row: Row, path: Path, include_secrets: bool) -> None:
        from sessions.core.sharing.bundle import export

        self.last_export_dir = path.parent
        result = self.run_operation(
            f"Exporting {row.ref}",
            lambda progress: export(
                self.store, row.id, path, include_secrets=include_secrets, progress=progress
            ),
        )
        if result is not None:
            self.call_from_thread(self.notify, str(result), title="Exported", timeout=10)

    @work(thread=True, group="ops")
    def _push(self, row: Row, choice: ShareChoice) -> None:
        from sessions.core.sharing.remote import open_remote
        from sessions.tui.cli_share import pull_command

        pushed = self.run_operation(
            f"Pushing {row.ref} to {choice.remote}",
            lambda progress: open_remote(choice.remote).push(
                self.store, row.id, include_secrets=choice.include_secrets, progress=progress
            ),
        )
        if pushed is None:
            return
        line = pull_command(pushed.ref, choice.remote)
        self.call_from_thread(self.notify, str(pushed), title="Pushed", timeout=10)
        self.call_from_thread(self.copy_out, line, "The pull command", title="Pushed")

    # --- long operations --------------------------------------------------------------
    def run_operation(
        self, title: str, work: Callable[[Operation], Any], *, cancellable: bool = True
    ) -> Any:
        """Run ``work(progress_callback)`` on this worker thread as a long operation: it shows
        in the progress panel while it runs and can be cancelled (esc) when ``cancellable``.
        Returns what ``work`` returned, or ``None`` when it failed or was cancelled (said in
        a notification: one line, no traceback)."""
        operation = self.operation_class(self, title, cancellable=cancellable)
        self.post_message(messages.OperationStarted(operation))
        outcome = "failed"
        try:
            result = work(operation)
            outcome = "done"
            return result
        except Cancelled:
            outcome = "cancelled"
            self.call_from_thread(
                self.notify, f"{title}: cancelled; nothing half-done was kept", title="Cancelled"
            )
        except SessionsError as exc:
            self.post_message(messages.ActionFailed(str(exc)))
        except OSError as exc:
            self.post_message(messages.ActionFailed(f"{title}: {exc.strerror or exc}"))
        finally:
            self.post_message(messages.OperationEnded(operation.id, outcome))
        return None

    @_while_mounted
    def on_operation_started(self, message: messages.OperationStarted) -> None:
        self.operations[message.operation.id] = message.operation
        self._w("#progress", ProgressPanel).add(
            message.operation, key_label(self._key_of("cancel_operation"))
        )
        self.refresh_bindings()

    @_while_mounted
    def on_operation_progress(self, message: messages.OperationProgress) -> None:
        self._w("#progress", ProgressPanel).show(message.operation_id, message.progress)

    @_while_mounted
    def on_operation_ended(self, message: messages.OperationEnded) -> None:
        self.operations.pop(message.operation_id, None)
        self._w("#progress", ProgressPanel).remove_operation(message.operation_id)
        self.refresh_bindings()

    def action_cancel_operation(self) -> None:
        """Cancel the newest running operation that can stop cleanly."""
        for operation in reversed(self.operations.values()):
            if operation.cancellable and not operation.cancel_requested:
                operation.cancel()
                self._w("#progress", ProgressPanel).cancelling(operation.id)
                self.refresh_bindings()
                return

    # --- verify, gc, pull, import ------------------------------------------------------
    def action_verify(self) -> None:
        if self.detail is not None and self.detail.entry is not None:
            self._verify(self.detail.entry)

    @work(thread=True, group="ops")
    def _verify(self, entry: Entry) -> None:
        from sessions.core.store.verify import verify

        report = self.run_operation(
            f"Verifying {entry.ref}",
            lambda progress: verify(self.store, [entry], progress=progress),
        )
        if report is None:
            return
        if report.ok:
            self.call_from_thread(
                self.notify,
                f"{entry.ref}: {plural(report.checked_blobs, 'stored object')} checked, all intact",
                title="Verified",
            )
            return
        self.call_from_thread(
            self.push_screen,
            OutcomeModal(
                f"{entry.ref} is damaged",
                f"{plural(len(report.problems), 'problem')} in "
                f"{plural(report.checked_blobs, 'stored object')}; the rest loads as usual. "
                "Delete the snapshot, or restore what still loads and save it again.",
                [str(problem) for problem in report.problems],
            ),
        )

    def action_gc(self) -> None:
        self._collect()

    @work(thread=True, group="ops")
    def _collect(self) -> None:
        from sessions.core.store.gc import gc

        report = self.run_operation(
            "Collecting garbage", lambda progress: gc(self.store, progress=progress)
        )
        if report is not None:
            self.call_from_thread(
                self.notify,
                f"freed {human_size(report.freed)}: {plural(report.removed_blobs, 'object')} "
                f"and {plural(report.removed_packs, 'pack')} removed, "
                f"{plural(report.kept_blobs, 'object')} in use",
                title="Garbage collected",
            )

    def action_import_bundle(self) -> None:
        self.push_screen(
            PathModal(
                "Import a bundle",
                "Which bundle file? It is checked against its signer's key before anything "
                "is added, and listed under Imported.",
                self.export_dir(),
                confirm="Import",
                write=False,
            ),
            lambda path: self._import(path) if path else None,
        )

    @work(thread=True, group="ops")
    def _import(self, path: Path) -> None:
        from sessions.core.sharing.bundle import import_bundle

        result = self.run_operation(
            f"Importing {path.name}",
            lambda progress: import_bundle(self.store, path, progress=progress),
        )
        if result is not None:
            self.source.refresh()
            self.call_from_thread(self.notify, str(result), title="Imported", timeout=10)
            self.call_from_thread(self.load_rows)

    def action_pull(self) -> None:
        self._list_remotes()

    @work(thread=True, exclusive=True, group="remotes")
    def _list_remotes(self) -> None:
        """Every snapshot on every configured remote (each remote's problem said once)."""
        from sessions.core.sharing.remote import configured, open_remote

        try:
            names = list(configured())
        except SessionsError as exc:
            self.post_message(messages.ActionFailed(str(exc)))
            return
        if not names:
            self.call_from_thread(
                self.notify,
                "No team remote yet: sessions-tui remote add NAME DIR-or-s3://…",
                severity="warning",
            )
            return
        listed: dict[str, list[str]] = {}
        problems: dict[str, str] = {}
        for name in names:
            try:
                snapshots = open_remote(name).snapshots()
            except (SessionsError, OSError) as exc:
                problems[name] = str(exc)
                continue
            ordered = sorted(snapshots, key=lambda s: (s.owner, s.name, -s.version))
            listed[name] = [snap.ref for snap in ordered]
        self.call_from_thread(
            self.push_screen,
            PullModal(listed, problems),
            lambda choice: self._pull(choice) if choice else None,
        )

    @work(thread=True, group="ops")
    def _pull(self, choice: RemoteChoice) -> None:
        from sessions.core.sharing.remote import open_remote

        result = self.run_operation(
            f"Pulling {choice.ref} from {choice.remote}",
            lambda progress: open_remote(choice.remote).pull(
                self.store, choice.ref, progress=progress
            ),
        )
        if result is not None:
            self.source.refresh()
            self.call_from_thread(self.notify, str(result), title="Pulled", timeout=10)
            self.call_from_thread(self.load_rows)

    # --- clipboard --------------------------------------------------------------------
    def copy_out(self, text: str, what: str = "Text", *, title: str = "Copy") -> None:
        """Copy ``text``: OSC 52 to the terminal at once, then the system clipboard and tmux's
        buffer on a thread; one toast says where it went, or shows the text if nowhere."""
        self.copy_to_clipboard(text)
        self._copy_confirmed(text, what, title)

    @work(thread=True, group="clipboard")
    def _copy_confirmed(self, text: str, what: str, title: str) -> None:
        result = copy_text(text)
        self.copied = result
        self.call_from_thread(
            self.notify,
            result.message(what),
            title=title,
            severity="information" if result.confirmed else "warning",
            timeout=8 if result.confirmed else 20,
        )

    def action_delete(self) -> None:
        detail = self._need_snapshot(readable=False)
        if detail is None:
            return
        row = detail.row
        what = (
            "this foreign dill file from the session dir"
            if row.kind == "foreign"
            else "this snapshot (its blobs go at the next gc)"
        )
        if row.pinned:
            what += ". It is pinned"
        self.push_screen(
            ConfirmModal(f"Delete {row.ref}?", f"Removes {what}."),
            lambda yes: self._delete(row) if yes else None,
        )

    @work(thread=True, group="ops")
    def _delete(self, row: Row) -> None:
        self._run(lambda: self.store.remove(self.source.entry(row)), f"Deleted {row.ref}")

    def action_pin(self) -> None:
        detail = self._need_snapshot(readable=False)
        if detail is None or detail.row.kind != "snapshot":
            if detail is not None:
                self.notify("Only snapshots can be pinned", severity="warning")
            return
        self._set_pin(detail.row)

    @work(thread=True, group="ops")
    def _set_pin(self, row: Row) -> None:
        current = annotation.read(self.store.root, row.id)
        new = annotation.Annotation(not current.pinned, current.note, current.tags)
        self._run(
            lambda: annotation.write(self.store.root, row.id, new),
            f"{'Pinned' if new.pinned else 'Unpinned'} {row.ref}",
        )

    def action_note(self) -> None:
        detail = self._need_snapshot(readable=False)
        if detail is None or detail.row.kind != "snapshot":
            if detail is not None:
                self.notify("Only snapshots have notes", severity="warning")
            return
        row = detail.row
        self.push_screen(
            NoteModal(row.ref, row.note, row.tags),
            lambda result: self._set_note(row, result) if result else None,
        )

    @work(thread=True, group="ops")
    def _set_note(self, row: Row, result: tuple[str, tuple[str, ...]]) -> None:
        current = annotation.read(self.store.root, row.id)
        saved = self.source.detail(row).manifest
        note, tags = result
        new = annotation.Annotation(
            current.pinned,
            None if saved is not None and note == saved.note else note,
            None if saved is not None and tags == saved.tags else tags,
        )
        self._run(
            lambda: annotation.write(self.store.root, row.id, new), f"Updated the note of {row.ref}"
        )

    def _run(self, operation: Callable[[], Any], done: str) -> None:
        """Run a store operation on a worker thread; report, refresh, never crash."""
        try:
            operation()
        except SessionsError as exc:
            self.post_message(messages.ActionFailed(str(exc)))
            return
        except OSError as exc:
            self.post_message(
                messages.ActionFailed(f"{done.split()[0].lower()} failed: {exc.strerror or exc}")
            )
            return
        self.source.refresh()
        self.call_from_thread(self.notify, done)
        self.call_from_thread(self.load_rows)

    def action_compare(self) -> None:
        detail = self._need_snapshot()
        if detail is None or detail.manifest is None:
            if detail is not None:
                self.notify("Only snapshots can be compared", severity="warning")
            return
        row = detail.row
        self.push_screen(
            PickSnapshotModal(row, self.rows),
            lambda other: self._compare(row, other) if other else None,
        )

    @work(thread=True, group="ops")
    def _compare(self, left: Row, right: Row) -> None:
        try:
            a = (
                self.store.read_manifest(Path(right.path))
                if right.created < left.created
                else self.store.read_manifest(Path(left.path))
            )
            b = (
                self.store.read_manifest(Path(left.path))
                if right.created < left.created
                else self.store.read_manifest(Path(right.path))
            )
        except SessionsError as exc:
            self.post_message(messages.ActionFailed(str(exc)))
            return
        result = compare(a, b)
        self.call_from_thread(self.push_screen, CompareModal(result))

    def action_start_daemon(self) -> None:
        if self.live:
            self.notify("The daemon is already running")
            return
        self._start_daemon()

    @work(thread=True, exclusive=True, group="daemon-check")
    def _start_daemon(self) -> None:
        from sessions.daemon.client import start

        try:
            start(self.store.root)
        except SessionsError as exc:
            self.post_message(messages.ActionFailed(str(exc)))
            return
        self.call_from_thread(self.notify, "Daemon started: updates are live")
        self.post_message(messages.DaemonState(True))

    def action_refresh(self) -> None:
        self.source.refresh()
        self.load_rows()

    def action_open_demo(self) -> None:
        self._build_demo()

    @work(thread=True, exclusive=True, group="demo")
    def _build_demo(self) -> None:
        """Build the demo session dir (a script saving a few snapshots, some seconds) and
        browse it; the user's own session dir is not touched."""
        from sessions.tui.demo import build_demo

        home = self.run_operation(
            "Building the demo", lambda progress: build_demo(), cancellable=False
        )
        if home is not None:
            self.post_message(messages.SwitchHome(home))

    @_while_mounted
    def on_switch_home(self, message: messages.SwitchHome) -> None:
        self.workers.cancel_group(self, "daemon-events")  # the old dir's live feed
        self.live = False
        self.store = Store(message.root)
        self.source = Source(self.store)
        self.detail = None
        self.marks = {}
        self.group = None
        self.filter_text = ""
        self.notify(f"Browsing {message.root}", title="Session dir")
        self.sub_title = f"{self._where()} · reading…"
        if self.watch_daemon:
            self.check_daemon()
        else:
            self.load_rows()

    def _apply_config(self) -> None:
        """Keys and theme from config.toml; each problem is one warning naming file and key,
        and what it concerns keeps its default. A theme picked later is saved back."""
        problems = list(self.settings.problems)
        try:
            keys = resolve_keys(self.settings, {a.id: a.keys for a in ACTIONS})
        except ConfigError as exc:
            problems.append(str(exc))
            keys = {}
            self.settings = replace(self.settings, keys={})
        if keys:
            self.set_keymap(keys)
        theme = self.settings.theme
        if theme and theme in self.available_themes:
            self.theme = theme
        elif theme:
            known = ", ".join(sorted(self.available_themes))
            problems.append(
                str(
                    ConfigError(
                        self.settings.source,
                        "tui.theme",
                        f"unknown theme {theme!r} (themes: {known})",
                    )
                )
            )
        for problem in problems:
            self.notify(problem, severity="warning", timeout=10)
        if self.settings.source is not None:
            self.theme_changed_signal.subscribe(self, self._save_theme)

    def _save_theme(self, theme: Any) -> None:
        if theme.name == self.settings.theme or self.settings.source is None:
            return
        try:
            save_theme(theme.name, self.settings.source)
        except SessionsError as exc:
            self.notify(str(exc), severity="warning", timeout=10)
            return
        self.settings = replace(self.settings, theme=theme.name)

    def on_action_failed(self, message: messages.ActionFailed) -> None:
        self.notify(message.message, severity="error", timeout=8)

    # --- help and the command palette -------------------------------------------------
    def _key_of(self, action_id: str) -> str:
        for binding in self._bindings.key_to_bindings.values():
            for item in binding:
                if item.id == action_id:
                    return item.key
        configured = self.settings.keys.get(action_id)
        return configured or next(a.keys for a in ACTIONS if a.id == action_id)

    def action_help(self) -> None:
        pane = self._focused_pane()
        title, about = PANE_HELP.get(pane, PANE_HELP["snapshots"])
        keys = {a.id: self.settings.keys.get(a.id, a.keys) for a in ACTIONS}
        self.push_screen(HelpScreen(title, about, keys))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for action in ACTIONS:
            if action.id == "command_palette" or self.check_action(action.id, ()) is False:
                continue
            key = key_label(self.settings.keys.get(action.id, action.keys))
            yield SystemCommand(
                f"{action.description}  ({key})", action.help, self._palette_runner(action.id)
            )
        yield from super().get_system_commands(screen)

    def _palette_runner(self, action_id: str) -> Callable[[], Any]:
        async def run() -> None:
            await self.run_action(action_id)

        return run


def run_app(store: Store, *, watch_daemon: bool = True) -> None:
    SessionsApp(store, watch_daemon=watch_daemon).run()
