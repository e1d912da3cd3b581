"""User configuration: ``config.toml`` in the platformdirs config dir of sessions-tui.

    [daemon]
    extra_dirs = ["~/shared/sessions"]     # more dirs to watch for dill files (absolute or ~)

    [retention]                            # all optional; nothing is removed unless set
    keep_last = 20                         # per snapshot name (>= 1)
    keep_last_per_origin = 50              # per script / notebook / kernel (>= 1)
    max_total_mb = 20000                   # newest kept first
    max_age_days = 90
    interval_minutes = 60                  # how often the daemon applies it (>= 1)

    [tui]
    theme = "textual-dark"                 # saved here when chosen in the command palette
    [tui.keys]
    restore = "r"                          # action id = key(s), "a,b" for several

    [share]
    owner = "alice"                        # the name pushes are published under
    export_dir = "~/shared/bundles"        # where the UI offers to write bundles (absolute or ~)

    [auto]                                 # automatic snapshots in IPython / Jupyter
    enabled = true
    after_seconds = 60
    every_minutes = 10
    name = "analysis"

Every table is checked against a schema (``config_schema.py``): unknown keys, wrong types,
NaN/inf and out-of-range numbers are errors. ``read_config`` raises ``ConfigError`` (one line:
file, key, problem) for the first of them; ``load_config`` never raises: a key with a problem
keeps its default and the problem lands in ``Config.problems`` for the caller to show.
A missing file means defaults.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sessions.core.errors import SessionsError
from sessions.core.paths import config_dir
from sessions.core.tomlfile import quote, read_toml


class ConfigError(SessionsError):
    """A config file that cannot be used: names the file, the key and the problem in one line."""

    def __init__(self, path: Path | None, key: str, problem: str) -> None:
        self.path = path
        self.key = key
        self.problem = problem
        where = f"{path}: " if path is not None else ""
        super().__init__(f"{where}{key + ': ' if key else ''}{problem}")


@dataclass(frozen=True)
class RetentionPolicy:
    keep_last: int | None = None
    keep_last_per_origin: int | None = None
    max_total_bytes: int | None = None
    max_age_days: float | None = None
    interval_minutes: float = 60.0
    cache_max_bytes: int | None = None  # [cache] max_mb: least recently used cache entries go

    @property
    def active(self) -> bool:
        return any(
            v is not None
            for v in (
                self.keep_last,
                self.keep_last_per_origin,
                self.max_total_bytes,
                self.max_age_days,
                self.cache_max_bytes,
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
    export_dir: Path | None = None  # [share] export_dir: where the UI offers to write bundles
    auto: AutoPolicy | None = None  # [auto] enabled = true
    cache_max_bytes: int | None = None  # [cache] max_mb: cached results beyond are evicted
    checkpoint_after: float = 10.0  # [run] checkpoint_after_seconds
    problems: tuple[str, ...] = ()  # one line each (file: key: problem); those tables are defaults
    source: Path | None = None  # the file this was read from (None: built in code)


def config_path() -> Path:
    return config_dir() / "config.toml"


_PATTERN_HINTS = {
    "theme": "should be a theme name: letters, digits, '.', '_' or '-', at most 64",
    "owner": "should be letters, digits, '.', '_' or '-', at most 64",
    "keys": "should be a key such as 'r', 'R' or 'ctrl+r' (several separated by ',')",
}


def _shown(value: Any) -> str:
    """A short, one-line rendering of a value read from TOML, for messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(value) if math.isfinite(value) else ("nan" if math.isnan(value) else "inf")
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "…"


def _key_path(table: str, loc: tuple[Any, ...]) -> str:
    out = table
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _problem(error: Mapping[str, Any], known: list[str]) -> str:
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        return f"unknown key (known here: {', '.join(known)})"
    if kind == "string_pattern_mismatch":
        field_name = next((p for p in error["loc"] if isinstance(p, str)), "")
        hint = _PATTERN_HINTS.get(field_name, "has characters that are not allowed")
        return f"{hint}, got {_shown(value)}"
    message = str(error["msg"])
    if message.startswith("Value error, "):
        return message.removeprefix("Value error, ")
    message = message.replace("Input should", "should").replace(
        "be a valid integer", "be an integer"
    )
    message = message.replace("be a valid ", "be a ")
    return f"{message}, got {_shown(value)}"


