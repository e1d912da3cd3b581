"""Starting the daemon at login: a systemd user unit (Linux), a launchd LaunchAgent
(macOS), or a Startup-folder script (Windows)."""

from __future__ import annotations

import os
import plistlib
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from sessions.daemon.paths import key, log_path, service_pythonpath

UNIT_NAME = "sessions-tui-daemon"
LABEL = "io.github.sessions-tui.daemon"


@dataclass(frozen=True)
class ServiceFile:
    target: str  # "systemd", "launchd" or "windows"
    path: Path
    text: str


def _argv(root: Path) -> list[str]:
    return [sys.executable, "-m", "sessions.daemon", "run", "--home", str(root)]


def _suffix(root: Path) -> str:
    return f"-{key(root)}" if os.environ.get("SESSIONS_HOME") else ""


def systemd_unit(root: Path) -> ServiceFile:
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    path = config / "systemd" / "user" / f"{UNIT_NAME}{_suffix(root)}.service"
    exec_start = " ".join(_systemd_quote(a) for a in _argv(root))
    pythonpath = service_pythonpath()
    environment = (
        f"Environment={_systemd_quote('PYTHONPATH=' + pythonpath)}\n" if pythonpath else ""
    )
    text = (
        "[Unit]\n"
        f"Description=Sessions snapshot daemon for {root}\n"
        "After=default.target\n"
        "\n"
        "[Service]\n"
        "Type=simple\n"
        f"ExecStart={exec_start}\n"
        f"{environment}"
        "Restart=on-failure\n"
        "RestartSec=5\n"
        "\n"
        "[Install]\n"
        "WantedBy=default.target\n"
    )
    return ServiceFile("systemd", path, text)


def _systemd_quote(arg: str) -> str:
    if arg and all(c.isalnum() or c in "/._-=:@+," for c in arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def launchd_plist(root: Path) -> ServiceFile:
    path = Path.home() / "Library" / "LaunchAgents" / f"{LABEL}{_suffix(root)}.plist"
    data: dict[str, object] = {
        "Label": f"{LABEL}{_suffix(root)}",
        "ProgramArguments": _argv(root),
        "RunAtLoad": True,
        "KeepAlive": True,
        "ProcessType": "Background",
        "StandardErrorPath": str(log_path(root).with_suffix(".stderr.log")),
    }
    pythonpath = service_pythonpath()
    if pythonpath:
        data["EnvironmentVariables"] = {"PYTHONPATH": pythonpath}
    return ServiceFile("launchd", path, plistlib.dumps(data).decode())


def windows_startup(root: Path) -> ServiceFile:
    appdata = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    path = appdata / "Microsoft" / "Windows" / "Start Menu" / "Programs" / "Startup"
    path = path / f"{UNIT_NAME}{_suffix(root)}.cmd"
    pythonw = str(Path(sys.executable).with_name("pythonw.exe"))
    args = " ".join(f'"{a}"' for a in _argv(root)[1:])
    text = f'@echo off\r\nstart "" /min "{pythonw}" {args}\r\n'
    return ServiceFile("windows", path, text)


def for_platform(root: Path) -> ServiceFile:
    if sys.platform == "darwin":
        return launchd_plist(root)
    if sys.platform.startswith("win"):
        return windows_startup(root)
    return systemd_unit(root)


def all_files(root: Path) -> list[ServiceFile]:
    return [systemd_unit(root), launchd_plist(root), windows_startup(root)]


def _activate(service: ServiceFile) -> str:
    """Try to enable the installed file now; returns what happened, in one line."""
    if service.target == "systemd" and shutil.which("systemctl"):
        commands = [
            ["systemctl", "--user", "daemon-reload"],
            ["systemctl", "--user", "enable", "--now", service.path.name],
        ]
    elif service.target == "launchd" and shutil.which("launchctl"):
        commands = [["launchctl", "load", "-w", str(service.path)]]
    else:
        return "it starts at your next login"
    for command in commands:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            reason = (done.stderr or done.stdout).strip().splitlines()
            return f"could not enable it now ({shlex.join(command)}: {reason[0] if reason else done.returncode}); it starts at your next login"
    return "enabled and started"


def install(root: Path) -> tuple[ServiceFile, str]:
    service = for_platform(root)
    service.path.parent.mkdir(parents=True, exist_ok=True)
    service.path.write_text(service.text)
    return service, _activate(service)


def uninstall(root: Path) -> ServiceFile | None:
    service = for_platform(root)
    if not service.path.exists():
        return None
    if service.target == "systemd" and shutil.which("systemctl"):
        subprocess.run(
            ["systemctl", "--user", "disable", "--now", service.path.name],
            capture_output=True,
            check=False,
        )
    elif service.target == "launchd" and shutil.which("launchctl"):
        subprocess.run(
            ["launchctl", "unload", "-w", str(service.path)], capture_output=True, check=False
        )
    service.path.unlink()
    return service
