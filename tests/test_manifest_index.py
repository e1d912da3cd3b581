"""Manifests of schema 2: a signed head indexing checksummed sections.

A load reads only the sections it needs (one variable: its name bucket and its group's chunk),
every section it reads is checked against the digest the signed head names, and bytes from a
damaged or hostile file are one clear error, never a crash or an unchecked read."""

from __future__ import annotations

import random
import zlib
from pathlib import Path

import msgpack
import pytest
from conftest import cli, run_json, run_python

from sessions.core.errors import FormatError, SessionsError
from sessions.core.store.manifest import Manifest
from sessions.core.store.manifest_index import CHUNK, ManifestIndex, encode

MANY = """
import sessions
for i in range(5000):
    globals()[f"v{i}"] = (i, f"value-{i}", [i, i + 1])[i % 3]
shared = [1, 2, 3]
a, b = {"s": shared}, {"s": shared}      # one group of two, sharing a list
sessions.save("many", note="five thousand")
"""


def _manifest(home: Path) -> Path:
    (path,) = (home / "snapshots").rglob("*.msgpack")
    return path


def _sections(path: Path) -> tuple[int, dict]:
    """(where the body starts in the file, the head's section table)."""
    data = path.read_bytes()
    outer = msgpack.unpackb(data)
    head = msgpack.unpackb(outer["head"])
    return data.index(outer["body"]), head["sections"]


