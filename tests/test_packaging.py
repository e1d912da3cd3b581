"""What users install: the wheel built from this tree, as ``python -m build`` builds it (an
sdist, then the wheel from the unpacked sdist), inspected, then installed (not editable) into
a fresh venv and used from a directory that also holds a user's own ``core/`` and ``tui/``
packages and a ``daemon.py`` — the names a careless layout would collide with.

The fresh venv gets its dependencies the way a user's does, from the package index through
pip (the pip running these tests, pointed at the new venv with ``--python``: no second pip to
bootstrap), without byte-compiling them (the processes here compile what they import).
"""

from __future__ import annotations

import email.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ROOT
from tmux import Tmux, requires_tmux

import sessions

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
DIST_INFO = f"sessions_tui-{sessions.__version__}.dist-info"
NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    "__pycache__",
    "*.pyc",
    "*.egg-info",
    "build",
    "dist",
    ".venv",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
    ".work",
    "snapshot_report.html",
)
# A user's own modules, named as ours were once: importing any of them is a failure.
USERS_OWN = {
    "core/__init__.py": "raise ImportError('the user\\'s own core/ package was imported')\n",
    "core/api.py": "def helper():\n    return 'the user\\'s'\n",
    "tui/__init__.py": "raise ImportError('the user\\'s own tui/ package was imported')\n",
    "daemon.py": "raise ImportError('the user\\'s own daemon.py was imported')\n",
}


# --- the source tree ------------------------------------------------------------------


def _package_dirs() -> dict[str, Path]:
    setuptools = PYPROJECT["tool"]["setuptools"]
    return {name: ROOT / folder for name, folder in setuptools["package-dir"].items()}


def test_every_package_folder_is_declared() -> None:
    """A new subpackage is listed in pyproject.toml, or the wheel would lack it."""
    declared = set(PYPROJECT["tool"]["setuptools"]["packages"])
    mapped = _package_dirs()
    assert set(mapped) == declared
    top_folders = {name: folder for name, folder in mapped.items() if name.count(".") <= 1}
    found = set()
    for name, folder in top_folders.items():
        for init in folder.rglob("__init__.py"):
            if "__pycache__" in init.parts:
                continue
            rel = init.parent.relative_to(folder).parts
            found.add(".".join((name, *rel)))
    assert found == declared
    for name, folder in mapped.items():
        assert (folder / "__init__.py").is_file(), f"{name} maps to {folder}"


# --- the built distribution -----------------------------------------------------------


@dataclass(frozen=True)
class Built:
    sdist: Path
    wheel: Path
    log: str


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    kwargs.setdefault("timeout", 600)
    return subprocess.run(args, capture_output=True, text=True, check=False, **kwargs)


def _backend(hook: str, out: Path, cwd: Path) -> tuple[Path, str]:
    """Run one PEP 517 hook of setuptools (this environment's: no build isolation)."""
    code = f"import setuptools.build_meta as b; print(b.{hook}({str(out)!r}))"
    done = _run([sys.executable, "-W", "default", "-c", code], cwd=cwd)
    assert done.returncode == 0, done.stdout + done.stderr
    return out / done.stdout.strip().splitlines()[-1], done.stdout + done.stderr


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    import setuptools
    from packaging.requirements import Requirement
    from packaging.version import Version

    for requirement in map(Requirement, PYPROJECT["build-system"]["requires"]):
        if requirement.name == "setuptools":
            assert Version(setuptools.__version__) in requirement.specifier, (
                f"setuptools {setuptools.__version__} here; the build needs {requirement}"
            )
    work = tmp_path_factory.mktemp("build")
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    out = work / "dist"
    out.mkdir()
    sdist, sdist_log = _backend("build_sdist", out, source)
    with tarfile.open(sdist) as tar:
        try:
            tar.extractall(work / "unpacked", filter="data")
        except TypeError:  # pragma: no cover - a Python without extraction filters
            tar.extractall(work / "unpacked")
    (unpacked,) = (work / "unpacked").iterdir()
    wheel, wheel_log = _backend("build_wheel", out, unpacked)
    return Built(sdist, wheel, sdist_log + wheel_log)


def _wheel_files(built: Built) -> list[str]:
    with zipfile.ZipFile(built.wheel) as whl:
        record = whl.read(f"{DIST_INFO}/RECORD").decode()
    return [line.rsplit(",", 2)[0] for line in record.splitlines() if line]


def test_the_wheel_installs_one_import_name_sessions(built: Built) -> None:
    files = _wheel_files(built)
    top = {path.split("/")[0] for path in files} - {DIST_INFO}
    assert top == {"sessions"}, sorted(top)
    with zipfile.ZipFile(built.wheel) as whl:
        assert whl.read(f"{DIST_INFO}/top_level.txt").decode().split() == ["sessions"]
        assert sorted(whl.namelist()) == sorted(files)