def _validate(raw: dict[str, Any], path: Path | None) -> tuple[dict[str, Any], list[ConfigError]]:
    """Each known table validated on its own (a bad one does not discard the others)."""
    from pydantic import ValidationError

    from sessions.core.config_schema import TABLES

    errors: list[ConfigError] = []
    tables: dict[str, Any] = {}
    for name in raw:
        if name not in TABLES:
            errors.append(
                ConfigError(path, name, f"unknown table or key (known: {', '.join(TABLES)})")
            )
    for name, model in TABLES.items():
        value = raw.get(name, {})
        if not isinstance(value, dict):
            errors.append(ConfigError(path, name, f"should be a table, got {_shown(value)}"))
            value = {}
        try:
            tables[name] = model.model_validate(value)
            continue
        except ValidationError as exc:
            known = list(model.model_fields)
            for error in exc.errors():
                loc = tuple(error["loc"])
                errors.append(ConfigError(path, _key_path(name, loc), _problem(error, known)))
            bad = {error["loc"][0] for error in exc.errors() if error["loc"]}
        try:  # the keys without problems still apply
            tables[name] = model.model_validate({k: v for k, v in value.items() if k not in bad})
        except ValidationError:
            tables[name] = model()
    return tables, errors


def _build(tables: dict[str, Any], errors: list[ConfigError], path: Path | None) -> Config:
    daemon, retention, tui = tables["daemon"], tables["retention"], tables["tui"]
    auto_table = tables["auto"]
    auto = None
    if auto_table.enabled:
        after = auto_table.after_seconds
        every = auto_table.every_minutes
        auto = AutoPolicy(
            after=after if after is not None else (60.0 if every is None else None),
            every=every,
            name=auto_table.name,
        )
    total_mb = retention.max_total_mb
    cache_mb = tables["cache"].max_mb
    policy = RetentionPolicy(
        keep_last=retention.keep_last,
        keep_last_per_origin=retention.keep_last_per_origin,
        max_total_bytes=int(total_mb * 1024 * 1024) if total_mb is not None else None,
        max_age_days=retention.max_age_days,
        interval_minutes=retention.interval_minutes,
        cache_max_bytes=int(cache_mb * 1024 * 1024) if cache_mb is not None else None,
    )
    return Config(
        extra_dirs=tuple(Path(d).expanduser() for d in daemon.extra_dirs),
        retention=policy,
        theme=tui.theme,
        keys=dict(tui.keys),
        owner=tables["share"].owner,
        export_dir=Path(tables["share"].export_dir).expanduser()
        if tables["share"].export_dir
        else None,
        auto=auto,
        cache_max_bytes=int(cache_mb * 1024 * 1024) if cache_mb is not None else None,
        checkpoint_after=tables["run"].checkpoint_after_seconds,
        problems=tuple(str(e) for e in errors),
        source=path,
    )


def read_config(path: Path | None = None) -> Config:
    """The config in ``path`` (default: ``config_path()``), checked against the schema.

    Raises ``ConfigError`` for the first problem (unreadable file, invalid TOML, unknown key,
    wrong type, non-finite or out-of-range number)."""
    path = path or config_path()
    try:
        raw = read_toml(path)
    except SessionsError as exc:
        raise ConfigError(None, "", str(exc).splitlines()[0]) from None
    tables, errors = _validate(raw, path)
    if errors:
        raise errors[0]
    return _build(tables, errors, path)


def load_config(path: Path | None = None) -> Config:
    """Like ``read_config`` but never raises: tables with problems fall back to their defaults
    and each problem is one line in ``Config.problems`` (a broken config must not stop a
    daemon or the UI; it must say what is wrong)."""
    path = path or config_path()
    try:
        raw = read_toml(path)
    except SessionsError as exc:
        return Config(problems=(str(exc).splitlines()[0],), source=path)
    tables, errors = _validate(raw, path)
    return _build(tables, errors, path)


def resolve_keys(config: Config, defaults: Mapping[str, str]) -> dict[str, str]:
    """The key remaps of ``config`` checked against the actions the caller offers
    (``{action id: default keys}``): ``{action id: keys}`` for the remapped actions.

    Raises ``ConfigError`` naming ``tui.keys.<id>`` for an unknown action id or for a key that
    another action already uses (remapping ``pin = "d"`` while Delete keeps ``d``)."""
    for action_id in config.keys:
        if action_id not in defaults:
            raise ConfigError(
                config.source,
                f"tui.keys.{action_id}",
                f"unknown action (actions: {', '.join(defaults)})",
            )
    taken: dict[str, str] = {}
    effective = {a: config.keys.get(a, keys) for a, keys in defaults.items()}
    # remapped actions last, so the message names the remap that collides
    order = [a for a in effective if a not in config.keys] + list(config.keys)
    for action_id in order:
        for key in effective[action_id].split(","):
            other = taken.get(key)
            if other is not None and other != action_id:
                culprit = action_id if action_id in config.keys else other
                victim = other if culprit == action_id else action_id
                raise ConfigError(
                    config.source,
                    f"tui.keys.{culprit}",
                    f"{key!r} is already the key of {victim}; remap {victim} too or pick another key",
                )
            taken[key] = action_id
    return dict(config.keys)


