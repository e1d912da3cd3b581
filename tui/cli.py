"""``sessions-tui``: the command line.

Exit codes: 0 ok, 1 problems found (damage, failed variables, refused operations, an error
of the system or of Sessions itself), 2 usage or a reference that names nothing (or more than
one thing), 130 interrupted. The terminal UI's own code is passed through. Errors are one line
on stderr, never a traceback (an unexpected one is written to a file in the log dir).

JSON output (``ls --json``, ``show --json``) is a stable interface, documented in the
README: keys are only ever added within a major version, never renamed or removed.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from sessions.core.api import SnapshotInfo, info
from sessions.core.errors import RefError, SessionsError
from sessions.core.store.session_dir import Entry, Store, expendable_file
from sessions.tui import cli_cache, cli_run, cli_share
from sessions.tui.cli_output import Writer, styled, table
from sessions.tui.formatting import human_size, iso_utc, one_line
from sessions.tui.progress import drawn

JSON_VERSION = 1


class UsageError(Exception):
    """Bad command-line usage; exit code 2."""


@functools.cache
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sessions-tui",
        description="Save, browse, preview, restore and share Python sessions.",
    )
    parser.add_argument("--home", help="session dir (default: $SESSIONS_HOME or the user data dir)")
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    ls = sub.add_parser(
        "ls", help="list snapshots, run checkpoints and foreign dill files (caches: --all)"
    )
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.add_argument(
        "--all", action="store_true", help="cache entries too (else: sessions-tui cache ls)"
    )
    ls.add_argument("--remote", help="list what a remote holds instead")

    show = sub.add_parser("show", help="what a snapshot holds, without unpickling")
    show.add_argument("ref")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.add_argument(
        "--reveal", action="store_true", help="show previews of values that look like secrets"
    )

    restore = sub.add_parser("restore", help="open an interactive Python with a snapshot loaded")
    restore.add_argument("ref")
    restore.add_argument("--vars", help="comma-separated variable names (plus what they need)")
    restore.add_argument("--print", action="store_true", help="print the loading code instead")
    restore.add_argument(
        "--trust-once", action="store_true", help="load even if the signer is not trusted"
    )
    restore.add_argument(
        "--kernel", help="restore into this running Jupyter kernel (id, id prefix, or file)"
    )

    save = sub.add_parser("save", help="snapshot a running Jupyter kernel, from outside")
    save.add_argument("name", nargs="?", help="snapshot name (default: the notebook's name)")
    save.add_argument("--kernel", required=True, help="kernel id, unique id prefix, or file")
    save.add_argument("--note")
    save.add_argument("--include", action="append", help="only these names (glob patterns)")
    save.add_argument("--exclude", action="append", help="not these names (glob patterns)")

    sub.add_parser("kernels", help="running Jupyter kernels (notebook and state when known)")

    verify = sub.add_parser("verify", help="re-hash stored blobs and report corruption")
    verify.add_argument("ref", nargs="?")

    gc_cmd = sub.add_parser("gc", help="remove blobs that no snapshot references")
    gc_cmd.add_argument(
        "--policy",
        action="store_true",
        help="first apply the retention policy from config.toml ([cache] max_mb always applies)",
    )

    daemon = sub.add_parser(
        "daemon", help="the background indexer: run, start, stop, status, install"
    )
    daemon.add_argument(
        "action", choices=["run", "start", "stop", "status", "install", "uninstall"]
    )
    daemon.add_argument("--json", action="store_true", help="status as JSON")
    daemon.add_argument("--dry-run", action="store_true", help="install: print the files instead")

    rm = sub.add_parser("rm", help="remove a snapshot (its blobs go at the next gc)")
    rm.add_argument("ref")

    config = sub.add_parser("config", help="where config.toml is, and what it sets")
    config.add_argument("action", choices=["path", "show"])

    demo = sub.add_parser("demo", help="build a demo session dir and show it")
    demo.add_argument("--no-open", action="store_true", help="only build the demo snapshots")
    cli_share.add_parsers(sub)
    cli_cache.add_parsers(sub)
    cli_run.add_parsers(sub)
    return parser


def finite(value: Any) -> Any:
    """``value`` with NaN and infinities (which JSON cannot hold) as null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def _version() -> str:
    from sessions import __version__

    python = ".".join(map(str, sys.version_info[:3]))
    return f"sessions-tui {__version__} (Python {python}, {sys.executable})"


def _store(args: argparse.Namespace) -> Store:
    return Store(args.home)  # None: $SESSIONS_HOME or the user data dir


WHAT = {"cache": "cache", "run": "checkpoint"}  # origin kinds that are not plain snapshots


