"""``python -m sessions.daemon run|install|uninstall`` — what ``sessions-tui daemon`` runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sessions.core.errors import SessionsError
from sessions.core.paths import session_home


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sessions-tui daemon")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run in the foreground (for service managers)")
    run.add_argument("--home")
    run.add_argument("--detached", action="store_true", help=argparse.SUPPRESS)
    for name in ("install", "uninstall"):
        cmd = sub.add_parser(name)
        cmd.add_argument("--home")
        cmd.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    try:
        return _command(args)
    except SessionsError as exc:  # one line, as the sessions-tui command says it
        sys.stderr.write(f"sessions-tui daemon: {' '.join(str(exc).splitlines())}\n")
        return 1


def _command(args: argparse.Namespace) -> int:
    root = Path(args.home).expanduser().absolute() if args.home else session_home()
    if args.command == "run":
        from sessions.daemon.server import Daemon

        return Daemon(root).run(foreground=not args.detached)
    from sessions.daemon import install

    if args.dry_run:
        files = (
            install.all_files(root) if args.command == "install" else [install.for_platform(root)]
        )
        for service in files:
            verb = "would write" if args.command == "install" else "would remove"
            sys.stdout.write(f"# {service.target}: {verb} {service.path}\n{service.text}\n")
        return 0
    if args.command == "install":
        service, outcome = install.install(root)
        sys.stdout.write(f"wrote {service.path}\n{service.text}\n{outcome}\n")
        return 0
    removed = install.uninstall(root)
    sys.stdout.write(f"removed {removed.path}\n" if removed else "nothing was installed\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
