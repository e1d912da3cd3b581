"""Secrets benchmark: how many realistic secrets a share leaves out (recall) and how many
innocuous look-alikes it withholds (false positives), on the corpus in
``tests/secrets_corpus.py``.

    python bench/bench_secrets.py                  # this checkout, plus --before's baseline
    python bench/bench_secrets.py --before REV     # baseline: the detector at git REV
    python bench/bench_secrets.py --json           # only measure this checkout, print JSON

Each case runs as a session (``__main__``), is saved with ``sessions.save`` into a temp
store and shared with ``share.prepare`` (what export and push publish). A secret is caught
when its bytes are in nothing that would leave the machine: the published manifest and
the streams and buffers of every group it keeps. A look-alike is a false positive when
anything of it was left out or a history line of it blanked. The baseline runs the same
code against the package as it was at REV (extracted with ``git archive``), in a child
process.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))
from results import run_line, write_section  # noqa: E402
from secrets_corpus import Case, cases  # noqa: E402

BASELINE = "2c8d974"  # main before the stream scan: names and reprs judged at save time


def measure() -> dict[str, Any]:
    """Run every case through save and share with the importable ``sessions``."""
    import sessions
    from sessions.core.engine.save import save
    from sessions.core.sharing import share
    from sessions.core.store.session_dir import Store

    work = Path(tempfile.mkdtemp(prefix="bench-secrets-"))
    os.environ["SESSIONS_CONFIG_DIR"] = str(work / "config")
    store = Store(work / "store")
    results: list[dict[str, Any]] = []
    try:
        for index, case in enumerate(cases()):
            results.append(_run(case, index, store, save, share))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"package": str(Path(sessions.__file__).parent), "cases": results}


def _run(case: Case, index: int, store: Any, save: Any, share: Any) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(case.code, f"<case {case.id}>", "exec"), namespace)
    namespace.pop("__builtins__", None)
    manifest = save(namespace, store=store, name=f"case-{index}").manifest
    if case.history is not None:
        manifest = replace(manifest, history=(case.history,))
    shared = share.prepare(manifest, owner="bench", version=1)
    published = bytearray(shared.manifest.encode())
    for group in shared.manifest.groups:
        for ref in group.blobs:
            published += store.blobs.read(ref.hash)
    withheld = dict(shared.left_out)
    if shared.manifest.history != manifest.history:
        withheld["<history>"] = "blanked"
    return {
        "id": case.id,
        "secret": case.secret,
        "kind": case.kind,
        "held_out": case.held_out,
        "leaked": bool(case.secret and case.needle in published),
        "withheld": withheld,
    }


def summary(data: dict[str, Any], held_out: bool = False) -> dict[str, Any]:
    rows = [r for r in data["cases"] if r.get("held_out", False) == held_out]
    secrets = [r for r in rows if r["secret"]]
    plain = [r for r in rows if not r["secret"]]
    caught = [r for r in secrets if not r["leaked"]]
    false = [r for r in plain if r["withheld"]]
    by_kind: dict[str, list[int]] = {}
    for r in secrets:
        counts = by_kind.setdefault(r["kind"], [0, 0])
        counts[0] += not r["leaked"]
        counts[1] += 1
    return {
        "caught": len(caught),
        "secrets": len(secrets),
        "false": len(false),
        "lookalikes": len(plain),
        "by_kind": by_kind,
        "missed": [r["id"] for r in secrets if r["leaked"]],
        "withheld": {r["id"]: r["withheld"] for r in false},
    }


def baseline(rev: str) -> dict[str, Any]:
    """Measure the package as it was at ``rev`` in a child process (this script, its corpus)."""
    work = Path(tempfile.mkdtemp(prefix="bench-secrets-base-"))
    try:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(work)], input=archive, check=True)
        package = work / "site" / "sessions"
        shutil.copytree(work / "sessions", package)
        for part in ("core", "daemon", "tui", "kernels"):
            if (work / part).is_dir():
                shutil.copytree(work / part, package / part)
        env = dict(os.environ, PYTHONPATH=str(work / "site"))
        done = subprocess.run(
            [sys.executable, __file__, "--json"], env=env, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise SystemExit(f"baseline at {rev} failed:\n{done.stderr[-2000:]}")
        data = json.loads(done.stdout)
        if not data["package"].startswith(str(work)):
            raise SystemExit(f"baseline imported {data['package']}, not the archive of {rev}")
        return data
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _rate(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / max(1, whole):.0f}%)"


def report(before: dict[str, Any], after: dict[str, Any], rev: str) -> str:
    b, a = summary(before), summary(after)
    hb, ha = summary(before, held_out=True), summary(after, held_out=True)
    lines = [
        f"{run_line('bench_secrets.py')} Corpus: `tests/secrets_corpus.py` "
        f"({a['secrets']} synthetic secrets, {a['lookalikes']} look-alikes, which the new "
        f"detector was tuned on; plus a held-out set of {ha['secrets']} + {ha['lookalikes']} "
        "written afterwards and not tuned on). A secret counts as caught when its bytes are "
        "in nothing a share publishes (manifest, kept streams and buffers); a look-alike is "
        "a false positive when anything of it is withheld.",
        "",
        f"| | before ({rev}: names and reprs) | after (pickled strings, code, history) |",
        "|---|---|---|",
        f"| secrets caught (recall) | {_rate(b['caught'], b['secrets'])} | "
        f"{_rate(a['caught'], a['secrets'])} |",
        f"| look-alikes withheld (false positives) | {_rate(b['false'], b['lookalikes'])} | "
        f"{_rate(a['false'], a['lookalikes'])} |",
    ]
    lines += [
        f"| held out: secrets caught | {_rate(hb['caught'], hb['secrets'])} | "
        f"{_rate(ha['caught'], ha['secrets'])} |",
        f"| held out: look-alikes withheld | {_rate(hb['false'], hb['lookalikes'])} | "
        f"{_rate(ha['false'], ha['lookalikes'])} |",
    ]
    kinds = sorted(set(a["by_kind"]) | set(b["by_kind"]))
    for kind in kinds:
        bk, ak = b["by_kind"].get(kind, [0, 0]), a["by_kind"].get(kind, [0, 0])
        lines.append(f"| — secrets as {kind} | {_rate(*bk)} | {_rate(*ak)} |")
    lines += [
        "",
        f"Missed after: {', '.join(a['missed']) or 'none'}.",
        "",
        "Withheld look-alikes after: "
        + (
            "; ".join(f"{k} ({'; '.join(v.values())[:120]})" for k, v in a["withheld"].items())
            or "none"
        )
        + ".",
        "",
        f"Held out, missed after: {', '.join(ha['missed']) or 'none'}; withheld after: "
        f"{', '.join(ha['withheld']) or 'none'}.",
        "",
        f"Missed before: {', '.join(b['missed']) or 'none'}.",
        "",
        f"Withheld look-alikes before: {', '.join(b['withheld']) or 'none'}.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="measure this checkout only")
    parser.add_argument("--before", default=BASELINE, help="git rev of the baseline detector")
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    args = parser.parse_args()
    import logging

    logging.disable(logging.WARNING)
    if args.json:
        json.dump(measure(), sys.stdout)
        return
    before = baseline(args.before)
    after = measure()
    text = report(before, after, args.before)
    print(text)
    kinds = Counter(r["kind"] for r in after["cases"])
    print(f"\n{dict(kinds)}")
    if not args.no_write:
        write_section("Secrets", text)


if __name__ == "__main__":
    main()
