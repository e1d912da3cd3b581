"""What every user pays before saving anything: importing the facade stays light, and a
first save of plain data loads only what it uses (behaviour, never timings)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import run_json

HEAVY = ("dill", "cryptography", "msgpack", "zstandard", "blake3", "importlib.metadata")


def test_importing_the_facade_imports_no_heavy_module(home: Path) -> None:
    got = run_json(
        home,
        f"""
        import json, sys
        import sessions
        before = [m for m in {HEAVY!r} if m in sys.modules]
        sessions.SaveResult, sessions.SessionsError  # the exported names still resolve
        print(json.dumps({{"loaded": before, "has_save": callable(sessions.save)}}))
        """,
    )
    assert got == {"loaded": [], "has_save": True}


def test_saving_plain_data_needs_neither_dill_nor_a_scan_of_installed_packages(
    home: Path,
) -> None:
    got = run_json(
        home,
        """
        import json, sys
        import sessions
        a, b, c = 1, [1, 2, 3], {"k": "v"}
        result = sessions.save("plain")
        print(json.dumps({"saved": sorted(result.saved),
                          "dill": "dill" in sys.modules,
                          "metadata": "importlib.metadata" in sys.modules}))
        """,
    )
    assert got == {"saved": ["a", "b", "c"], "dill": False, "metadata": False}


def test_versions_are_found_for_modules_that_do_not_declare_one(home: Path) -> None:
    """A top-level module without ``__version__`` whose distribution has another name: its
    version comes from that distribution's metadata next to it, found without a scan."""
    site = home.parent / "site"
    (site / "quietmod").mkdir(parents=True)
    (site / "quietmod" / "__init__.py").write_text("class Thing:\n    pass\n")
    info = site / "quiet_dist-4.5.6.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: quiet-dist\nVersion: 4.5.6\n")
    (info / "RECORD").write_text("quietmod/__init__.py,,\nquiet_dist-4.5.6.dist-info/RECORD,,\n")
    got = run_json(
        home,
        f"""
        import json, sys
        sys.path.insert(0, {str(site)!r})
        import sessions, quietmod
        thing = quietmod.Thing()
        result = sessions.save("versions")
        var = next(v for v in result.manifest.variables if v.name == "thing")
        print(json.dumps(var.modules))
        """,
    )
    assert got == {"quietmod": "4.5.6"}


def test_a_first_load_imports_only_what_it_uses(home: Path) -> None:
    # a snapshot of your own, loaded whole and by one name: no thread pool (small), no
    # close-match hints, no TOML parser (no trust file needed), no platformdirs (XDG dirs),
    # no logging (nothing to log)
    got = run_json(
        home,
        """
        import json, os, sys, tempfile
        os.environ.pop("SESSIONS_CONFIG_DIR", None)
        os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp()
        import sessions
        a, b = 1, [1, 2, 3]
        sessions.save("small")
        for name in [m for m in sys.modules if m.startswith(("sessions", "platformdirs"))]:
            del sys.modules[name]  # as a fresh process that only loads
        heavy = ("concurrent.futures", "difflib", "tomllib", "platformdirs", "dill", "logging")
        for name in heavy:
            sys.modules.pop(name, None)
        import sessions
        ns = {}
        whole = sessions.load("small", namespace=ns)
        one = sessions.load("small", names=["b"], namespace={})
        print(json.dumps({"loaded": [whole.loaded, one.loaded, ns["b"]],
                          "imported": [m for m in heavy if m in sys.modules]}))
        """,
    )
    assert got == {"loaded": [["a", "b"], ["b"], [1, 2, 3]], "imported": []}


@pytest.mark.skipif(sys.platform != "linux", reason="the XDG dirs are computed on Linux only")
@pytest.mark.parametrize("xdg", [None, "", "  ", "/somewhere/xdg"])
def test_the_session_and_config_dirs_are_where_platformdirs_puts_them(
    monkeypatch: pytest.MonkeyPatch, xdg: str | None
) -> None:
    import platformdirs

    from sessions.core import paths

    for variable in ("SESSIONS_HOME", "SESSIONS_CONFIG_DIR", "ANDROID_DATA"):
        monkeypatch.delenv(variable, raising=False)
    for variable in ("XDG_DATA_HOME", "XDG_CONFIG_HOME"):
        if xdg is None:
            monkeypatch.delenv(variable, raising=False)
        else:
            monkeypatch.setenv(variable, xdg)
    assert paths.session_home() == Path(platformdirs.user_data_dir(paths.APP, appauthor=False))
    assert paths.config_dir() == Path(platformdirs.user_config_dir(paths.APP, appauthor=False))
