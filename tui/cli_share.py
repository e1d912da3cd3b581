"""``sessions-tui`` sharing commands: export, import, remote, push, pull, trust, key."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sessions.core.errors import SessionsError
from sessions.core.store.session_dir import Store
from sessions.core.units import human_size
from sessions.tui.cli_output import Writer, styled, table
from sessions.tui.formatting import one_line
from sessions.tui.progress import drawn


def add_parsers(sub: Any) -> None:
    export = sub.add_parser("export", help="write a snapshot as one signed bundle file")
    export.add_argument("ref")
    export.add_argument("-o", "--output", required=True, help="bundle file (or a directory)")
    export.add_argument(
        "--include-secrets", action="store_true", help="also share variables that look secret"
    )

    imp = sub.add_parser("import", help="add a snapshot from a bundle file")
    imp.add_argument("file")
    imp.add_argument(
        "--trust-once", action="store_true", help="accept a signer you have not trusted"
    )

    remote = sub.add_parser("remote", help="team remotes: add NAME URL, ls, rm NAME, clean [NAME]")
    remote.add_argument("action", choices=["add", "ls", "rm", "clean"])
    remote.add_argument("name", nargs="?")
    remote.add_argument("url", nargs="?", help="a directory, or an fsspec URL (s3://bucket/path)")
    remote.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="fsspec storage option, e.g. endpoint_url=http://127.0.0.1:9000",
    )
    remote.add_argument(
        "--older-than",
        type=float,
        default=24.0,
        metavar="HOURS",
        help="clean: remove unreferenced blobs older than this (default 24)",
    )

    push = sub.add_parser("push", help="publish a snapshot to a remote")
    push.add_argument("ref")
    push.add_argument("remote", nargs="?")
    push.add_argument("--owner", help="publish under this name (default: [share] owner or login)")
    push.add_argument(
        "--include-secrets", action="store_true", help="also share variables that look secret"
    )

    pull = sub.add_parser("pull", help="copy [OWNER/]NAME[@VERSION] from a remote")
    pull.add_argument("spec", metavar="[OWNER/]NAME[@VERSION]")
    pull.add_argument("remote", nargs="?")
    pull.add_argument(
        "--trust-once", action="store_true", help="accept a signer you have not trusted"
    )
    pull.add_argument(
        "--data-only",
        action="store_true",
        help="only numeric arrays, as .npy files, from any sender, nothing unpickled",
    )
    pull.add_argument("-o", "--output", default=".", help="--data-only: where to write .npy files")

    trust = sub.add_parser("trust", help="teammates' keys: add NAME KEY, ls, rm NAME")
    trust.add_argument("action", choices=["add", "ls", "rm"])
    trust.add_argument("name", nargs="?")
    trust.add_argument("key", nargs="?", help="sessions-ed25519:… (from `sessions-tui key`)")

    sub.add_parser("key", help="print your public key, for teammates to trust")


def _need(args: argparse.Namespace, *names: str) -> None:
    from sessions.tui.cli import UsageError

    missing = [n.upper() for n in names if not getattr(args, n)]
    if missing:
        raise UsageError(f"{args.command} {args.action} needs {' '.join(missing)}")


def cmd_export(args: argparse.Namespace, out: Any) -> int:
    from sessions.core.sharing.bundle import export

    with drawn(f"export {args.ref}") as progress:
        result = export(
            Store(args.home),
            args.ref,
            args.output,
            include_secrets=args.include_secrets,
            progress=progress,
        )
    out.write(f"{one_line(result)}\n")
    return 0


def cmd_import(args: argparse.Namespace, out: Any) -> int:
    from sessions.core.sharing.bundle import import_bundle

    with drawn(f"import {Path(args.file).name}") as progress:
        result = import_bundle(
            Store(args.home), args.file, trust_once=args.trust_once, progress=progress
        )
    out.write(f"{one_line(result)}\n")
    if result.left_out:
        left_out = one_line(", ".join(result.left_out))
        out.write(f"not in the bundle (left out by the sender): {left_out}\n")
    return 0


def cmd_remote(args: argparse.Namespace, out: Any) -> int:
    from sessions.core.sharing import remote as remotes
    from sessions.tui.cli import UsageError

    if args.action == "add":
        _need(args, "name", "url")
        options = {}
        for option in args.option:
            key, eq, value = option.partition("=")
            if not eq or not key:
                raise UsageError(f"--option wants KEY=VALUE, got {option!r}")
            options[key] = value
        added = remotes.add_remote(args.name, args.url, options)
        out.write(f"remote {added.name} -> {added.url}\n")
    elif args.action == "rm":
        _need(args, "name")
        remotes.remove_remote(args.name)
        out.write(f"removed remote {args.name}\n")
    elif args.action == "clean":
        if not args.older_than >= 0:
            raise UsageError("--older-than wants a number of hours, 0 or more")
        cleaned = remotes.open_remote(args.name).clean(older_than=args.older_than * 3600)
        out.write(f"{cleaned}\n")
    else:
        configured = remotes.configured()
        if not configured:
            out.write("no remotes; add one: sessions-tui remote add NAME URL\n")
            return 0
        grid = table("NAME", "URL")
        for remote in configured.values():
            grid.add_row(styled(remote.name, "bold"), remote.url)
        Writer(out).print(grid)
    return 0


def cmd_push(args: argparse.Namespace, out: Any) -> int:
    from sessions.core.sharing.remote import open_remote

    remote = open_remote(args.remote)
    with drawn(f"push {args.ref}") as progress:
        result = remote.push(
            Store(args.home),
            args.ref,
            owner=args.owner,
            include_secrets=args.include_secrets,
            progress=progress,
        )
    out.write(f"{one_line(result)}\n")
    if not result.already:
        out.write(f"a teammate gets it with: {pull_command(result.ref, args.remote)}\n")
    return 0


def pull_command(ref: str, remote: str | None) -> str:
    """The one line a teammate runs to get ``ref`` (owner/name@version)."""
    return f"sessions-tui pull {ref}" + (f" {remote}" if remote else "")


def cmd_pull(args: argparse.Namespace, out: Any) -> int:
    from sessions.core.sharing.remote import open_remote

    remote = open_remote(args.remote)
    if args.data_only:
        import sys

        ref, data = remote.pull_data(args.spec, out_dir=Path(args.output))
        for name, path in data.arrays.items():
            out.write(f"{one_line(name)}\t{one_line(path)}\n")
        out.write(f"{one_line(ref)}: {one_line(data)}\n")
        for why in data.failed.values():
            sys.stderr.write(f"sessions-tui: {one_line(' '.join(why.splitlines()))}\n")
        return 1 if data.failed else 0
    with drawn(f"pull {args.spec}") as progress:
        result = remote.pull(
            Store(args.home), args.spec, trust_once=args.trust_once, progress=progress
        )
    out.write(f"{one_line(result)}\n")
    return 0


def cmd_trust(args: argparse.Namespace, out: Any) -> int:
    from sessions.core.sharing import identity

    if args.action == "add":
        _need(args, "name", "key")
        raw = identity.trust_add(args.name, args.key)
        out.write(f"trusting {args.name}'s key {identity.fingerprint(raw)}\n")
    elif args.action == "rm":
        _need(args, "name")
        identity.trust_remove(args.name)
        out.write(f"no longer trusting {args.name}\n")
    else:
        keys = identity.trusted()
        me = identity.identity()
        grid = table("NAME", "FINGERPRINT", "KEY")
        grid.add_row(styled("you", "bold"), me.fingerprint, styled(me.public_text, "dim"))
        for name, raw in sorted(keys.items()):
            grid.add_row(
                styled(name, "bold"),
                identity.fingerprint(raw),
                styled(identity.encode_public(raw), "dim"),
            )
        Writer(out).print(grid)
    return 0


def cmd_key(args: argparse.Namespace, out: Any) -> int:
    from sessions.core.sharing import identity

    me = identity.identity()
    owner = identity.default_owner()
    out.write(f"{me.public_text}\n")
    out.write(
        f"# fingerprint {me.fingerprint}; a teammate trusts it with:\n"
        f"#   sessions-tui trust add {owner} {me.public_text}\n"
    )
    return 0


def ls_remote(args: argparse.Namespace, out: Any) -> int:
    """``sessions-tui ls --remote NAME``: what a remote holds, newest version per name."""
    from sessions.core.sharing.remote import open_remote
    from sessions.tui.cli_show import NOTE_WIDTH
    from sessions.tui.formatting import local_time

    remote = open_remote(args.remote)
    snaps = remote.snapshots()
    rows = []
    for snap in snaps:
        try:
            manifest = remote.manifest(snap)
            rows.append(
                {
                    "ref": snap.ref,
                    "owner": snap.owner,
                    "name": snap.name,
                    "version": snap.version,
                    "created": manifest.created,
                    "variables": len(manifest.variables),
                    "stored": manifest.stored,
                    "note": manifest.note,
                    "error": None,
                }
            )
        except SessionsError as exc:
            rows.append({"ref": snap.ref, "owner": snap.owner, "name": snap.name,
                         "version": snap.version, "error": str(exc)})  # fmt: skip
    if args.json:
        from sessions.tui.cli import JSON_VERSION, finite

        json.dump(
            finite({"version": JSON_VERSION, "remote": remote.name, "snapshots": rows}),
            out,
            indent=2,
            allow_nan=False,
        )
        out.write("\n")
        return 0
    if not rows:
        out.write(f"nothing on {one_line(remote.name)} yet\n")
        return 0
    grid = table("REF", "CREATED", "VARS", "STORED", "NOTE", right=("VARS", "STORED"))
    for row in rows:
        if row["error"]:
            grid.add_row(
                styled(row["ref"], "bold"),  # escaped: from the remote's file names
                "",
                "?",
                "",
                styled(f"DAMAGED: {one_line(row['error'], NOTE_WIDTH)}", "bold red"),
            )
        else:
            grid.add_row(
                styled(row["ref"], "bold"),
                local_time(row["created"]),
                str(row["variables"]),
                human_size(row["stored"]),
                one_line(row["note"], NOTE_WIDTH),
            )
    Writer(out).print(grid)
    return 0


COMMANDS = {
    "export": cmd_export,
    "import": cmd_import,
    "remote": cmd_remote,
    "push": cmd_push,
    "pull": cmd_pull,
    "trust": cmd_trust,
    "key": cmd_key,
}
