"""``sessions-tui cache ls|rm|clear``: the stored results of cached functions and cells."""

from __future__ import annotations

import argparse
import fnmatch
import json
from typing import Any

from sessions.core.engine import cache
from sessions.core.errors import RefError
from sessions.core.store.session_dir import Store
from sessions.tui.cli_output import Writer, styled, table
from sessions.tui.formatting import human_size, iso_utc, local_time, plural


def add_parsers(sub: Any) -> None:
    parser = sub.add_parser(
        "cache", help="stored results of @sessions.cache and %%%%sessions cache: ls, rm, clear"
    )
    actions = parser.add_subparsers(dest="cache_action", metavar="ACTION", required=True)
    ls = actions.add_parser("ls", help="list cache entries, oldest first")
    ls.add_argument("pattern", nargs="?", help="only functions matching this glob ('*fit*')")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    rm = actions.add_parser("rm", help="remove cache entries by ref or id")
    rm.add_argument("refs", nargs="+", metavar="REF")
    clear = actions.add_parser(
        "clear", help="remove every cache entry (or a function's) and free their space"
    )
    clear.add_argument("pattern", nargs="?", help="only functions matching this glob")


def _matching(store: Store, pattern: str | None) -> list[cache.CacheInfo]:
    infos = cache.entries(store)
    if pattern is None:
        return infos
    return [
        i
        for i in infos
        if fnmatch.fnmatchcase(i.function or i.label, pattern)
        or fnmatch.fnmatchcase(i.label, pattern)
    ]


def _json(info: cache.CacheInfo) -> dict[str, Any]:
    return {
        "ref": info.ref,
        "id": info.id,
        "kind": info.kind,
        "function": info.function or info.label,
        "key": info.key,
        "created": iso_utc(info.created),
        "last_used": iso_utc(info.last_used),
        "hits": info.hits,
        "stored": info.stored,
        "seconds": info.seconds,
        "pinned": info.pinned,
        "note": info.entry.manifest.note if info.entry.manifest else "",
    }


def cmd_cache(args: argparse.Namespace, out: Any) -> int:
    store = Store(args.home)
    store.check_format()
    action = args.cache_action
    if action == "ls":
        infos = _matching(store, args.pattern)
        if args.json:
            json.dump({"version": 1, "entries": [_json(i) for i in infos]}, out, indent=2)
            out.write("\n")
            return 0
        if not infos:
            out.write(f"no cache entries in {store.root}\n")
            return 0
        grid = table(
            "REF", "HITS", "STORED", "TOOK", "LAST USED", "CALL", right=("HITS", "STORED", "TOOK")
        )
        for info in infos:
            note = info.entry.manifest.note if info.entry.manifest else ""
            grid.add_row(
                styled(info.ref, "bold"),
                str(info.hits),
                human_size(info.stored),
                f"{info.seconds:.2f} s",
                local_time(info.last_used),
                note.splitlines()[0][:80] if note else info.label,
            )
        writer = Writer(out)
        writer.print(grid)
        writer.line(
            f"{plural(len(infos), 'entry', 'entries')}, "
            f"{human_size(cache.total_bytes(infos))} stored, "
            f"{plural(sum(i.hits for i in infos), 'hit')}"
        )
        return 0
    if action == "rm":
        chosen = []
        for ref in args.refs:
            entry = store.resolve(ref)
            info = cache.describe(store, entry)
            if info is None:
                raise RefError(f"{entry.ref} is not a cache entry (use 'sessions-tui rm')")
            chosen.append(info)
        cache.remove(store, chosen)
        for info in chosen:
            out.write(f"removed {info.ref} ({info.id})\n")
        freed = cache.free(store, timeout=30.0)
        out.write(f"{human_size(freed)} freed\n")
        return 0
    infos = _matching(store, args.pattern)
    removed = cache.remove(store, infos)
    freed = cache.free(store, timeout=30.0) if removed else 0
    out.write(
        f"removed {plural(removed, 'cache entry', 'cache entries')}, {human_size(freed)} freed\n"
    )
    return 0


COMMANDS = {"cache": cmd_cache}
