"""Reading the small TOML files Sessions keeps in the config dir (config, trust, remotes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sessions.core.errors import SessionsError


def _tomllib() -> Any:
    """The TOML parser, imported when first needed: most processes never read a TOML file
    (a load of your own snapshot needs none)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    return tomllib


def __getattr__(name: str) -> Any:
    """``tomllib``, the parser this module reads with, for callers that parse text."""
    if name == "tomllib":
        return _tomllib()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    tomllib = _tomllib()
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path} is not valid TOML: {exc}") from None


def quote(value: str) -> str:
    """``value`` as a TOML basic string."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
