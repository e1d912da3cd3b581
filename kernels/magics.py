"""``%load_ext sessions``: the ``%sessions`` magic in IPython and Jupyter.

::

    %sessions save [NAME] [-n NOTE] [-t TAG]… [-i PATTERN]… [-x PATTERN]…
    %sessions load REF [VARIABLE …] [--trust-once]
    %sessions list
    %sessions show REF
    %sessions auto on [--after SECONDS] [--every MINUTES] [--name NAME] | off | status
    %sessions resume [NAME] [--after SECONDS] [--fresh]   (first cell: a failed run resumes)
    %%sessions cache [-f] [-v]      (a cell magic: the cell runs once for its code and inputs)

Tab completion offers the subcommands, snapshot refs, and a snapshot's variable names.
Loadable from a profile too: ``c.InteractiveShellApp.extensions = ["sessions"]``.
"""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from sessions.core.config import AutoPolicy
from sessions.core.units import human_size
from sessions.kernels.auto import DEFAULT_AFTER, AutoSaver

SUBCOMMANDS = ["save", "load", "list", "show", "auto", "resume"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(f"%sessions {self.prog.split()[-1]}: {message}")


class _UsageError(Exception):
    pass


def _parsers() -> dict[str, argparse.ArgumentParser]:
    save = _Parser(prog="sessions save", add_help=False)
    save.add_argument("name", nargs="?")
    save.add_argument("-n", "--note")
    save.add_argument("-t", "--tag", action="append", default=[])
    save.add_argument("-i", "--include", action="append")
    save.add_argument("-x", "--exclude", action="append")
    load = _Parser(prog="sessions load", add_help=False)
    load.add_argument("ref")
    load.add_argument("names", nargs="*")
    load.add_argument("--trust-once", action="store_true")
    show = _Parser(prog="sessions show", add_help=False)
    show.add_argument("ref")
    auto = _Parser(prog="sessions auto", add_help=False)
    auto.add_argument("state", nargs="?", choices=["on", "off", "status"], default="status")
    auto.add_argument("--after", type=float)
    auto.add_argument("--every", type=float)
    auto.add_argument("--name")
    resume = _Parser(prog="sessions resume", add_help=False)
    resume.add_argument("name", nargs="?")
    resume.add_argument("--after", type=float)
    resume.add_argument("--fresh", action="store_true")
    return {"save": save, "load": load, "show": show, "auto": auto, "resume": resume}


class SessionsMagic:
    """The state of the extension in one shell: its auto-saver, if any."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.auto: AutoSaver | None = None
        self.parsers = _parsers()

    # --- the magic ----------------------------------------------------------------------
    def __call__(self, line: str, cell: str | None = None) -> Any:
        from sessions.core.errors import SessionsError

        if cell is not None:
            return self.cell_magic(line, cell)

        try:
            words = shlex.split(line)
        except ValueError as exc:
            print(f"%sessions: {exc}")
            return None
        if not words or words[0] not in SUBCOMMANDS:
            print(__doc__.split("::", 1)[1].split("Tab completion")[0].rstrip())
            return None
        command, rest = words[0], words[1:]
        try:
            args = self.parsers[command].parse_args(rest) if command in self.parsers else None
            return getattr(self, f"do_{command}")(args)
        except _UsageError as exc:
            if command == "resume":  # a run must not go on as if it could resume
                from IPython.core.error import UsageError

                raise UsageError(str(exc)) from None
            print(exc)
        except SessionsError as exc:
            print(f"sessions: {exc}")
        return None

    def cell_magic(self, line: str, cell: str) -> Any:
        """``%%sessions cache [-f] [-v]``: the cell runs once for its code and inputs."""
        from IPython.core.error import UsageError

        from sessions.kernels.cell_cache import CellCache

        words = line.split(None, 1)
        if not words or words[0] != "cache":
            raise UsageError("cell magic: %%sessions cache [-f] [-v]")
        return CellCache(self.shell).run(words[1] if len(words) > 1 else "", cell)

    def do_save(self, args: argparse.Namespace) -> None:
        from sessions.core.engine.save import save

        result = save(
            self.shell.user_ns,
            name=args.name,
            note=args.note,
            tags=args.tag,
            include=args.include,
            exclude=args.exclude,
        )
        print(result)

    def do_load(self, args: argparse.Namespace) -> None:
        from sessions.core.engine.load import load
        from sessions.core.store.session_dir import Store

        report = load(
            Store(), args.ref, names=args.names or None, namespace=self.shell.user_ns,
            trust=args.trust_once,
        )  # fmt: skip
        print(report)

    def do_list(self, args: None) -> None:
        from sessions.core.api import snapshots

        items = snapshots()
        if not items:
            print("no snapshots yet: %sessions save NAME")
        for item in items[-50:]:
            note = f"DAMAGED: {item.error}" if item.error else item.note
            count = "?" if item.error else str(len(item.variables))
            print(f"{item.ref:<32} {count:>4} vars  {human_size(item.stored):>9}  {note}")

    def do_show(self, args: argparse.Namespace) -> None:
        from sessions.core.api import inspect

        item = inspect(args.ref)
        print(f"{item.ref}  ({item.id})" + (f"  DAMAGED: {item.error}" if item.error else ""))
        if item.note:
            print(f"note: {item.note}")
        for name, kind in item.variables.items():
            print(f"  {name:<24} {kind}")
        for name, why in item.skipped.items():
            print(f"  {name:<24} skipped: {why}")

    def do_auto(self, args: argparse.Namespace) -> None:
        if args.state == "off":
            if self.auto is not None:
                self.auto.unregister()
                self.auto = None
            print("sessions: automatic snapshots off")
            return
        if args.state == "on":
            config = AutoPolicy(
                after=args.after if args.after is not None else (
                    DEFAULT_AFTER if args.every is None else None
                ),
                every=args.every,
                name=args.name,
            )  # fmt: skip
            self.start_auto(config)
            return
        state = f"on: {self.auto.config.describe()}" if self.auto else "off"
        print(f"sessions: automatic snapshots {state}")

    def do_resume(self, args: argparse.Namespace) -> None:
        """Checkpoint slow cells from here on and, when the last run of this notebook failed
        or its kernel died, skip the cells unchanged since (sessions.kernels.resume)."""
        from IPython.core.error import UsageError

        from sessions.core.config import load_config
        from sessions.core.store.session_dir import Store
        from sessions.kernels.resume import NAME_RE, NotebookRun, default_key

        if args.name is not None and not NAME_RE.fullmatch(args.name):
            raise UsageError(
                f"%sessions resume: {args.name!r} is not a run name (letters, digits, '.', "
                "'_' and '-', at most 100)"
            )
        key = args.name or default_key(self.shell)
        if key is None:
            raise UsageError(
                "%sessions resume: this kernel does not know which notebook it runs "
                "(nbclient and papermill do not say): name the run, e.g. "
                "%sessions resume my-analysis"
            )
        after = args.after if args.after is not None else load_config().checkpoint_after
        if not after >= 0:
            raise UsageError("%sessions resume: --after must be 0 or more seconds")
        NotebookRun(self.shell, key, Store(), after, fresh=args.fresh).start()

    def start_auto(self, config: AutoPolicy, *, quiet: bool = False) -> None:
        if self.auto is not None:
            self.auto.unregister()
        self.auto = AutoSaver(self.shell, config)
        self.auto.register()
        if not quiet:
            print(f"sessions: automatic snapshots on, {config.describe()}")

    # --- completion -----------------------------------------------------------------------
    def complete(self, _shell: Any, event: Any) -> list[str]:
        words = event.line.split()
        typing_new = event.line.endswith(" ")
        position = len(words) - (0 if typing_new else 1)  # index of the word being typed
        if position <= 1:
            return SUBCOMMANDS
        command = words[1]
        if command in ("load", "show") and position == 2:
            return _refs()
        if command == "load" and position >= 3:
            return _variables(words[2])
        if command == "auto" and position == 2:
            return ["on", "off", "status"]
        if command == "resume":
            return ["--after", "--fresh"]
        return []


def _refs() -> list[str]:
    from sessions.core.store.session_dir import Store

    refs: list[str] = []
    try:
        for entry in Store().entries(foreign=False):
            refs.append(entry.ref)
            if entry.name not in refs:
                refs.append(entry.name)
    except Exception:
        return []
    return refs


def _variables(ref: str) -> list[str]:
    from sessions.core.store.session_dir import Store

    try:
        entry = Store().resolve(ref)
    except Exception:
        return []
    if entry.manifest is None:
        return []
    return [v.name for v in entry.manifest.variables] + [i.name for i in entry.manifest.imports]


def load_ipython_extension(shell: Any) -> None:
    magic = SessionsMagic(shell)
    shell.register_magic_function(magic, magic_kind="line_cell", magic_name="sessions")
    shell.set_hook("complete_command", magic.complete, str_key="%sessions")
    shell._sessions_magic = magic
    from sessions.core.config import load_config

    auto = load_config().auto
    if auto is not None:
        magic.start_auto(auto, quiet=True)


def unload_ipython_extension(shell: Any) -> None:
    magic = getattr(shell, "_sessions_magic", None)
    if magic is not None and magic.auto is not None:
        magic.auto.unregister()
    run = getattr(shell, "_sessions_resume", None)
    if run is not None:
        run.stop()