_TABLE_RE = re.compile(r"^\s*\[\s*([^\]\[]+?)\s*\]\s*(#.*)?$")
_THEME_RE = re.compile(r"^\s*theme\s*=")


def save_theme(theme: str, path: Path | None = None) -> Path:
    """Set ``[tui] theme`` in the config file, keeping everything else as written.

    The file is rewritten atomically (0600) and read back; if the edit would not give
    ``tui.theme == theme`` (an unusual layout such as an inline ``tui = {...}``), nothing is
    written and ``ConfigError`` says to edit the file by hand."""
    from sessions.core.store.atomic import ensure_dir, write_file

    path = path or config_path()
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", theme):
        raise ConfigError(path, "tui.theme", f"{_PATTERN_HINTS['theme']}, got {_shown(theme)}")
    try:
        read_toml(path)
        text = path.read_text(encoding="utf-8") if path.exists() else ""
    except (SessionsError, OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, "tui.theme", f"cannot save the theme: {exc}") from None
    lines = text.splitlines()
    setting = f"theme = {quote(theme)}"
    table: str | None = None
    header_at: int | None = None
    done = False
    for index, line in enumerate(lines):
        match = _TABLE_RE.match(line)
        if match:
            table = match.group(1).replace(" ", "")
            if table == "tui":
                header_at = index
            continue
        if table == "tui" and _THEME_RE.match(line):
            lines[index] = setting
            done = True
            break
    if not done:
        if header_at is not None:
            lines.insert(header_at + 1, setting)
        else:
            lines += (["", "[tui]"] if lines else ["[tui]"]) + [setting]
    new_text = "\n".join(lines) + "\n"
    from sessions.core.tomlfile import tomllib

    try:
        ok = tomllib.loads(new_text).get("tui", {}).get("theme") == theme
    except tomllib.TOMLDecodeError:
        ok = False
    if not ok:
        raise ConfigError(path, "tui.theme", "cannot save the theme here; edit the file by hand")
    ensure_dir(path.parent)
    write_file(path, [new_text.encode("utf-8")])
    return path


def render(config: Config) -> str:
    """The effective config as TOML (what ``sessions-tui config show`` prints); keys left at
    their defaults are shown commented out."""

    def line(key: str, value: Any, default: bool = False) -> str:
        if value is None:
            return f"# {key} = (not set)"
        if isinstance(value, bool):
            shown = "true" if value else "false"
        elif isinstance(value, str):
            shown = quote(value)
        elif isinstance(value, (list, tuple)):
            shown = "[" + ", ".join(quote(str(v)) for v in value) + "]"
        else:
            shown = f"{value:g}" if isinstance(value, float) else str(value)
        return f"{'# ' if default else ''}{key} = {shown}"

    r = config.retention
    total_mb = r.max_total_bytes / (1024 * 1024) if r.max_total_bytes is not None else None
    out = ["[daemon]", line("extra_dirs", [str(d) for d in config.extra_dirs])]
    out += ["", "[retention]", line("keep_last", r.keep_last)]
    out += [line("keep_last_per_origin", r.keep_last_per_origin), line("max_total_mb", total_mb)]
    out += [line("max_age_days", r.max_age_days), line("interval_minutes", r.interval_minutes)]
    out += ["", "[tui]", line("theme", config.theme), "", "[tui.keys]"]
    out += [line(k, v) for k, v in config.keys.items()]
    out += ["", "[share]", line("owner", config.owner)]
    out += [line("export_dir", str(config.export_dir) if config.export_dir else None)]
    out += ["", "[auto]"]
    auto = config.auto
    out.append(line("enabled", auto is not None))
    if auto is not None:
        out += [line("after_seconds", auto.after), line("every_minutes", auto.every)]
        out.append(line("name", auto.name))
    cache_mb = config.cache_max_bytes / (1024 * 1024) if config.cache_max_bytes else None
    out += ["", "[cache]", line("max_mb", cache_mb)]
    out += ["", "[run]", line("checkpoint_after_seconds", config.checkpoint_after)]
    return "\n".join(out) + "\n"
