"""The schema of ``config.toml``: one pydantic model per table, strict and closed.

Strict: an integer is an integer (not ``2.0``, not ``true``), a list is a list (a string is not
read character by character). Closed: a key the schema does not know is an error, not ignored.
Numbers are finite and within ranges that make sense for what they control. Imported only when
a config file is read (pydantic costs ~75 ms to import; ``import sessions`` must not pay it).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

MINUTES_PER_YEAR = 60 * 24 * 366

# A key as Textual names it ("r", "ctrl+r", "question_mark", "?"), or several separated by ",".
KeySpec = Annotated[str, StringConstraints(pattern=r"^[^\s,]{1,32}(,[^\s,]{1,32}){0,7}$")]
Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


class Table(BaseModel):
    """A closed table: unknown keys, wrong types and non-finite numbers are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


class DaemonTable(Table):
    extra_dirs: list[Annotated[str, StringConstraints(min_length=1, max_length=4096)]] = Field(
        default_factory=list, max_length=64
    )

    @field_validator("extra_dirs")
    @classmethod
    def _absolute(cls, dirs: list[str]) -> list[str]:
        for entry in dirs:
            if "\0" in entry:
                raise ValueError(f"{entry!r} is not a path")
            if not (entry.startswith("/") or entry.startswith("~")):
                raise ValueError(f"{entry!r} should be absolute (start with / or ~)")
            if entry.rstrip("/") == "":
                raise ValueError("'/' would watch the whole filesystem")
        return dirs


class RetentionTable(Table):
    keep_last: int | None = Field(None, ge=1, le=1_000_000)
    keep_last_per_origin: int | None = Field(None, ge=1, le=1_000_000)
    max_total_mb: float | None = Field(None, gt=0, le=1e9)  # up to a petabyte
    max_age_days: float | None = Field(None, gt=0, le=36_600)  # up to a century
    interval_minutes: float = Field(60.0, ge=1, le=MINUTES_PER_YEAR)


class TuiTable(Table):
    theme: Name | None = None
    keys: dict[Annotated[str, StringConstraints(max_length=64)], KeySpec] = Field(
        default_factory=dict, max_length=256
    )


class ShareTable(Table):
    owner: Name | None = None
    export_dir: Annotated[str, StringConstraints(min_length=1, max_length=4096)] | None = None

    @field_validator("export_dir")
    @classmethod
    def _a_directory_path(cls, entry: str | None) -> str | None:
        if entry is not None:
            if "\0" in entry:
                raise ValueError(f"{entry!r} is not a path")
            if not (entry.startswith("/") or entry.startswith("~")):
                raise ValueError(f"{entry!r} should be absolute (start with / or ~)")
        return entry


class AutoTable(Table):
    enabled: bool = False
    after_seconds: float | None = Field(None, ge=0, le=MINUTES_PER_YEAR * 60)
    every_minutes: float | None = Field(None, gt=0, le=MINUTES_PER_YEAR)
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None


class CacheTable(Table):
    max_mb: float | None = Field(None, gt=0, le=1e9)  # cached results, least recently used go


class RunTable(Table):
    checkpoint_after_seconds: float = Field(10.0, ge=0, le=MINUTES_PER_YEAR * 60)


TABLES: dict[str, type[Table]] = {
    "daemon": DaemonTable,
    "retention": RetentionTable,
    "tui": TuiTable,
    "share": ShareTable,
    "auto": AutoTable,
    "cache": CacheTable,
    "run": RunTable,
}