def _what(entry: Entry) -> str:
    """What an entry is, for people: snapshot, checkpoint (a run's), cache or dill file."""
    if entry.kind == "foreign":
        return "dill file"
    if entry.manifest is None:
        return "cache" if expendable_file(entry.path) else "snapshot"
    return WHAT.get(entry.manifest.origin.get("kind", ""), "snapshot")


def _entry_json(item: SnapshotInfo, what: str) -> dict[str, Any]:
    manifest = item.manifest
    return {
        "kind": item.kind,
        "what": what,
        "id": item.id,
        "ref": item.ref,
        "name": item.name,
        "version": item.version,
        "created": iso_utc(item.created),
        "variables": len(item.variables) if (manifest or item.foreign) else None,
        "skipped": len(manifest.skipped) if manifest else 0,
        "stored": item.stored,
        "memory": manifest.memory if manifest else None,
        "note": item.note,
        "tags": list(item.tags),
        "origin": dict(manifest.origin) if manifest else {"kind": "foreign"},
        "path": item.path,
        "damaged": item.error,
        "runs_code": list(item.foreign.runs) if item.foreign is not None else [],
    }


def cmd_ls(args: argparse.Namespace, out: Any) -> int:
    if args.remote:
        return cli_share.ls_remote(args, out)
    store = _store(args)
    store.check_format()
    entries = [(e, _what(e)) for e in store.entries()]
    caches = [e for e, what in entries if what == "cache" and not args.all]
    items = [(info(e, deep=True), what) for e, what in entries if args.all or what != "cache"]
    if args.json:
        listed = [_entry_json(item, what) for item, what in items]
        json.dump(
            finite({"version": JSON_VERSION, "snapshots": listed}), out, indent=2, allow_nan=False
        )
        out.write("\n")
        return 0
    from sessions.tui.cli_show import write_list

    if items:
        write_list([item for item, _ in items], out, whats=[what for _, what in items])
    else:
        out.write(f"no snapshots in {store.root}\n")
    if caches:
        shared: dict[str, int] = {}
        for entry in caches:
            if entry.manifest is not None:
                shared.update({d: b.stored for d, b in entry.manifest.all_blobs().items()})
        count = f"{len(caches)} cache {'entry' if len(caches) == 1 else 'entries'}"
        out.write(
            f"({count}, {human_size(sum(shared.values()))}, not listed: "
            "sessions-tui cache ls, or ls --all)\n"
        )
    return 0


def cmd_show(args: argparse.Namespace, out: Any) -> int:
    store = _store(args)
    entry = store.resolve(args.ref)
    item = info(entry, deep=True)
    if args.json:
        data: dict[str, Any] = {"version": JSON_VERSION, **_entry_json(item, _what(entry))}
        if item.manifest is not None:
            data["manifest"] = item.manifest.to_dict()
        if item.foreign is not None:
            data["foreign"] = {
                "variables": item.foreign.variables,
                "imports": item.foreign.imports,
                "complete": item.foreign.complete,
                "error": item.foreign.error,
                "runs_code": list(item.foreign.runs),
            }
        json.dump(finite(data), out, indent=2, default=str, allow_nan=False)
        out.write("\n")
        return 1 if item.error else 0
    from sessions.tui.cli_show import write_show

    write_show(item, out, reveal=args.reveal)
    return 1 if item.error else 0


def cmd_restore(args: argparse.Namespace, out: Any) -> int:
    from sessions.core.engine.restore import interpreter_for, loading_code, shell_command

    store = _store(args)
    entry = store.resolve(args.ref)
    if entry.error:
        raise SessionsError(f"snapshot {entry.ref} is damaged: {entry.error}")
    names = [n.strip() for n in args.vars.split(",") if n.strip()] if args.vars else None
    if names and entry.manifest is not None:
        known = {v.name for v in entry.manifest.variables} | {
            i.name for i in entry.manifest.imports
        }
        unknown = [n for n in names if n not in known]
        if unknown:
            raise UsageError(f"{entry.ref} has no variable {', '.join(unknown)}")
    if args.kernel:
        return _restore_into_kernel(store, entry, names, args, out)
    code = loading_code(store, entry, names, trust=args.trust_once)
    if args.print:
        out.write(code)
        return 0
    executable, note = interpreter_for(entry)
    if note:
        sys.stderr.write(f"sessions-tui: {one_line(note)}\n")
    env = dict(os.environ)
    env["SESSIONS_HOME"] = str(store.root)
    return subprocess.call(shell_command(executable, code), env=env)


def _waiting(text: str) -> None:
    sys.stderr.write(f"sessions-tui: {text}\n")
    sys.stderr.flush()