def test_a_one_variable_load_reads_only_its_bucket_and_its_group(home: Path) -> None:
    run_python(home, MANY)
    path = _manifest(home)
    body, sections = _sections(path)
    assert len(sections["names"]) == -(-5004 // CHUNK) and len(sections["groups"]) > 1
    wanted = ("v123", "shared", "a", "b")
    mine = {zlib.crc32(n.encode()) % len(sections["names"]) for n in wanted}
    assert len(mine) < len(sections["names"])
    data = bytearray(path.read_bytes())
    # damage every name bucket but those of v123 and of a's group, and the variables section
    # (what listings read, never a load)
    for number, (offset, length, _) in enumerate(sections["names"]):
        if number not in mine:
            data[body + offset + length // 2] ^= 0xFF
    offset, length, _ = sections["variables"][0]
    data[body + offset + length // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    got = run_json(
        home,
        """
        import json, sessions
        ns = {}
        report = sessions.load("many", names=["v123", "a"], namespace=ns)
        print(json.dumps([report.loaded, report.failed, sorted(ns), ns["a"]["s"] is ns["b"]["s"]]))
        """,
    )
    # v123 alone from its batch; a with b and shared, which share a list
    assert got == [["v123", "shared", "a", "b"], {}, ["a", "b", "shared", "v123"], True]
    listed = cli(home, "ls")
    assert listed.returncode == 0 and "DAMAGED" in listed.stdout
    assert "damaged manifest" in cli(home, "verify").stdout


def test_a_full_load_reads_every_group_and_no_name_bucket(home: Path) -> None:
    run_python(home, MANY)
    path = _manifest(home)
    body, sections = _sections(path)
    data = bytearray(path.read_bytes())
    # name buckets and variable records are what partial loads and listings read: a full
    # load binds every group's members and needs neither
    for kind in ("names", "variables"):
        for offset, length, _ in sections[kind]:
            data[body + offset + length // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    got = run_json(
        home,
        """
        import json, sessions
        ns = {}
        report = sessions.load("many", namespace=ns)
        same = ns["a"]["s"] is ns["b"]["s"]
        print(json.dumps([len(report.loaded), report.failed, ns["v4999"], same]))
        """,
    )
    assert got == [5004, {}, "value-4999", True]  # with the loop variable i
    # a flipped byte in a group chunk, which a full load does read: one line naming the snapshot
    offset, length = sections["groups"][-1][:2]
    data[body + offset + length // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    done = run_python(home, "import sessions\nsessions.load('many')\n", check=False)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("sessions.core.errors.FormatError: snapshot many@1 is damaged")
    assert "'groups' section does not match its checksum" in last


def test_a_changed_byte_in_the_head_fails_the_signature(home: Path) -> None:
    run_python(home, MANY)
    path = _manifest(home)
    data = path.read_bytes()
    at = data.index(b"five thousand")
    path.write_bytes(data[:at] + b"FIVE" + data[at + 4 :])
    done = run_python(home, "import sessions\nsessions.load('many', names=['v1'])\n", check=False)
    assert done.returncode != 0 and "does not match its signature" in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("sessions.core.sharing.signing.")


def test_the_head_alone_answers_what_listings_need(home: Path) -> None:
    run_python(home, MANY)
    index = ManifestIndex.open(_manifest(home))
    assert index.head.note == "five thousand" and index.head.variables == ()
    assert index.summary["variables"] == 5004 and index.summary["groups"] < 100
    whole = Manifest.decode(_manifest(home).read_bytes())
    assert whole.stored == index.summary["stored"] and whole.memory == index.summary["memory"]
    assert [v.name for v in whole.variables][:3] == ["i", "v0", "v1"]  # save order
    assert index.find("v4999") is not None and index.find("nope") is None
    group, _, deps = index.group(index.find("a")[1])
    assert set(group.names) == {"shared", "a", "b"} and not group.independent and deps == {}
    assert index.group(index.find("v7")[1])[0].independent


def test_hostile_bytes_are_a_format_error_never_a_crash(home: Path) -> None:
    """Random flips, cuts and garbage: decoding whole or as an index raises FormatError
    (a plain, one-line reason) or reads a manifest whose sections all check out."""
    run_python(home, MANY)
    good = _manifest(home).read_bytes()
    rng = random.Random(9)
    cases = [good[:n] for n in (0, 5, 30, len(good) // 3, len(good) - 1)]
    for _ in range(150):
        bad = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            bad[rng.randrange(len(bad))] = rng.randrange(256)
        cases.append(bytes(bad))
    cases.append(good[:40] + b"\xc6\xff\xff\xff\xff" + good[45:])  # a head claiming 4 GB
    for case in cases:
        for read in (Manifest.decode, lambda d: ManifestIndex.parse(memoryview(d))):
            try:
                found = read(case)
            except SessionsError as exc:
                assert "\n" not in str(exc) and str(exc)
                continue
            if isinstance(found, ManifestIndex):  # reading what it indexes is checked too
                try:
                    for name in found.names():
                        found.group(found.find(name)[1])
                except FormatError as exc:
                    assert "\n" not in str(exc)


@pytest.mark.parametrize("schema", [[3, 0], [2, 9]])
def test_a_newer_schema_2_layout_is_refused_plainly_or_read_by_its_minor(
    home: Path, schema: list[int]
) -> None:
    run_python(home, MANY)
    path = _manifest(home)
    raw = msgpack.unpackb(path.read_bytes())
    raw["schema"] = schema
    path.write_bytes(msgpack.packb(raw))
    shown = cli(home, "show", "many")
    if schema[0] > 2:
        assert "newer than this sessions-tui understands" in shown.stdout
    else:  # a newer minor only adds keys: still read (its signature covers the head alone)
        assert shown.returncode == 0, shown.stdout + shown.stderr
        assert "v4999" in shown.stdout


def test_comparing_snapshots_names_only_the_batched_values_that_changed(home: Path) -> None:
    """Small values share a batch (one stream); changing one of them must not make its
    neighbours look changed, in a comparison or in what a re-save previews again."""
    run_python(
        home,
        """
        import sessions
        for i in range(300):
            globals()[f"v{i}"] = [i, i + 1]
        sessions.save("cmp")
        v17.append(99)
        v200 = "now text"
        sessions.save("cmp")
        """,
    )
    from sessions.core.api import inspect
    from sessions.core.engine.compare import compare
    from sessions.core.store.session_dir import Store

    store = Store(home)
    left, right = inspect("cmp@1", store).manifest, inspect("cmp@2", store).manifest
    assert left is not None and right is not None
    assert any(g.independent for g in right.groups)
    result = compare(left, right)
    assert sorted(c.name for c in result.changed) == ["v17", "v200"]
    assert len(result.same) == 299 and not result.added  # and i and not result.removed


def _with_first_group(good: bytes, change) -> memoryview:
    """``good`` (a schema-2 manifest) with its first group record changed by ``change``, the
    section re-checksummed (unsigned: the record is what is under test, not the signature)."""
    outer = msgpack.unpackb(good)
    head = msgpack.unpackb(outer["head"])
    offset, length, _, start = head["sections"]["groups"][0]
    records = msgpack.unpackb(outer["body"][offset : offset + length])
    change(records[0])
    chunk = msgpack.packb(records)
    body = outer["body"] + chunk
    head["sections"]["groups"][0] = [len(outer["body"]), len(chunk), _blake3(chunk), start]
    return memoryview(encode(msgpack.packb(head), body, None))


def _blake3(data: bytes) -> bytes:
    import blake3

    return blake3.blake3(data).digest()


def _set(path: tuple, value):
    def change(record: list) -> None:
        target = record
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return change


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_set((2, 1), -5), "negative"),  # stream size
        (_set((2, 2), True), "integer"),  # stored size as a bool
        (_set((2, 0), b"\x01" * 31), "32 bytes"),  # hash
        (_set((2, 3), 7), "codec"),
        (_set((1, 0), 12), "list of text"),  # a member name that is not text
        (_set((0,), None), "text"),  # serializer
        (_set((7,), [[0, 0, 1 << 40]]), "outside"),  # a buffer slice past its blob
        (_set((7,), [[0, -1, 1]]), "three counts"),
        (_set((7,), [[0, 0]]), "three counts"),
        (_set((7,), [[False, 0, 0]]), "three counts"),
        (_set((7,), "slices"), "should be a list"),
        (_set((5,), {"v1": [3]}), "text"),  # deps
        (lambda record: record.pop(), "list of 8"),
    ],
)
def test_a_malformed_group_record_is_one_line_naming_what_is_wrong(
    home: Path, change, reason: str
) -> None:
    run_python(home, MANY)
    index = ManifestIndex.parse(_with_first_group(_manifest(home).read_bytes(), change))
    index.group(index.summary["groups"] - 1)  # another chunk still reads
    with pytest.raises(FormatError, match=reason) as caught:
        index.group(0)
    assert "\n" not in str(caught.value) and "malformed" in str(caught.value)


def test_a_buffer_slice_past_its_blob_is_refused(home: Path) -> None:
    run_python(
        home,
        """
        import numpy as np, sessions
        for i in range(300):
            globals()[f"t{i}"] = np.full(4, i, dtype=np.float64)
        sessions.save("tiny")
        """,
    )
    good = _manifest(home).read_bytes()

    def stretch(record: list) -> None:
        assert record[7], "tiny arrays are stored joined, with slices"
        record[7][-1][2] += 1  # one byte longer than its joined buffer

    index = ManifestIndex.parse(_with_first_group(good, lambda r: None))
    assert index.group(0)[0].slices  # unchanged, it reads
    with pytest.raises(FormatError, match="outside its blob"):
        ManifestIndex.parse(_with_first_group(good, stretch)).group(0)