def test_the_wheel_carries_every_file_of_the_packages(built: Built) -> None:
    """Stylesheets, help text, py.typed: whatever lies in a package folder is read at run time
    by someone, and is installed."""
    expected = set()
    for name, folder in _package_dirs().items():
        for path in folder.iterdir():
            if path.is_file() and path.suffix != ".pyc":
                expected.add(f"{name.replace('.', '/')}/{path.name}")
    installed = set(_wheel_files(built))
    assert expected - installed == set()
    assert {"sessions/py.typed", "sessions/core/py.typed", "sessions/tui/app.tcss"} <= installed


def test_the_metadata_says_what_it_is_and_under_which_license(built: Built) -> None:
    with zipfile.ZipFile(built.wheel) as whl:
        meta = email.parser.Parser().parsestr(whl.read(f"{DIST_INFO}/METADATA").decode())
        license_text = whl.read(f"{DIST_INFO}/licenses/LICENSE").decode()
        entry_points = whl.read(f"{DIST_INFO}/entry_points.txt").decode()
    assert meta["Name"] == "sessions-tui" and meta["Version"] == sessions.__version__
    assert meta["License-Expression"] == "MIT" and meta["License-File"] == "LICENSE"
    assert license_text == (ROOT / "LICENSE").read_text() and "MIT License" in license_text
    classifiers = meta.get_all("Classifier")
    assert "Typing :: Typed" in classifiers and "Framework :: Jupyter" in classifiers
    assert not [c for c in classifiers if c.startswith("License ::")]  # the expression says it
    assert meta["Requires-Python"] == PYPROJECT["project"]["requires-python"]
    assert "sessions-tui = sessions.tui.cli:main" in entry_points
    assert not re.search("deprecat", built.log, re.IGNORECASE), built.log


def test_the_sdist_holds_what_the_wheel_is_built_from(built: Built) -> None:
    with tarfile.open(built.sdist) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    assert {"LICENSE", "README.md", "pyproject.toml", "tui/app.tcss", "sessions/py.typed"} <= names


# --- installed into a fresh venv ------------------------------------------------------


