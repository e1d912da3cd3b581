"""Version numbers and sizes that say what they are: a push keeps the local version number
where the remote has no conflict and says how they relate where it has; sizes are binary
units labelled as such and name what they measure."""

from __future__ import annotations

from pathlib import Path

from sessions.core.engine.save import save
from sessions.core.sharing.remote import Remote, RemoteConfig, remote_version
from sessions.core.store.session_dir import Store
from sessions.core.units import human_size


def test_a_push_keeps_the_local_version_number_unless_the_remote_is_ahead(
    home: Path, tmp_path: Path
) -> None:
    store = Store(home)
    save({"n": 1}, store=store, name="big")
    save({"n": 2}, store=store, name="big")
    remote = Remote(RemoteConfig("team", str(tmp_path / "remote")))
    remote.init()
    pushed = remote.push(store, "big@2", owner="alice")
    assert pushed.ref == "alice/big@2" and not pushed.renumbered  # local big@2 stays @2
    assert "\n" not in str(pushed)  # nothing to explain
    earlier = remote.push(store, "big@1", owner="alice")  # older than what is there
    assert earlier.ref == "alice/big@3"
    assert "local big@1 is alice/big@3 there" in str(earlier)
    assert remote_version(5, []) == (5, False)
    assert remote_version(2, [1, 4]) == (5, True)


def test_sizes_are_binary_units_labelled_as_such() -> None:
    assert human_size(512) == "512 B"
    assert human_size(1536) == "1.5 KiB"
    assert human_size(1 << 30) == "1.0 GiB"
    assert human_size(None) == "-"


def test_a_save_says_what_it_stored_and_what_it_wrote(home: Path) -> None:
    result = save({"n": 1}, store=Store(home), name="tiny")
    text = str(result)
    assert f"{human_size(result.stored)} stored" in text
    assert f"{human_size(result.written)} written (manifest included)" in text
