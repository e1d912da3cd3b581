"""config.toml is checked against a schema: every mistake is one line naming the file and the
key, the rest of the file still applies, and nothing is read in a way the user did not mean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, child_env, cli

from sessions.core.config import ConfigError, load_config, read_config, resolve_keys, save_theme
from sessions.tui.bindings import ACTIONS

DEFAULT_KEYS = {a.id: a.keys for a in ACTIONS}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def one_error(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        read_config(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{path}: ")
    return message


def test_unknown_key_is_one_line_naming_file_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, "[retention]\nkeep_lats = 5\n")
    message = one_error(path)
    assert "retention.keep_lats: unknown key" in message and "keep_last" in message
    assert "retension: unknown table" in one_error(write(tmp_path, "[retension]\nkeep_last = 5\n"))


def test_wrong_type_is_refused_not_read_character_by_character(tmp_path: Path) -> None:
    path = write(tmp_path, '[daemon]\nextra_dirs = "/srv/x"\n')
    assert "daemon.extra_dirs: should be a list, got '/srv/x'" in one_error(path)
    assert load_config(path).extra_dirs == ()  # not ("/", "s", "r", "v", ...)
    assert "retention.keep_last: should be an integer, got 2.5" in one_error(
        write(tmp_path, "[retention]\nkeep_last = 2.5\n")
    )
    assert "tui.theme" in one_error(write(tmp_path, "[tui]\ntheme = 7\n"))


@pytest.mark.parametrize(
    ("line", "key", "shown"),
    [
        ("keep_last = inf", "retention.keep_last", "inf"),
        ("max_total_mb = nan", "retention.max_total_mb", "nan"),
        ("max_age_days = 1e400", "retention.max_age_days", "inf"),
        ("interval_minutes = -inf", "retention.interval_minutes", "inf"),
    ],
)
def test_nan_and_inf_are_one_line_errors(tmp_path: Path, line: str, key: str, shown: str) -> None:
    message = one_error(write(tmp_path, f"[retention]\n{line}\n"))
    assert f"{key}: " in message and shown in message


def test_out_of_range_numbers_are_refused(tmp_path: Path) -> None:
    assert "retention.keep_last: should be greater than or equal to 1, got 0" in one_error(
        write(tmp_path, "[retention]\nkeep_last = 0\n")
    )
    assert "retention.interval_minutes" in one_error(
        write(tmp_path, "[retention]\ninterval_minutes = 0\n")
    )
    assert "retention.keep_last" in one_error(
        write(tmp_path, "[retention]\nkeep_last = 100000000000000000000\n")
    )
    assert "daemon.extra_dirs" in one_error(write(tmp_path, '[daemon]\nextra_dirs = ["/"]\n'))
    assert "daemon.extra_dirs" in one_error(write(tmp_path, '[daemon]\nextra_dirs = ["rel"]\n'))
    assert "share.owner" in one_error(write(tmp_path, '[share]\nowner = "../../x"\n'))
    assert "share.export_dir: 'bundles' should be absolute" in one_error(
        write(tmp_path, '[share]\nexport_dir = "bundles"\n')
    )
    assert load_config(write(tmp_path, '[share]\nexport_dir = "~/b"\n')).export_dir == (
        Path.home() / "b"
    )


def test_a_bad_key_keeps_its_default_and_the_rest_applies(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[retention]\nkeep_last = nan\nmax_age_days = 30\n[tui]\ntheme = "nord"\n'
        '[share]\nowner = "alice"\n',
    )
    config = load_config(path)
    assert (config.retention.keep_last, config.retention.max_age_days) == (None, 30)
    assert (config.theme, config.owner) == ("nord", "alice")
    assert config.problems == (f"{path}: retention.keep_last: should be an integer, got nan",)


def test_conflicting_key_remap_is_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[tui.keys]\npin = "d"\n')
    with pytest.raises(ConfigError) as caught:
        resolve_keys(read_config(path), DEFAULT_KEYS)
    assert str(caught.value) == (
        f"{path}: tui.keys.pin: 'd' is already the key of delete; "
        "remap delete too or pick another key"
    )
    swapped = read_config(write(tmp_path, '[tui.keys]\npin = "d"\ndelete = "X"\n'))
    assert resolve_keys(swapped, DEFAULT_KEYS) == {"pin": "d", "delete": "X"}


def test_unknown_action_id_is_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[tui.keys]\nrestor = "R"\n')
    with pytest.raises(ConfigError, match=r"tui\.keys\.restor: unknown action \(actions: filter"):
        resolve_keys(read_config(path), DEFAULT_KEYS)


def test_config_path_and_show(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config_dir = tmp_path / "cfg"
    monkeypatch.setenv("SESSIONS_CONFIG_DIR", str(config_dir))
    done = cli(home, "config", "path")
    assert (done.returncode, done.stdout) == (0, f"{config_dir / 'config.toml'}\n")
    config_dir.mkdir()
    (config_dir / "config.toml").write_text(
        '[retention]\nkeep_last = 3\nmax_total_mb = inf\n[share]\nowner = "alice"\n'
    )
    done = cli(home, "config", "show")
    assert done.returncode == 1
    assert "keep_last = 3" in done.stdout and 'owner = "alice"' in done.stdout
    assert done.stderr == (
        f"sessions-tui: {config_dir / 'config.toml'}: retention.max_total_mb: "
        "should be a finite number, got inf\n"
    )


def test_bad_config_does_not_stop_gc_and_says_why(home: Path, tmp_path: Path) -> None:
    config_dir = Path(child_env(home)["SESSIONS_CONFIG_DIR"])
    config_dir.mkdir(parents=True, exist_ok=True)
    path = config_dir / "config.toml"
    saved = path.read_text() if path.exists() else None
    path.write_text("[retention]\nkeep_last = inf\nmax_total_mb = 1e400\n")
    try:
        done = cli(home, "gc", "--policy")
    finally:
        path.unlink()
        if saved is not None:
            path.write_text(saved)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 2 and "retention.keep_last" in done.stderr


def test_save_theme_keeps_the_rest_of_the_file(tmp_path: Path) -> None:
    text = '# mine\n[tui]\ntheme = "nord"  # old\n[tui.keys]\nrestore = "R"\n'
    path = write(tmp_path, text)
    save_theme("gruvbox", path)
    assert path.read_text() == text.replace('theme = "nord"  # old', 'theme = "gruvbox"')
    assert read_config(path).keys == {"restore": "R"}
    fresh = tmp_path / "new" / "config.toml"
    save_theme("nord", fresh)
    assert read_config(fresh).theme == "nord"
    assert fresh.stat().st_mode & 0o777 == 0o600
    inline = write(tmp_path, 'tui = { theme = "nord" }\n')
    with pytest.raises(ConfigError, match="edit the file by hand"):
        save_theme("gruvbox", inline)
    assert inline.read_text() == 'tui = { theme = "nord" }\n'


def options(app) -> list[str]:
    """What the open command palette offers (empty while it has nothing to show)."""
    from textual.command import CommandList

    lists = app.screen.query(CommandList)
    if not lists:
        return []
    found = lists.first()
    return [str(found.get_option_at_index(i).prompt).lower() for i in range(found.option_count)]


async def test_theme_chosen_in_the_palette_is_saved(demo_home: Path, tmp_path: Path) -> None:
    from tui_pilot import make_app, ready, until

    path = write(tmp_path, '[tui.keys]\nrestore = "R"\n')
    app = make_app(demo_home, config=load_config(path))
    async with app.run_test(size=(140, 44)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"theme")
        await until(
            pilot,
            lambda: options(app)[:1] == ["theme\nchange the current theme"],
            "the theme command",
        )
        await pilot.press("enter")
        await until(pilot, lambda: "textual-light" in options(app), "the list of themes")
        await pilot.press(*"nord")
        await until(pilot, lambda: options(app)[:1] == ["nord"], "nord listed first")
        await pilot.press("enter")
        await until(pilot, lambda: app.theme == "nord", "theme change")
        await until(pilot, lambda: read_config(path).theme == "nord", "theme saved")
    assert read_config(path).keys == {"restore": "R"}


async def test_ui_reports_config_mistakes_and_keeps_defaults(
    demo_home: Path, tmp_path: Path
) -> None:
    from tui_pilot import make_app, ready

    path = write(tmp_path, '[tui]\ntheme = "no-such-theme"\n[tui.keys]\npin = "d"\n')
    app = make_app(demo_home, config=load_config(path))
    async with app.run_test(size=(140, 44), notifications=True) as pilot:
        await ready(pilot)
        shown = [n.message for n in app._notifications]
        assert any(m.startswith(f"{path}: tui.keys.pin: 'd' is already") for m in shown)
        assert any(m.startswith(f"{path}: tui.theme: unknown theme 'no-such-theme'") for m in shown)
        assert app._key_of("delete") == "d" and app._key_of("pin") == "p"


def test_import_sessions_does_not_import_the_schema_library() -> None:
    code = "import sys, sessions; print('pydantic' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert done.stdout.strip() == "False"
