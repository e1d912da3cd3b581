"""Cache entries and run checkpoints in the terminal UI (through Textual's Pilot, on a real
session dir): their group, the call's arguments and hits under a cached result, and what
each one is in the Environment tab. Nothing is unpickled to show them."""

from __future__ import annotations

import textwrap
from pathlib import Path

from conftest import cli
from textual.widgets import Static
from tui_pilot import goto_snapshot, goto_variable, make_app, ready, until

SIZE = (160, 50)


def plain(widget: Static) -> str:
    import io

    from rich.console import Console

    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(widget.content)
    return console.file.getvalue()


def _cached_entry(home: Path) -> str:
    import numpy as np

    import sessions

    def scaled(values, factor=2):
        return values * factor

    cached = sessions.cache(scaled, home=home)
    for _ in range(3):  # one miss, two hits
        cached(np.arange(12, dtype=np.float64), factor=3)
    (entry,) = cached.entries()
    return entry.ref


def _checkpoint(home: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "train.py").write_text(
        textwrap.dedent(
            """\
            rows = list(range(100))
            # %%
            total = sum(rows)
            # %%
            raise SystemExit(3)
            """
        )
    )
    import subprocess
    import sys

    from conftest import child_env

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sessions.tui.cli",
            "run",
            "--checkpoint-after",
            "0",
            "train.py",
            "x",
        ],
        cwd=work,
        env=child_env(home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 3, done.stderr


def refs(app) -> list[str]:
    table = app.query_one("#snapshots")
    return [
        table.rows_by_key[table.coordinate_to_cell_key((i, 0)).row_key.value].ref
        for i in range(table.row_count)
    ]


async def show_group(pilot, label: str) -> None:
    """Highlight the group whose label starts with ``label`` and wait for its rows."""
    groups = pilot.app.query_one("#groups")
    labels = [str(groups.get_option_at_index(i).prompt) for i in range(groups.option_count)]
    groups.highlighted = next(i for i, text in enumerate(labels) if text.startswith(label))
    expected = None if label == "All" else groups.get_option_at_index(groups.highlighted).id
    await until(pilot, lambda: pilot.app.group == expected, f"the {label} group")
    await ready(pilot)


async def test_a_cached_result_shows_its_call_arguments_and_hits(
    home: Path, tmp_path: Path
) -> None:
    ref = _cached_entry(home)
    _checkpoint(home, tmp_path)
    app = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        groups = app.query_one("#groups")
        labels = [str(groups.get_option_at_index(i).prompt) for i in range(groups.option_count)]
        assert any(label.startswith("Caches") for label in labels)
        assert any(label.startswith("Runs") for label in labels)
        # cache entries keep to their group: All counts and lists the checkpoints only
        listed = refs(app)
        assert listed and all(r.startswith("run:train@") for r in listed), listed
        assert labels[0] == f"All  [dim]{len(listed)}[/]"

        await show_group(pilot, "Caches")
        assert refs(app) == [ref]
        await goto_snapshot(pilot, ref)
        await goto_variable(pilot, "result")
        shown = plain(app.query_one("#preview-text", Static))
        assert "float64" in shown, "the result's own preview"
        assert "Cached call" in shown and ".scaled" in shown
        assert "values" in shown and "12" in shown and "factor" in shown and "3" in shown
        assert "2 hits, last" in shown
        environment = plain(app.query_one("#environment-text", Static))
        assert "Cache entry" in environment and "a call (@sessions.cache)" in environment
        assert "computing took" in environment and "2 hits" in environment
        assert "argument" in environment and "value (preview)" in environment

        await show_group(pilot, "All")
        await goto_snapshot(pilot, "run:train@2")
        environment = plain(app.query_one("#environment-text", Static))
        assert "Run checkpoint" in environment
        assert "after cell" in environment and "2 of 3" in environment
        assert "arguments" in environment and "x" in environment
        assert "rows = list(range(100))" in environment and "total = sum(rows)" in environment
        assert "sessions-tui run" in environment


async def test_snapshots_that_are_neither_show_no_cache_section(home: Path) -> None:
    import numpy as np

    import sessions

    sessions.save("plain", namespace={"result": np.arange(5)}, home=home)
    app = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await goto_snapshot(pilot, "plain@1")
        await goto_variable(pilot, "result")
        environment = plain(app.query_one("#environment-text", Static))
        assert "Cache entry" not in environment and "Run checkpoint" not in environment
        assert "Cached call" not in plain(app.query_one("#preview-text", Static))


def test_ls_says_what_each_entry_is_and_lists_cache_entries_on_request(
    home: Path, tmp_path: Path
) -> None:
    ref = _cached_entry(home)
    _checkpoint(home, tmp_path)
    import sessions

    sessions.save("work", namespace={"x": 1}, home=home)
    listed = cli(home, "ls")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split()[:3] == ["REF", "ID", "WHAT"]
    row = {line.split()[0]: line.split()[2] for line in lines[1:] if "@" in line.split()[0]}
    assert row["work@1"] == "snapshot" and row["run:train@2"] == "checkpoint"
    assert ref not in row, "cache entries are not listed with snapshots"
    assert "1 cache entry" in lines[-1] and "sessions-tui cache ls" in lines[-1]
    everything = cli(home, "ls", "--all")
    assert f"{ref.split('@')[0]}" in everything.stdout and " cache " in everything.stdout


def test_the_catalog_lists_cache_entries_only_in_their_group(home: Path) -> None:
    """What the UI reads while the daemon runs: the same split as without it."""
    import numpy as np

    import sessions
    from sessions.core.store.catalog import Catalog, catalog_path
    from sessions.core.store.session_dir import Store
    from sessions.daemon.indexer import Indexer
    from sessions.tui.data import Source

    ref = _cached_entry(home)
    sessions.save("plain", namespace={"result": np.arange(5)}, home=home)
    store = Store(home)
    catalog = Catalog(catalog_path(store.root))
    try:
        Indexer(store, catalog, lambda *args: None).reconcile()
        rows, groups, total = Source(store).rows(live=True)
        assert [r.ref for r in rows] == ["plain@1"] and total == 1
        assert dict(groups)["cache"] == 1
        cached, _, _ = Source(store).rows(live=True, group="cache")
        assert [r.ref for r in cached] == [ref]
        found, _, _ = Source(store).rows(live=True, text="result")  # a filter on All, too
        assert [r.ref for r in found] == ["plain@1"]
    finally:
        catalog.close()
