"""Reading the small TOML files Sessions keeps in the config dir (config, trust, remotes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sessions.core.errors import SessionsError


def read_toml(path: Path, error: type[SessionsError] = SessionsError) -> dict[str, Any]:
    """The table in ``path``; empty when the file does not exist. Unreadable or invalid
    files raise ``error`` with a one-line message naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise error(f"{path} is not UTF-8 text") from None
    try:  # imported here: most processes never read a TOML file (a load of your own needs none)
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path} is not valid TOML: {exc}") from None


def quote(value: str) -> str:
    """``value`` as a TOML basic string."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
