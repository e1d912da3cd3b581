"""Sharing benchmark: pushing the core reference session to a team remote twice, with one
100 MB array changed in between, against sharing a dill.dump_module file each time.

    python bench/bench_share.py            # full reference session (~0.9 GB)
    python bench/bench_share.py --small    # 1/10 scale

Alice saves and pushes in fresh processes (to a folder remote and to moto's S3 server on
127.0.0.1 through s3fs); Bob, with his own session dir and key, trusts her key, pulls both
versions and loads them in a fresh process; every value is compared by hash with Alice's.
The dill baseline is the file a team would copy to the shared folder each time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from bench_core import BUILD, _child  # noqa: E402
from results import run_line, write_section  # noqa: E402

FINGERPRINT = """
def _fingerprint(ns):
    import blake3, numpy as np, pandas as pd
    out = {}
    for key, value in sorted(ns.items()):
        if key.startswith("_"):
            continue
        if isinstance(value, np.ndarray):
            out[key] = blake3.blake3(value.tobytes()).hexdigest()
        elif isinstance(value, pd.DataFrame):
            out[key] = str(int(pd.util.hash_pandas_object(value, index=True).sum()))
        elif isinstance(value, (dict, list, float, int, str)):
            out[key] = repr(value)
    return out
"""

ALICE_PUSH = """
import sessions
{change}
def _run():
    saved = sessions.save("reference")
    t0 = time.perf_counter()
    pushed = sessions.push("reference", {remote!r})
    seconds = time.perf_counter() - t0
    return {{"ref": pushed.ref, "uploaded": pushed.uploaded, "sent": pushed.blobs_sent,
             "present": pushed.blobs_present, "seconds": seconds,
             "fingerprint": _fingerprint(globals())}}
print("RESULT " + json.dumps(_run()))
"""

DILL_SHARE = """
import dill, shutil
{change}
def _run():
    t0 = time.perf_counter()
    dill.dump_module(os.environ["BENCH_DILL_FILE"])
    shutil.copyfile(os.environ["BENCH_DILL_FILE"], os.environ["BENCH_SHARED_COPY"])
    return {{"uploaded": os.path.getsize(os.environ["BENCH_SHARED_COPY"]),
             "seconds": time.perf_counter() - t0}}
print("RESULT " + json.dumps(_run()))
"""

BOB_PULL = """
import sessions, numpy, pandas
def _run():
    t0 = time.perf_counter()
    pulled = sessions.pull({spec!r}, {remote!r})
    seconds = time.perf_counter() - t0
    ns = {{}}
    report = sessions.load(pulled.ref, namespace=ns)
    return {{"ref": pulled.ref, "downloaded": pulled.downloaded, "seconds": seconds,
             "failed": report.failed, "fingerprint": _fingerprint(ns)}}
