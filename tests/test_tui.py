"""Every key and action of the terminal UI, through Textual's Pilot, on a real session dir."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static
from tui_fixtures import damage_one
from tui_pilot import goto_snapshot, goto_variable, make_app, press, ready, settle, until

from sessions.core.store import annotation
from sessions.core.store.session_dir import Store
from sessions.core.units import human_size
from sessions.tui.components.compare_modal import CompareModal, PickSnapshotModal
from sessions.tui.components.confirm_modal import ConfirmModal
from sessions.tui.components.help_screen import HelpScreen
from sessions.tui.components.note_modal import NoteModal
from sessions.tui.components.path_modal import PathModal
from sessions.tui.components.restore_modal import RestoreModal

SIZE = (140, 44)


def refs(app) -> list[str]:
    table = app.query_one("#snapshots")
    return [
        table.rows_by_key[table.coordinate_to_cell_key((i, 0)).row_key.value].ref
        for i in range(table.row_count)
    ]


def plain(widget: Static) -> str:
    """The text a Static shows, rendered as a terminal would."""
    import io

    from rich.console import Console

    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(widget.content)
    return console.file.getvalue()


def preview_text(app) -> str:
    return plain(app.query_one("#preview-text", Static))


def footer_keys(app) -> list[str]:
    """The descriptions of the keys the footer shows now."""
    from textual.widgets._footer import FooterKey

    return [key.description for key in app.screen.query(FooterKey)]


async def footer_shows(pilot, present: set[str], absent: set[str] = frozenset()) -> None:
    """Wait until the footer (redrawn after a refresh) shows ``present`` and none of
    ``absent``."""

    def right() -> bool:
        keys = set(footer_keys(pilot.app))
        return present <= keys and not absent & keys

    try:
        await until(pilot, right, "the footer", timeout=10)
    except AssertionError:
        raise AssertionError(f"footer shows {footer_keys(pilot.app)}") from None


async def test_first_paint_lists_snapshots_groups_and_details(demo_home: Path) -> None:
    app = make_app(demo_home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, rows=4)
        assert refs(app) == [
            "legacy-experiment.pkl",
            "demo-model@1",
            "churn-analysis@2",
            "churn-analysis@1",
        ]
        groups = app.query_one("#groups")
        labels = [str(groups.get_option_at_index(i).prompt) for i in range(groups.option_count)]
        assert labels[0].startswith("All") and "4" in labels[0]
        assert any(label.startswith("Scripts") and "3" in label for label in labels)
        assert any(label.startswith("Dill files") and "1" in label for label in labels)
        assert app.detail is not None and app.detail.row.ref == "legacy-experiment.pkl"
        assert app.query_one("#variables").row_count == 14
        assert "offline" in app.sub_title


async def test_cursor_keys_vim_and_arrows(demo_home: Path) -> None:
    app = make_app(demo_home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        table = app.query_one("#snapshots")
        await press(pilot, "j")
        assert table.cursor_row == 1 and app.detail.row.ref == "demo-model@1"
        await press(pilot, "down")
        assert table.cursor_row == 2
        await press(pilot, "k")
        assert table.cursor_row == 1
        await press(pilot, "G")
        assert table.cursor_row == 3 and app.detail.row.ref == "churn-analysis@1"
        await press(pilot, "g")
        assert table.cursor_row == 0
        await press(pilot, "end", "up", "home")
        assert table.cursor_row == 0


async def test_tab_moves_between_panes_and_enter_opens(demo_home: Path) -> None:
    app = make_app(demo_home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app._focused_pane() == "snapshots"
        await press(pilot, "tab")
        assert app._focused_pane() == "variables"
        await press(pilot, "tab")
        assert app._focused_pane() == "preview"
        await press(pilot, "tab")
        assert app._focused_pane() == "groups"
        await press(pilot, "shift+tab")
        assert app._focused_pane() == "preview"
        await press(pilot, "tab", "enter")
        assert app._focused_pane() == "snapshots"
        await press(pilot, "enter")
        assert app._focused_pane() == "variables"


async def test_filter_matches_names_notes_tags_and_variables_across_snapshots(
    demo_home: Path,
) -> None:
    app = make_app(demo_home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await press(pilot, "slash")
        assert isinstance(app.focused, Input)
        for key in "legacy_scores":
            await pilot.press(key)
        await settle(pilot)
        await pilot.pause(0.3)
        await settle(pilot)
        assert refs(app) == ["legacy-experiment.pkl"]
        await press(pilot, "escape")
        assert len(refs(app)) == 4 and app.filter_text == ""
        await press(pilot, "slash", *"fitted", "enter")
        assert refs(app) == ["churn-analysis@2"] and app._focused_pane() == "snapshots"
        await press(pilot, "slash", "ctrl+a", "ctrl+k", *"to_percent", "enter")
        assert refs(app) == ["legacy-experiment.pkl", "churn-analysis@2"]


async def test_choosing_a_group_lists_only_its_snapshots(demo_home: Path) -> None:
    app = make_app(demo_home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await press(pilot, "shift+tab")
        assert app._focused_pane() == "groups"
        await press(pilot, "G")
        assert refs(app) == ["legacy-experiment.pkl"]
        await press(pilot, "g")
        assert len(refs(app)) == 4


async def test_previews_of_a_dataframe_an_array_and_a_model(demo_home: Path) -> None:
    app = make_app(demo_home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await goto_snapshot(pilot, "churn-analysis@2")
        await goto_variable(pilot, "customers")
        frame = app.query_one("#preview-frame", DataTable)
        assert frame.display and frame.row_count == 10
        labels = [str(c.label) for c in frame.columns.values()]
        assert labels[1:] == ["customer_id", "plan", "monthly_spend", "tenure_months", "churned"]
        await goto_variable(pilot, "spend")
        assert not frame.display
        text = preview_text(app)
        assert "float64" in text and "mean" in text and "2000" in text
        await goto_variable(pilot, "model")
        assert "ChurnModel(features=" in preview_text(app)
        await goto_variable(pilot, "churn_rate")
        assert "def churn_rate" in preview_text(app)


async def test_environment_history_and_skipped_tabs(demo_home: Path) -> None:
    app = make_app(demo_home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await goto_snapshot(pilot, "churn-analysis@1")
        environment = plain(app.query_one("#environment-text", Static))
        assert (
            "3.12.4" in environment
            and "pandas" in environment
            and "/home/demo/churn" in environment
        )
        skipped = plain(app.query_one("#skipped-text", Static))
        assert "warehouse" in skipped and "sqlite3.Connection" in skipped
        history = plain(app.query_one("#history-text", Static))
        assert "No code history" in history


async def test_space_marks_variables_and_restore_copies_their_loading_code(demo_home: Path) -> None:
    app = make_app(demo_home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await goto_snapshot(pilot, "churn-analysis@2")
        await press(pilot, "tab")
        await goto_variable(pilot, "customers")
        await press(pilot, "space")  # marks customers, moves down
        await goto_variable(pilot, "model")
        await press(pilot, "space")
        assert app.detail.marked == {"customers", "model"}
        await press(pilot, "r")
        assert isinstance(app.screen, RestoreModal)
        assert app.screen.names == ["customers", "model"]
        await press(pilot, "j", "enter")  # second target: the clipboard
        assert "names=['customers', 'model']" in app.clipboard
        assert "sessions.load(" in app.clipboard
        await press(pilot, "space")
        assert app.detail.marked  # space off a saved variable row does not crash


async def test_copy_with_no_clipboard_tool_says_so_and_shows_the_text(
    demo_home: Path, monkeypatch, tmp_path: Path
) -> None:
    """OSC 52 cannot be confirmed: with no clipboard tool and no tmux, the toast says the
    copy failed and carries the text itself, so nothing is lost."""
    import sys

    monkeypatch.setenv("PATH", str(tmp_path / "no-tools-here"))
    for name in ("TMUX", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setitem(sys.modules, "pyperclip", None)  # not installed
    app = make_app(demo_home)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await ready(pilot)
        await goto_snapshot(pilot, "churn-analysis@2")
        await press(pilot, "r", "j", "enter")  # restore -> copy the loading code
        await until(pilot, lambda: app.copied is not None, "the copy")
        assert not app.copied.confirmed
        message = [n.message for n in app._notifications][-1]
        assert "could not be copied" in message
        assert app.copied.text in message and "sessions.load(" in message


async def test_restore_into_a_shell_without_a_terminal_says_so(demo_home: Path) -> None:
    app = make_app(demo_home)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await ready(pilot)
        await goto_snapshot(pilot, "demo-model@1")
        await press(pilot, "r", "enter")
        assert not isinstance(app.screen, RestoreModal)
        assert any("Cannot open a shell here" in n.message for n in app._notifications)


async def test_share_exports_a_bundle_and_pushes_with_the_pull_command_copied(
    demo_home: Path, tmp_path: Path, monkeypatch
) -> None:
    from sessions.core.sharing.remote import add_remote, open_remote
    from sessions.tui.components.share_modal import ShareModal

    add_remote("team", str(tmp_path / "shared-drive"))
    monkeypatch.chdir(tmp_path)
    app = make_app(demo_home)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await ready(pilot)
        await goto_snapshot(pilot, "churn-analysis@2")
        await press(pilot, "s")
        assert isinstance(app.screen, ShareModal)
        assert "team" in str(app.screen.query_one("#share-targets").get_option_at_index(1).prompt)
        await press(pilot, "enter")  # export a bundle: asks where, offers the current directory
        assert isinstance(app.screen, PathModal)
        await press(pilot, "enter")
        await until(pilot, lambda: list(tmp_path.glob("*.sessions")), "the export")
        assert [p.name for p in tmp_path.glob("*.sessions")] == ["churn-analysis@2.sessions"]
        from sessions.core.sharing.bundle import import_bundle

        import_bundle(app.store, tmp_path / "churn-analysis@2.sessions")  # as a teammate would
        app.action_refresh()
        await ready(pilot, rows=5)
        groups = app.query_one("#groups")
        labels = [str(groups.get_option_at_index(i).prompt) for i in range(groups.option_count)]
        assert any(label.startswith("Imported") and "1" in label for label in labels), labels

        await press(pilot, "s", "i")  # include what looks secret this time
        assert app.screen.include_secrets
        await press(pilot, "i")
        assert not app.screen.include_secrets
        await press(pilot, "j", "enter")  # push to team
        await until(pilot, lambda: "sessions-tui pull" in (app.clipboard or ""), "the push")
        # local churn-analysis@2 keeps its number on a remote that had no version of it
        assert app.clipboard == "sessions-tui pull " + f"{_owner()}/churn-analysis@2 team"
        assert [s.ref for s in open_remote("team").snapshots()] == [f"{_owner()}/churn-analysis@2"]
        await goto_snapshot(pilot, "legacy-experiment.pkl")
        await footer_shows(pilot, {"Restore"}, {"Share"})  # a dill file cannot be shared
        await press(pilot, "s")
        assert not isinstance(app.screen, ShareModal)


async def test_restore_into_a_running_kernel_and_snapshot_a_kernel(
    demo_home: Path, kernels
) -> None:
    from jupyter_kernels import kernel_id

    from sessions.tui.components.report_modal import ReportModal
    from sessions.tui.components.restore_modal import KernelModal

    kernel = kernels.start()
    kernel.run("before = 1")
    app = make_app(demo_home)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await ready(pilot)
        await goto_snapshot(pilot, "demo-model@1")
        await press(pilot, "r")
        await until(pilot, lambda: isinstance(app.screen, RestoreModal), "the restore dialog")
        target = app.screen.targets[1]
        assert target.id == f"kernel:{kernel_id(kernel)}" and "Jupyter kernel" in target.label
        await press(pilot, "j", "enter")
        await until(pilot, lambda: isinstance(app.screen, ReportModal), "the report")
        got = kernel.run("print(type(model).__name__, sorted(config), before)")
        assert got["stdout"].split() == [
            "ChurnModel",
            "['seed',",
            "'test_size',",
            "'threshold']",
            "1",
        ]
        await press(pilot, "escape")

        await press(pilot, "K")
        await until(pilot, lambda: isinstance(app.screen, KernelModal), "the kernel picker")
        await press(pilot, "enter")
        await ready(pilot, rows=5)
        assert f"kernel-{kernel_id(kernel)[:8]}@1" in refs(app)  # named for its kernel


def _owner() -> str:
    from sessions.core.sharing.identity import default_owner

    return default_owner()


async def test_delete_asks_first(demo_home: Path) -> None:
    app = make_app(demo_home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await goto_snapshot(pilot, "churn-analysis@1")
        path = Path(app.detail.row.path)
        await press(pilot, "d")
        assert isinstance(app.screen, ConfirmModal)
        await press(pilot, "n")
        assert path.exists() and len(refs(app)) == 4
        await press(pilot, "d", "y")
        await ready(pilot, rows=3)
        assert not path.exists() and "churn-analysis@1" not in refs(app)


async def test_pin_toggles_and_shows_a_badge(demo_home: Path) -> None:
    app = make_app(demo_home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await goto_snapshot(pilot, "churn-analysis@2")
        snapshot_id = app.detail.row.id
        await press(pilot, "p")
        await settle(pilot)
        assert annotation.read(demo_home, snapshot_id).pinned
        table = app.query_one("#snapshots")
        assert str(table.get_cell(app.detail.row.path, "badge")) == "PINNED"
        await press(pilot, "p")
        assert not annotation.read(demo_home, snapshot_id).pinned


async def test_note_and_tags_are_edited(demo_home: Path) -> None:
    app = make_app(demo_home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await goto_snapshot(pilot, "demo-model@1")
        snapshot_id = app.detail.row.id
        await press(pilot, "n")
        assert isinstance(app.screen, NoteModal)
        await press(
            pilot,
            "ctrl+a",
            "ctrl+k",
            *"reviewed by ana",
            "enter",
            "ctrl+a",
            "ctrl+k",
            *"final, model",
            "enter",
        )
        await settle(pilot)
        saved = annotation.read(demo_home, snapshot_id)
        assert saved.note == "reviewed by ana" and saved.tags == ("final", "model")
        assert app.detail.row.note == "reviewed by ana"


async def test_compare_shows_added_removed_and_changed(demo_home: Path) -> None:
    app = make_app(demo_home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await goto_snapshot(pilot, "churn-analysis@2")
        await press(pilot, "c")
        assert isinstance(app.screen, PickSnapshotModal)
        assert app.screen.candidates[0].ref == "churn-analysis@1"
        await press(pilot, "enter")
        await settle(pilot)
        assert isinstance(app.screen, CompareModal)
        result = app.screen.result
        assert (result.left, result.right) == ("churn-analysis@1", "churn-analysis@2")
        assert {c.name for c in result.added} == {"clean", "model", "rates", "to_percent"}
        assert "customers" in result.same


async def test_help_for_the_focused_pane(demo_home: Path) -> None:
    app = make_app(demo_home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await press(pilot, "question_mark")
        assert isinstance(app.screen, HelpScreen) and app.screen.pane == "Snapshots"
        await press(pilot, "escape", "tab", "f1")
        assert isinstance(app.screen, HelpScreen) and app.screen.pane == "Variables"
        await press(pilot, "escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_command_palette_runs_every_action_by_name(demo_home: Path) -> None:
    from textual.command import CommandPalette

    app = make_app(demo_home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await goto_snapshot(pilot, "demo-model@1")
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for expected in [
            "Filter  (/)",
            "Restore  (r)",
            "Delete  (d)",
            "Pin  (p)",
            "Note  (n)",
            "Compare  (c)",
            "Share  (s)",
            "Groups  (ctrl+b)",
            "Help  (?, f1)",
            "Quit  (q)",
        ]:
            assert expected in titles
        assert "Mark  (space)" not in titles  # only where the variables are
        await press(pilot, "tab")
        assert "Mark  (space)" in [c.title for c in app.get_system_commands(app.screen)]
        await press(pilot, "shift+tab")
        snapshot_id = app.detail.row.id
        await press(pilot, "ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        for key in "Pin  (p)"[:3]:
            await pilot.press(key)
        await pilot.pause(0.5)
        await press(pilot, "enter")
        await settle(pilot)
        assert annotation.read(demo_home, snapshot_id).pinned


async def test_q_quits(demo_home: Path) -> None:
    app = make_app(demo_home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("q")
        await pilot.pause(0.2)
    assert app.return_code == 0


async def test_damaged_snapshot_shows_a_badge_and_explains_itself(demo_home: Path) -> None:
    damage_one(demo_home, "demo-model")
    app = make_app(demo_home)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await ready(pilot)
        await goto_snapshot(pilot, "demo-model@1")
        table = app.query_one("#snapshots")
        assert str(table.get_cell(app.detail.row.path, "badge")) == "DAMAGED"
        text = preview_text(app)
        assert "This snapshot is damaged" in text and "manifest is truncated" in text
        await footer_shows(pilot, {"Delete"}, {"Restore"})
        await press(pilot, "r")
        assert not isinstance(app.screen, RestoreModal)


async def test_keys_can_be_remapped_in_config(demo_home: Path, tmp_path: Path) -> None:
    from sessions.core.config import load_config

    config = tmp_path / "config.toml"
    config.write_text('[tui]\ntheme = "nord"\n[tui.keys]\nrestore = "R"\n')
    app = make_app(demo_home, config=load_config(config))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.theme == "nord"
        await press(pilot, "r")
        assert not isinstance(app.screen, RestoreModal)
        await press(pilot, "R")
        assert isinstance(app.screen, RestoreModal)


async def test_new_snapshots_appear_live_without_a_key(demo_home: Path, daemon_env) -> None:
    from conftest import run_python
    from daemons import RunningDaemon

    daemon = RunningDaemon(demo_home, daemon_env)
    try:
        app = make_app(demo_home, watch_daemon=True)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot, rows=4)
            assert "live" in app.sub_title
            run_python(
                demo_home,
                "import sessions\nfresh = 42\nsessions.save('arrived-live', note='from another process')\n",
            )
            await ready(pilot, rows=5, timeout=20)
            assert "arrived-live@1" in refs(app)
    finally:
        daemon.stop()


async def test_offline_offers_to_start_the_daemon(demo_home: Path, daemon_env) -> None:
    from sessions.daemon.client import stop

    app = make_app(demo_home, watch_daemon=True)
    try:
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await ready(pilot)
            assert "offline" in app.sub_title
            assert any("Press D to start it" in n.message for n in app._notifications)
            await pilot.press("D")
            deadline = 40
            while "live" not in app.sub_title and deadline:
                await pilot.pause(0.25)
                deadline -= 1
            assert "live" in app.sub_title
    finally:
        stop(Store(demo_home).root)


async def test_a_reload_of_the_shown_snapshot_keeps_the_variable_cursor(demo_home: Path) -> None:
    """The list reloaded (the filter applied, the daemon saying something changed) while the
    user moves through the variables: the cursor stays on the variable it is on."""
    app = make_app(demo_home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, rows=4)
        await goto_snapshot(pilot, "churn-analysis@2")
        await goto_variable(pilot, "customers")
        shown = app.detail
        app.load_rows()  # the same snapshot in the new rows: shown as it is
        await settle(pilot)
        assert app.query_one("#variables").current_name() == "customers"
        app.load_detail(shown.row)  # read again (the daemon said it changed)
        await until(pilot, lambda: app.detail is not shown, "the snapshot read again")
        assert app.query_one("#variables").current_name() == "customers"


async def test_a_key_right_after_the_cursor_moved_acts_on_the_highlighted_snapshot(
    demo_home: Path,
) -> None:
    """``r`` pressed before the newly highlighted snapshot's detail has been read (a fast
    typist, a filter just applied) restores that snapshot, not the one highlighted before."""
    app = make_app(demo_home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, rows=4)
        assert app.detail is not None and app.detail.row.ref == "legacy-experiment.pkl"
        table = app.query_one("#snapshots")
        table.move_cursor(row=refs(app).index("churn-analysis@2"))
        app.action_restore()  # in the same step: the detail read is still to come
        assert app.detail.row.ref == "legacy-experiment.pkl"
        await until(pilot, lambda: isinstance(app.screen, RestoreModal), "the restore dialog")
        assert app.screen.ref == "churn-analysis@2"


async def test_groups_pane_hides_with_ctrl_b_and_comes_back(demo_home: Path) -> None:
    app = make_app(demo_home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        groups = app.query_one("#groups")
        assert groups.display
        await press(pilot, "ctrl+b")
        assert not groups.display
        await press(pilot, "tab", "tab", "tab")  # snapshots -> variables -> preview -> snapshots
        assert app.focused is app.query_one("#snapshots")
        await press(pilot, "ctrl+b")
        assert groups.display and app.focused is groups
    async with make_app(demo_home).run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        groups = pilot.app.query_one("#groups")
        assert not groups.display  # a narrow terminal: the tables get the room
        await press(pilot, "ctrl+b")
        assert groups.display


async def test_groups_pane_follows_the_terminal_width_until_toggled(demo_home: Path) -> None:
    async with make_app(demo_home).run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        groups = pilot.app.query_one("#groups")
        assert not groups.display
        await pilot.resize_terminal(200, 60)  # the terminal grew: room for the pane now
        await until(pilot, lambda: groups.display, "the sessions pane to show")
        await pilot.resize_terminal(80, 24)
        await until(pilot, lambda: not groups.display, "the sessions pane to hide")
        await press(pilot, "ctrl+b")  # the user's choice outlasts a resize
        await pilot.resize_terminal(90, 30)
        await settle(pilot)
        assert groups.display


def column_keys(table) -> list[str]:
    return [column.key.value for column in table.ordered_columns]


async def test_tables_fit_80x24_and_use_200x60(demo_home: Path) -> None:
    app = make_app(demo_home)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await goto_snapshot(pilot, "churn-analysis@2")
        snapshots, variables = app.query_one("#snapshots"), app.query_one("#variables")
        assert column_keys(snapshots)[:3] == ["time", "ref", "vars"]
        assert "tags" not in column_keys(snapshots)
        assert column_keys(variables) == ["name", "type", "size"]
        for table in (snapshots, variables):
            assert table.max_scroll_x == 0 and not table.show_horizontal_scrollbar
        await footer_shows(pilot, {"Help", "Quit", "Restore"})
    app = make_app(demo_home)
    async with app.run_test(size=(200, 60)) as pilot:
        await ready(pilot)
        await goto_snapshot(pilot, "churn-analysis@2")
        snapshots, variables = app.query_one("#snapshots"), app.query_one("#variables")
        assert column_keys(snapshots) == ["time", "ref", "vars", "size", "note", "tags"]
        assert column_keys(variables) == ["name", "type", "size", "shape"]
        assert str(variables.get_cell("rng", "type")) == "Generator"  # short in the table
        await press(pilot, "tab")
        await goto_variable(pilot, "rng")
        assert "numpy.random._generator.Generator" in preview_text(app)  # full in the preview
        row = app.detail.row
        assert str(snapshots.get_cell(row.path, "tags")) == "#demo #churn #model"


async def test_footer_offers_only_what_applies_where_the_focus_is(demo_home: Path) -> None:
    app = make_app(demo_home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.detail.row.kind == "foreign"
        await footer_shows(pilot, {"Restore"}, {"Share", "Pin", "Note", "Mark"})
        await goto_snapshot(pilot, "churn-analysis@2")
        await footer_shows(pilot, {"Share", "Pin", "Note"}, {"Mark"})
        await press(pilot, "space")  # Mark does not apply here: nothing happens
        assert not app.detail.marked
        await press(pilot, "tab")
        await footer_shows(pilot, {"Mark"})
        await goto_variable(pilot, "\x00import:sqlite3")  # restored by import, not marked
        await footer_shows(pilot, {"Restore"}, {"Mark"})


async def test_secret_looking_values_are_masked_until_revealed(demo_home: Path) -> None:
    app = make_app(demo_home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await goto_snapshot(pilot, "churn-analysis@2")
        await press(pilot, "tab")
        await goto_variable(pilot, "customers")
        await footer_shows(pilot, {"Mark"}, {"Reveal"})
        await goto_variable(pilot, "warehouse_url")
        text = preview_text(app)
        assert "SECRET" in text and "value hidden" in text and "a URL with a password" in text
        assert "Tr0ub4dor" not in text
        await footer_shows(pilot, {"Reveal"})
        await press(pilot, "x")
        text = preview_text(app)
        assert "Tr0ub4dor" in text and "SECRET" in text
        await press(pilot, "x")
        assert "Tr0ub4dor" not in preview_text(app)
        await press(pilot, "x", "shift+tab")
        await goto_snapshot(pilot, "churn-analysis@1")  # revealing stays with its snapshot
        await press(pilot, "tab")
        await goto_variable(pilot, "warehouse_url")
        assert "Tr0ub4dor" not in preview_text(app)


async def test_export_asks_where_and_writes_where_told(
    demo_home: Path, tmp_path: Path, monkeypatch
) -> None:
    from textual.widgets import Input

    from sessions.core.config import load_config

    bundles, elsewhere, started_in = tmp_path / "bundles", tmp_path / "elsewhere", tmp_path / "cwd"
    bundles.mkdir()
    started_in.mkdir()
    monkeypatch.chdir(started_in)
    config = tmp_path / "config.toml"
    config.write_text(f'[share]\nexport_dir = "{bundles}"\n')
    app = make_app(demo_home, config=load_config(config))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await goto_snapshot(pilot, "churn-analysis@2")
        await press(pilot, "s", "enter")
        assert isinstance(app.screen, PathModal)
        field = app.screen.query_one("#path", Input)
        assert field.value == str(bundles / "churn-analysis@2.sessions")  # from config
        field.value = str(elsewhere / "churn.sessions")
        await press(pilot, "enter")
        assert isinstance(app.screen, PathModal)  # no such directory: said, nothing written
        assert "No such directory" in plain(app.screen.query_one("#path-problem", Static))
        elsewhere.mkdir()
        field.value = str(elsewhere)  # a directory: the bundle gets its usual name in it
        await press(pilot, "enter")
        written = elsewhere / "churn-analysis@2.sessions"
        await until(pilot, written.exists, "the export")
        await until(pilot, lambda: not app.operations, "the export to finish")
        assert not list(started_in.iterdir()) and not list(bundles.iterdir())
        before = written.stat().st_mtime_ns
        await press(pilot, "s", "enter")  # the next export offers the last place
        assert app.screen.query_one("#path", Input).value == str(written)
        await press(pilot, "enter")
        assert "already there" in plain(app.screen.query_one("#path-problem", Static))
        await press(pilot, "escape")
        assert not isinstance(app.screen, PathModal) and written.stat().st_mtime_ns == before


async def test_first_run_says_how_to_save_and_opens_the_demo(
    tmp_path: Path, demo_home: Path, monkeypatch
) -> None:
    monkeypatch.setenv("SESSIONS_DEMO_HOME", str(tmp_path / "demo"))
    app = make_app(tmp_path / "empty-home")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.empty, "the first-run screen")
        assert app.query_one("#welcome").display and not app.query_one("#snapshots").display
        text = plain(app.query_one("#welcome-text", Static))
        assert "No snapshots yet" in text
        assert "sessions.save(" in text and "%sessions save" in text and "press K" in text
        await footer_shows(pilot, {"Open the demo", "Help"}, {"Filter", "Restore", "Delete"})
        await press(pilot, "o")
        await until(pilot, lambda: app.rows, "the demo", timeout=120)
        assert Path(app.store.root) == tmp_path / "demo"
        assert not app.empty and app.query_one("#snapshots").display
        assert "churn-analysis@2" in refs(app)


def test_demo_without_a_terminal_prints_what_it_built(tmp_path: Path, monkeypatch) -> None:
    from conftest import cli

    monkeypatch.setenv("SESSIONS_DEMO_HOME", str(tmp_path / "demo"))
    done = cli(tmp_path / "home", "demo", "--no-open")
    assert done.returncode == 0, done.stderr
    assert f"demo session dir: {tmp_path / 'demo'}" in done.stdout
    assert "churn-analysis@2" in done.stdout and not done.stderr


async def test_a_long_operation_shows_progress_and_esc_cancels_it(
    demo_home: Path, tmp_path: Path
) -> None:
    from scenes import HeldOperation, export_held_halfway
    from textual.widgets import ProgressBar

    app = make_app(demo_home)
    target = tmp_path / "out" / "churn.sessions"
    target.parent.mkdir()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await export_held_halfway(pilot, target)
        panel = app.query_one("#progress")
        assert panel.display
        row = plain(panel.query_one(".operation-title", Static))
        figures = plain(panel.query_one(".operation-figures", Static))
        assert "Exporting churn-analysis@2" in row
        held = HeldOperation.at  # the step the export is held at: what the panel must say
        assert held is not None and held.total_bytes and held.total_items
        assert f"{int(100 * held.fraction)}%" in figures
        done, total = human_size(held.done_bytes), human_size(held.total_bytes)
        assert f"{done} of {total}" in figures
        assert f"{held.done_items}/{held.total_items} objects" in figures
        assert "/s" in figures and "left" in figures and "esc cancels" in figures
        assert panel.query_one(ProgressBar).percentage == pytest.approx(held.fraction, abs=1e-3)
        await footer_shows(pilot, {"Cancel"})
        await press(pilot, "escape")
        await until(pilot, lambda: not app.operations, "the export to stop")
        assert not panel.display and isinstance(app.operations, dict)
        assert any("cancelled" in n.message for n in app._notifications)
        assert list(target.parent.iterdir()) == []  # no bundle, no temp file
        await footer_shows(pilot, {"Help"}, {"Cancel"})
    assert HeldOperation.held.is_set()


async def test_notifications_stack_above_the_progress_panel(
    demo_home: Path, tmp_path: Path
) -> None:
    """A toast (a push's pull command, a failure) never covers the running operation's
    figures, at 80x24 where the panel takes two lines."""
    from scenes import export_held_halfway

    app = make_app(demo_home)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await export_held_halfway(pilot, tmp_path / "churn.sessions")
        text = "the pull command could not be copied; the text: " + "x" * 60
        app.notify(text, title="Pushed", timeout=120)
        panel = app.query_one("#progress")

        def toast_bottom() -> int:
            """The line under the lowest toast (0: no toast)."""
            return max((toast.region.bottom for toast in app.screen.query("Toast")), default=0)

        await until(pilot, lambda: toast_bottom() > 0, "the toast")
        assert panel.region.height == 2
        await until(pilot, lambda: toast_bottom() <= panel.region.y, "the toast to clear the panel")
        await press(pilot, "escape")
        await until(pilot, lambda: not app.operations, "the export to stop")
        await until(pilot, lambda: toast_bottom() == 23, "the toasts back down on the footer")