@dataclass(frozen=True)
class Installed:
    venv: Path
    project: Path  # the user's own project dir: cwd of everything below
    home: Path  # HOME: user data, cache, config and log dirs all land under it
    env: dict[str, str]

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def run(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        done = _run(list(args), cwd=cwd or self.project, env=self.env)
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def python(self, code: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return self.run(str(self.bin / "python"), "-c", textwrap.dedent(code), cwd=cwd)


def _user_env(venv: Path, home: Path) -> dict[str, str]:
    """This machine's environment with nothing of this test run's: another HOME, no venv of
    ours, no Sessions or Jupyter dirs, no PYTHONPATH."""
    drop = ("SESSIONS_", "XDG_", "JUPYTER_", "IPYTHON", "PYTHON", "VIRTUAL_ENV", "PIP_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(
        HOME=str(home),
        PATH=os.pathsep.join([str(venv / "bin"), "/usr/local/bin", "/usr/bin", "/bin"]),
        TERM="xterm-256color",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


@pytest.fixture(scope="module")
def installed(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    work = tmp_path_factory.mktemp("installed")
    venv = work / "venv"
    done = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    assert done.returncode == 0, done.stderr
    pip_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = _run(
        [
            *(sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python")),
            *("install", "--no-compile", "--progress-bar", "off"),
            f"{built.wheel}[demo]",
            "python-daemon",
            "ipython",
        ],
        env=pip_env,
        cwd=work,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    project = work / "project"
    for name, text in USERS_OWN.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    home = work / "home"
    home.mkdir()
    return Installed(venv, project, home, _user_env(venv, home))


def test_import_sessions_beside_a_users_core_tui_and_daemon(installed: Installed) -> None:
    done = installed.python(
        """
        import json, sys, sessions
        import sessions.core.api, sessions.tui.app, sessions.daemon.client, sessions.kernels.magics
        print(json.dumps([sessions.__file__, sys.path[0], sorted(
            m for m in sys.modules if m.split(".")[0] in ("core", "tui", "daemon", "kernels")
        )]))
        """
    )
    assert done.returncode == 0, done.stderr
    where, first_on_path, strays = json.loads(done.stdout)
    assert Path(where).is_relative_to(installed.venv) and "site-packages" in where
    assert first_on_path == ""  # the user's dir was first on sys.path, as in a notebook
    assert strays == []
    version = installed.run("sessions-tui", "--version")
    assert version.returncode == 0 and version.stdout.startswith(
        f"sessions-tui {sessions.__version__} (Python "
    )


def test_save_and_load_a_session_with_the_installed_wheel(installed: Installed) -> None:
    script = installed.project / "analysis.py"
    script.write_text(
        textwrap.dedent(
            """
            import numpy as np
            import sessions

            class Model:
                def __init__(self, w):
                    self.w = w
                def predict(self, x):
                    return self.w * x

            def scale(x):
                return 3 * x

            weights = np.arange(100_000, dtype=np.float64)
            model = Model(2.5)
            table = {"a": [1, 2, 3]}
            result = sessions.save("analysis", note="from the wheel")
            print(len(result.saved), sorted(result.skipped))
            """
        )
    )
    saved = installed.run(str(installed.bin / "python"), str(script))
    assert saved.returncode == 0, saved.stderr
    loaded = installed.python(
        """
        import numpy as np, sessions
        report = sessions.load("analysis")
        assert not report.failed, report.failed
        assert np.array_equal(weights, np.arange(100_000, dtype=np.float64))
        assert model.predict(2) == 5.0 and type(model) is Model and scale(2) == 6
        assert table == {"a": [1, 2, 3]}
        print("ok")
        """
    )
    assert loaded.returncode == 0 and loaded.stdout == "ok\n", loaded.stderr
    for command in (["ls"], ["show", "analysis"], ["verify"]):
        done = installed.run("sessions-tui", *command)
        assert done.returncode == 0, done.stderr
    assert "from the wheel" in installed.run("sessions-tui", "ls").stdout


def test_snapshots_saved_before_the_rename_load_from_the_wheel(installed: Installed) -> None:
    """Streams written by 0.1 name its flat ``core`` package: they load through the installed
    ``sessions.core``, never the user's ``core/`` in the working dir (which would raise). The
    fixture's DataFrame holds Arrow strings, and pyarrow is not installed here: that one
    variable is reported, naming what it needs, and the rest loads."""
    home = installed.home / "format1"
    shutil.copytree(ROOT / "tests" / "fixtures" / "store-format1", home)
    home.chmod(0o700)
    done = installed.python(
        f"""
        import json, sessions
        report = sessions.load("fixture", home={str(home)!r}, trust=True)
        assert triple(2) == 6 and model.predict(2) == 5.0 and pair[0] is pair[1]
        assert text == "hello, format 1" and weights.sum() == sum(range(200_000))
        print(json.dumps(report.failed))
        """
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"frame": "ModuleNotFoundError: No module named 'pyarrow'"}


def test_the_ipython_extension_loads_and_saves(installed: Installed) -> None:
    cells = installed.project / "cells.ipy"
    cells.write_text("%load_ext sessions\nanswer = 42\n%sessions save from-ipython\n")
    done = installed.run(str(installed.bin / "ipython"), "--quick", "--no-banner", str(cells))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "from-ipython@1" in done.stdout
    loaded = installed.python("import sessions\nsessions.load('from-ipython')\nprint(answer)\n")
    assert loaded.stdout == "42\n", loaded.stderr


@requires_tmux
def test_the_demo_opens_in_a_terminal(installed: Installed) -> None:
    term = Tmux(["sessions-tui", "demo"], installed.env, cwd=str(installed.project))
    try:
        screen = term.wait("legacy-experiment.pkl", timeout=180)  # the demo is built first
        screen = term.wait("Preview")
        assert "Sessions — ~/.cache/sessions-tui/demo" in screen
        assert "churn-analysis@2" in screen and "demo-model@1" in screen
        assert "Traceback" not in screen and "Error" not in screen
        term.keys("q")
        term.wait("APP-EXITED-0")
    finally:
        term.close()


def test_the_daemon_runs_from_the_wheel(installed: Installed) -> None:
    """Started from the user's dir, the daemon runs the installed package (its cwd is not the
    user's dir), and the login units need no PYTHONPATH."""
    started = installed.run("sessions-tui", "daemon", "start")
    try:
        assert started.returncode == 0, started.stderr
        status = installed.run("sessions-tui", "daemon", "status", "--json")
        assert status.returncode == 0, status.stderr
        info = json.loads(status.stdout)
        assert info["running"] and info["version"] == sessions.__version__
        assert os.readlink(f"/proc/{info['pid']}/cwd") == "/"
    finally:
        stopped = installed.run("sessions-tui", "daemon", "stop")
    assert stopped.returncode == 0 and "daemon stopped" in stopped.stdout
    units = installed.run("sessions-tui", "daemon", "install", "--dry-run")
    assert units.returncode == 0, units.stderr
    assert "PYTHONPATH" not in units.stdout
    assert f"{installed.bin / 'python'} -m sessions.daemon run" in units.stdout


def test_pip_check_and_python_daemon_keeps_its_files(installed: Installed) -> None:
    check = _run([sys.executable, "-m", "pip", "--python", str(installed.bin / "python"), "check"])
    assert check.returncode == 0, check.stdout + check.stderr
    done = installed.python(  # from the venv, not the user's dir (their daemon.py shadows)
        """
        import json, daemon
        from importlib.metadata import distribution
        ours = {str(f) for f in distribution("sessions-tui").files}
        theirs = {str(f) for f in distribution("python-daemon").files}
        print(json.dumps([daemon.__file__, daemon.DaemonContext.__name__, sorted(ours & theirs)]))
        """,
        cwd=installed.venv,
    )
    assert done.returncode == 0, done.stderr
    where, context, shared = json.loads(done.stdout)
    assert where.endswith("site-packages/daemon/__init__.py") and context == "DaemonContext"
    assert shared == []  # uninstalling one can never delete the other's files