print("RESULT " + json.dumps(_run()))
"""

CHANGE = "a0 = a0 * 2.0"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="1/10 scale session")
    parser.add_argument("--no-s3", action="store_true", help="only the folder remote")
    parser.add_argument("--no-write", action="store_true", help="do not write bench/RESULTS.md")
    args = parser.parse_args()
    scale = 10 if args.small else 1
    build = FINGERPRINT + BUILD.format(
        arrays=8, array_len=12_500_000 // scale, rows=5_000_000 // scale
    )
    work = Path(tempfile.mkdtemp(prefix="sessions-bench-share-"))
    base = dict(os.environ)
    base["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), base.get("PYTHONPATH", "")]))
    base.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    base["AWS_DEFAULT_REGION"] = "us-east-1"

    def user(name: str, kind: str) -> dict[str, str]:
        config = work / f"{name}-{kind}" / "config"
        config.mkdir(parents=True)
        (config / "config.toml").write_text(f'[share]\nowner = "{name}"\n')
        home = work / f"{name}-{kind}" / "home"
        return dict(base, SESSIONS_HOME=str(home), SESSIONS_CONFIG_DIR=str(config))

    def cli(env: dict[str, str], *argv: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "sessions.tui.cli", *argv],
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise SystemExit(f"sessions-tui {' '.join(argv)} failed: {done.stderr}")
        return done.stdout

    moto = None
    rows: list[str] = []
    try:
        remotes = {"folder": ["folder", str(work / "shared-drive")]}
        if not args.no_s3:
            port = _port()
            moto = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=base,
            )
            time.sleep(3)
            import s3fs

            endpoint = f"http://127.0.0.1:{port}"
            s3fs.S3FileSystem(endpoint_url=endpoint, key="testing", secret="testing").mkdir("team")
            remotes["s3"] = ["s3", "s3://team/sessions", "--option", f"endpoint_url={endpoint}"]
        for kind, (_, *remote_args) in remotes.items():
            alice, bob = user("alice", kind), user("bob", kind)
            for env in (alice, bob):
                cli(env, "remote", "add", "team", *remote_args)
            cli(bob, "trust", "add", "alice", cli(alice, "key").splitlines()[0])
            print(f"[{kind}] alice: save + push v1…", flush=True)
            first = _child(ALICE_PUSH.format(change="", remote="team"), alice, build)
            print(f"[{kind}] alice: change one array, save + push v2…", flush=True)
            second = _child(ALICE_PUSH.format(change=CHANGE, remote="team"), alice, build)
            print(f"[{kind}] bob: pull + load v1 and v2…", flush=True)
            got1 = _child(
                BOB_PULL.format(spec="alice/reference@1", remote="team"), bob, FINGERPRINT
            )
            got2 = _child(
                BOB_PULL.format(spec="alice/reference@2", remote="team"), bob, FINGERPRINT
            )
            same1 = got1["fingerprint"] == first["fingerprint"] and not got1["failed"]
            same2 = got2["fingerprint"] == second["fingerprint"] and not got2["failed"]
            rows.append(
                f"{kind:<7} push v1: {first['uploaded'] / 1e6:8.1f} MB in {first['seconds']:6.2f}s   "
                f"push v2: {second['uploaded'] / 1e6:8.1f} MB in {second['seconds']:6.2f}s "
                f"({second['sent']} blobs sent, {second['present']} already there)"
            )
            rows.append(
                f"{'':<7} pull v1: {got1['downloaded'] / 1e6:8.1f} MB in {got1['seconds']:6.2f}s   "
                f"pull v2: {got2['downloaded'] / 1e6:8.1f} MB in {got2['seconds']:6.2f}s   "
                f"every value equal: v1 {same1}, v2 {same2} ({len(got2['fingerprint'])} variables)"
            )
            shutil.rmtree(work / f"alice-{kind}" / "home", ignore_errors=True)
            shutil.rmtree(work / f"bob-{kind}" / "home", ignore_errors=True)
        print("dill: dump_module + copy to the shared folder, twice…", flush=True)
        env = dict(
            base,
            BENCH_DILL_FILE=str(work / "session.dill"),
            BENCH_SHARED_COPY=str(work / "shared.dill"),
        )
        dill1 = _child(DILL_SHARE.format(change=""), env, build)
        dill2 = _child(DILL_SHARE.format(change=CHANGE), env, build)
        rows.append(
            f"{'dill':<7} share v1: {dill1['uploaded'] / 1e6:7.1f} MB in {dill1['seconds']:6.2f}s   "
            f"share v2: {dill2['uploaded'] / 1e6:7.1f} MB in {dill2['seconds']:6.2f}s (the whole file again)"
        )
        folder_v2 = float(rows[0].split("push v2:")[1].split("MB")[0]) * 1e6
        rows.append(
            f"second share, bytes sent: sessions {folder_v2 / 1e6:.1f} MB vs dill "
            f"{dill2['uploaded'] / 1e6:.1f} MB = {dill2['uploaded'] / max(folder_v2, 1):.1f}x less "
            f"(target: at most 120 MB)"
        )
    finally:
        if moto is not None:
            moto.terminate()
        shutil.rmtree(work, ignore_errors=True)
    table = "\n".join(rows)
    print()
    print(table)
    if not args.no_write:
        write_section(
            "Sharing",
            f"{run_line('bench_share.py', args.small)} The core reference session pushed by Alice, "
            "changed in one 100 MB array, pushed again; Bob (own dir, own key) pulls and loads "
            "both in fresh processes and every value is compared by hash. Baseline: a "
            "dill.dump_module file copied to the shared folder each time.\n\n```\n"
            + table
            + "\n```",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
