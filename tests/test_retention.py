"""Retention keeps the newest snapshots by its rules and never removes a pinned one."""

from __future__ import annotations

from pathlib import Path

from conftest import cli
from synth import make_snapshots


def test_gc_policy_keeps_last_n_per_name_and_pinned(
    home: Path, tmp_path: Path, monkeypatch
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "config.toml").write_text("[retention]\nkeep_last = 2\n")
    monkeypatch.setenv("SESSIONS_CONFIG_DIR", str(config))
    made = make_snapshots(home, 10, names=2)  # five versions each of two names
    from sessions.core.store import annotation
    from sessions.core.store.session_dir import Store

    oldest = made[0]
    annotation.write(home, oldest, annotation.Annotation(pinned=True))
    done = cli(home, "gc", "--policy")
    assert done.returncode == 0, done.stderr
    remaining = {i for _, i, _ in Store(home).manifest_files()}
    assert oldest in remaining, "a pinned snapshot is never removed"
    assert remaining == {oldest, *made[-4:]}
    assert done.stdout.count("removed synthetic-") == 5
    assert "more than 2 versions" in done.stdout
    assert cli(home, "verify").returncode == 0


def test_no_policy_removes_nothing(home: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SESSIONS_CONFIG_DIR", str(tmp_path / "none"))
    make_snapshots(home, 4, names=1)
    done = cli(home, "gc", "--policy")
    assert done.returncode == 0 and "no retention policy" in done.stdout
    from sessions.core.store.session_dir import Store

    assert len(list(Store(home).manifest_files())) == 4
