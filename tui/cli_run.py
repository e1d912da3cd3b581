"""``sessions-tui run script.py [args]``: run a script cell by cell, resuming a failed or
killed run after its last completed cell (sessions.core.engine.run)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any

from sessions.core.store.session_dir import Store


def add_parsers(sub: Any) -> None:
    run = sub.add_parser(
        "run",
        help="run a script cell by cell ('# %%' markers, else statements); resume after a failure",
        description=(
            "Run SCRIPT as 'python SCRIPT ARGS' would, cell by cell, saving a checkpoint after "
            "each cell that takes CHECKPOINT_AFTER seconds or more. When the last run failed or "
            "was killed, skip the cells up to its last checkpoint whose code, arguments and "
            "local modules are unchanged, and restore their namespace."
        ),
    )
    run.add_argument(
        "--checkpoint-after",
        type=float,
        metavar="SECONDS",
        help="checkpoint after cells this slow (default: [run] checkpoint_after_seconds, 10)",
    )
    run.add_argument(
        "--fresh", action="store_true", help="run from the start, ignoring checkpoints"
    )
    run.add_argument("script")
    run.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed to the script")


def _say(text: str) -> None:
    sys.stdout.flush()
    sys.stderr.write(f"sessions-tui run: {text}\n")
    sys.stderr.flush()


def cmd_run(args: argparse.Namespace, out: Any) -> int:
    from sessions.core.engine.run import run_script

    after = args.checkpoint_after
    if after is None:
        from sessions.core.config import load_config

        after = load_config().checkpoint_after
    if after < 0:
        raise ValueError("--checkpoint-after cannot be negative")
    outcome = run_script(
        args.script,
        list(args.args),
        store=Store(args.home),
        checkpoint_after=after,
        fresh=args.fresh,
        report=_say,
    )
    sys.stdout.flush()
    if outcome.interrupted:  # as Python does: die of SIGINT so the shell sees it
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    return outcome.exit_code


COMMANDS = {"run": cmd_run}