def _restore_into_kernel(
    store: Store, entry: Any, names: list[str] | None, args: argparse.Namespace, out: Any
) -> int:
    from sessions.kernels.outside import find_kernel, restore_into_kernel

    if entry.kind != "snapshot":
        raise SessionsError("only snapshots can be restored into a kernel (load dill files there)")
    kernel = find_kernel(args.kernel)
    with drawn(f"load {entry.ref} into kernel {kernel.id[:8]}") as progress:
        result = restore_into_kernel(
            kernel,
            entry.id,
            names=names,
            home=store.root,
            trust=args.trust_once,
            on_wait=_waiting,
            progress=progress,
        )
    out.write(f"{result['text']} into kernel {kernel.id[:8]}\n")
    return 1 if result["report"].get("failed") else 0


def cmd_save(args: argparse.Namespace, out: Any) -> int:
    from sessions.kernels.outside import find_kernel, save_kernel

    kernel = find_kernel(args.kernel)
    with drawn(f"save kernel {kernel.id[:8]}") as progress:
        result = save_kernel(
            kernel,
            name=args.name,
            note=args.note,
            include=args.include,
            exclude=args.exclude,
            home=_store(args).root,
            on_wait=_waiting,
            progress=progress,
        )
    out.write(f"{result['text']} (kernel {kernel.id[:8]})\n")
    return 0


def cmd_kernels(args: argparse.Namespace, out: Any) -> int:
    from sessions.kernels.outside import list_kernels, runtime_dir

    kernels = list_kernels()
    if not kernels:
        out.write(f"no running kernels in {runtime_dir()}\n")
        return 0
    grid = table("KERNEL", "STATE", "NOTEBOOK")
    for kernel in kernels:
        busy = "yellow" if kernel.state == "busy" else ""
        grid.add_row(styled(kernel.id, "bold"), styled(kernel.state, busy), kernel.notebook or "-")
    Writer(out).print(grid)
    return 0


def cmd_verify(args: argparse.Namespace, out: Any) -> int:
    from sessions.core.store.verify import verify

    store = _store(args)
    entries = [store.resolve(args.ref)] if args.ref else None
    with drawn(f"verify {args.ref or store.root}") as progress:
        report = verify(store, entries, progress=progress)
    writer = Writer(out)
    for problem in report.problems:
        writer.line(styled("CORRUPT", "bold red"), f" {one_line(problem)}")
    if report.ok:
        writer.line(
            styled("ok", "bold green"),
            f": {report.checked_snapshots} snapshots, {report.checked_blobs} blobs verified",
        )
        return 0
    writer.line(
        styled(f"{len(report.problems)} problems", "bold red"),
        f" in {report.checked_snapshots} snapshots",
    )
    return 1


def cmd_gc(args: argparse.Namespace, out: Any) -> int:
    from sessions.core.config import RetentionPolicy, load_config
    from sessions.core.store.gc import gc
    from sessions.core.store.retention import apply

    config = load_config()
    for problem in config.problems:
        sys.stderr.write(f"sessions-tui: {problem}\n")
    # [cache] max_mb always applies (cache entries only); --policy applies all of retention
    policy = RetentionPolicy(cache_max_bytes=config.cache_max_bytes)
    if args.policy:
        policy = config.retention
        if not policy.active:
            out.write("no retention policy is set in config.toml; nothing removed by policy\n")
    if policy.active:
        removed = apply(_store(args), policy)
        for line in removed.removed:
            out.write(f"removed {line}\n")
        if removed.kept_pinned and args.policy:
            out.write(f"kept {removed.kept_pinned} pinned snapshots\n")
    with drawn("gc") as progress:
        report = gc(_store(args), progress=progress)
    out.write(
        f"removed {report.removed_blobs} blobs ({human_size(report.freed)} freed), "
        f"{report.removed_temps} stale temp files; {report.kept_blobs} blobs in use\n"
    )
    if report.removed_damaged:
        out.write(f"removed {report.removed_damaged} damaged cache entries (torn by a crash?)\n")
    return 0


def cmd_rm(args: argparse.Namespace, out: Any) -> int:
    store = _store(args)
    entry = store.resolve(args.ref)
    store.remove(entry)
    what = f"{entry.ref} ({entry.id})" if entry.kind == "snapshot" else entry.id
    out.write(f"removed {one_line(what)}; 'sessions-tui gc' frees blobs nothing else uses\n")
    return 0


def cmd_demo(args: argparse.Namespace, out: Any) -> int:
    from sessions.tui.demo import build_demo

    home = build_demo()
    if not args.no_open and sys.stdout.isatty() and sys.stdin.isatty():
        return open_app(Store(home))
    out.write(f"demo session dir: {home}\n\n")
    code = cmd_ls(_parser().parse_args(["--home", str(home), "ls"]), out)
    if not args.no_open:
        out.write("\n")
        code = (
            cmd_show(_parser().parse_args(["--home", str(home), "show", "demo-model"]), out) or code
        )
    return code


