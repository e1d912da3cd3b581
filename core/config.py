"""User configuration: ``config.toml`` in the platformdirs config dir of sessions-tui.

    [daemon]
    extra_dirs = ["~/shared/sessions"]     # more dirs to watch for dill files

    [retention]                            # all optional; nothing is removed unless set
    keep_last = 20                         # per snapshot name
    keep_last_per_origin = 50              # per script / notebook / kernel
    max_total_mb = 20000                   # newest kept first
    max_age_days = 90
    interval_minutes = 60                  # how often the daemon applies it

    [tui]
    theme = "textual-dark"
    [tui.keys]
    restore = "r"                          # action id = key(s)

A missing or unreadable file means defaults; a bad value is reported, not fatal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sessions.core.errors import SessionsError
from sessions.core.paths import config_dir
from sessions.core.tomlfile import read_toml


@dataclass(frozen=True)
class RetentionPolicy:
    keep_last: int | None = None
    keep_last_per_origin: int | None = None
    max_total_bytes: int | None = None
    max_age_days: float | None = None
    interval_minutes: float = 60.0

    @property
    def active(self) -> bool:
        return any(
            v is not None
            for v in (
                self.keep_last,
                self.keep_last_per_origin,
                self.max_total_bytes,
                self.max_age_days,
            )
        )


@dataclass(frozen=True)
class AutoPolicy:
    """Automatic snapshots in IPython/Jupyter (``[auto]``; applied by the extension)."""

    after: float | None = 60.0  # seconds a cell must run to trigger a save
    every: float | None = None  # minutes between saves when something changed
    name: str | None = None  # snapshot name (default: the notebook's)

    def describe(self) -> str:
        parts = []
        if self.after is not None:
            parts.append(f"after cells of {self.after:g} s or more")
        if self.every is not None:
            parts.append(f"every {self.every:g} min when something changed")
        return " and ".join(parts) or "never (no trigger set)"


@dataclass(frozen=True)
class Config:
    extra_dirs: tuple[Path, ...] = ()
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    theme: str | None = None
    keys: dict[str, str] = field(default_factory=dict)
    owner: str | None = None  # [share] owner: the name pushes are published under
    auto: AutoPolicy | None = None  # [auto] enabled = true
    problems: tuple[str, ...] = ()


def config_path() -> Path:
    return config_dir() / "config.toml"


def _number(section: dict[str, Any], key: str, problems: list[str]) -> float | None:
    value = section.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        problems.append(f"config: {key} should be a non-negative number")
        return None
    return value


def _section(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key)
    return value if isinstance(value, dict) else {}


def load_config(path: Path | None = None) -> Config:
    path = path or config_path()
    try:
        raw = read_toml(path)
    except SessionsError as exc:  # a broken config is reported, never fatal
        return Config(problems=(f"config: {exc}".splitlines()[0],))
    problems: list[str] = []
    daemon = _section(raw, "daemon")
    retention = _section(raw, "retention")
    tui = _section(raw, "tui")
    share = _section(raw, "share")
    auto_section = _section(raw, "auto")
    auto = None
    if auto_section.get("enabled") is True:
        after = _number(auto_section, "after_seconds", problems)
        every = _number(auto_section, "every_minutes", problems)
        name = auto_section.get("name")
        auto = AutoPolicy(
            after=after if after is not None else (60.0 if every is None else None),
            every=every,
            name=name if isinstance(name, str) else None,
        )
    extra = tuple(
        Path(str(p)).expanduser() for p in daemon.get("extra_dirs", []) if isinstance(p, str)
    )
    keep_last = _number(retention, "keep_last", problems)
    per_origin = _number(retention, "keep_last_per_origin", problems)
    total_mb = _number(retention, "max_total_mb", problems)
    policy = RetentionPolicy(
        keep_last=int(keep_last) if keep_last is not None else None,
        keep_last_per_origin=int(per_origin) if per_origin is not None else None,
        max_total_bytes=int(total_mb * 1024 * 1024) if total_mb is not None else None,
        max_age_days=_number(retention, "max_age_days", problems),
        interval_minutes=_number(retention, "interval_minutes", problems) or 60.0,
    )
    keys: dict[str, Any] = tui["keys"] if isinstance(tui.get("keys"), dict) else {}
    return Config(
        extra_dirs=extra,
        retention=policy,
        theme=tui.get("theme") if isinstance(tui.get("theme"), str) else None,
        keys={str(k): str(v) for k, v in keys.items()},
        owner=share.get("owner") if isinstance(share.get("owner"), str) else None,
        auto=auto,
        problems=tuple(problems),
    )