def cmd_config(args: argparse.Namespace, out: Any) -> int:
    from sessions.core.config import config_path, load_config, render

    path = config_path()
    if args.action == "path":
        out.write(f"{path}\n")
        return 0
    config = load_config(path)
    state = "" if path.exists() else " (not there yet: defaults)"
    out.write(f"# {path}{state}\n{render(config)}")
    for problem in config.problems:
        sys.stderr.write(f"sessions-tui: {problem}\n")
    return 1 if config.problems else 0


def cmd_daemon(args: argparse.Namespace, out: Any) -> int:
    from sessions.daemon import client
    from sessions.daemon.paths import runtime_dir

    store = _store(args)
    root = store.root.absolute()
    runtime_dir()  # one line now, rather than "no daemon", when it cannot be used
    if args.action in ("run", "install", "uninstall"):
        extra = ["--dry-run"] if args.dry_run and args.action != "run" else []
        return client.exec_daemon([args.action, "--home", str(root), *extra])
    if args.action == "start":
        info = client.start(root)
        out.write(f"daemon running (pid {info['pid']}) for {root}\n")
        return 0
    if args.action == "stop":
        stopped = client.stop(root)
        out.write("daemon stopped\n" if stopped else "no daemon was running\n")
        return 0
    info = client.status(root)
    if args.json:
        json.dump(
            {"running": info is not None, **(info or {"session_dir": str(root)})}, out, indent=2
        )
        out.write("\n")
        return 0 if info else 1
    if info is None:
        from sessions.core.store.catalog import catalog_path

        out.write(f"no daemon running for {root}\ncatalog: {catalog_path(root)}\n")
        return 1
    out.write(
        f"running   pid {info['pid']}, version {info['version']}, protocol {info['protocol']}, "
        f"up {info['uptime']:.0f}s\n"
        f"watching  {', '.join(info['watched'])}\n"
        f"snapshots {info['snapshots']} indexed, {info['index_errors']} index errors\n"
        f"catalog   {info['catalog']}\n"
        f"log       {info['log']}\n"
        f"socket    {info['socket']}\n"
    )
    for line in info.get("last_errors", [])[-5:]:
        out.write(f"error     {line}\n")
    return 0


COMMANDS = {
    "ls": cmd_ls,
    "show": cmd_show,
    "restore": cmd_restore,
    "verify": cmd_verify,
    "gc": cmd_gc,
    "rm": cmd_rm,
    "demo": cmd_demo,
    "config": cmd_config,
    "daemon": cmd_daemon,
    "save": cmd_save,
    "kernels": cmd_kernels,
    **cli_share.COMMANDS,
    **cli_cache.COMMANDS,
    **cli_run.COMMANDS,
}


def open_app(store: Store) -> int:
    """Open the terminal UI on ``store`` (needs a terminal)."""
    if not sys.stdout.isatty() or not sys.stdin.isatty():
        raise UsageError("the terminal UI needs a terminal; use 'sessions-tui ls' for plain output")
    from sessions.tui.app import SessionsApp

    app = SessionsApp(store)
    app.run()
    return app.return_code or 0  # 1 when the app stopped on an error it showed


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    command = args.command
    try:
        if command is None:
            return open_app(_store(args))
        return COMMANDS[command](args, sys.stdout)
    except UsageError as exc:
        sys.stderr.write(f"sessions-tui: {one_line(exc)}\n")
        return 2
    except RefError as exc:
        sys.stderr.write(f"sessions-tui: {one_line(exc)}\n")
        return 2
    except SessionsError as exc:
        sys.stderr.write(f"sessions-tui: {one_line(exc)}\n")
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (| head): nothing more to say to it
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as exc:  # the system said no: one line, with the file it was about
        where = f": {exc.filename}" if exc.filename else ""
        sys.stderr.write(f"sessions-tui: {exc.strerror or exc}{where}\n")
        return 1
    except Exception as exc:  # a bug of ours: one line here, the traceback in a file
        sys.stderr.write(
            f"sessions-tui: internal error: {type(exc).__name__}: {exc}{_crash_log()}\n"
        )
        return 1


def _crash_log() -> str:
    """Write the exception being handled to a file in the log dir; say where (or nothing)."""
    import time
    import traceback

    from sessions.core.paths import log_dir

    try:
        folder = log_dir()
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
        path.write_text(f"{_version()}\nargv: {sys.argv!r}\n\n{traceback.format_exc()}")
    except OSError:
        return ""
    return f" (details in {path})"


if __name__ == "__main__":  # python -m sessions.tui.cli: run the module cli_share imports
    from sessions.tui.cli import main as _main  # (not this __main__ copy: one UsageError)

    sys.exit(_main())
