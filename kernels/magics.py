"""``%load_ext sessions``: the ``%sessions`` magic in IPython and Jupyter.

::

    %sessions save [NAME] [-n NOTE] [-t TAG]… [-i PATTERN]… [-x PATTERN]… [-q]
    %sessions load REF [VARIABLE …] [--keep] [--trust-once] [-q]
    %sessions list
    %sessions show REF
    %sessions auto on [--after SECONDS] [--every MINUTES] [--name NAME] | off | status
    %sessions resume [NAME] [--after SECONDS] [--fresh]   (first cell: a failed run resumes)
    %%sessions cache [-f] [-v]      (a cell magic: the cell runs once for its code and inputs)

Arguments are parsed with IPython's ``magic_arguments``, so ``%sessions?`` shows the help of
every command. A failure raises (``UsageError`` for bad arguments, the library's exception
otherwise, shown as one line), so a notebook run by nbclient or papermill stops at that cell
like at any failing cell. Results are displayed as objects: an HTML table in notebooks, text
in a terminal. Saves and loads show a progress bar while they run (``-q``: none).

Tab completion offers the commands, snapshot refs, and a snapshot's variable names.
Loadable from a profile too: ``c.InteractiveShellApp.extensions = ["sessions"]``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from sessions.core.config import AutoPolicy
from sessions.core.errors import LoadError, SessionsError
from sessions.kernels.auto import DEFAULT_AFTER, AutoSaver

SUBCOMMANDS = ["save", "load", "list", "show", "auto", "resume"]


@magic_arguments(name="sessions save")
@argument(
    "name",
    nargs="?",
    help="snapshot name; default: the notebook's or script's name, else one for this "
    "kernel or shell, never shared with another",
)
@argument("-n", "--note", help="a note kept with the snapshot")
@argument("-t", "--tag", action="append", default=[], help="a tag (repeat for more)")
@argument("-i", "--include", action="append", help="only names matching this glob (repeat)")
@argument("-x", "--exclude", action="append", help="not names matching this glob (repeat)")
@argument("-q", "--quiet", action="store_true", help="no progress bar")
def _save(line: str) -> None:
    """Save every variable of this session as the next version of NAME."""


@magic_arguments(name="sessions load")
@argument("ref", help="a snapshot: NAME (its latest version), NAME@N, or an id prefix")
@argument("names", nargs="*", help="only these variables (plus what they need)")
@argument(
    "-k",
    "--keep",
    action="store_true",
    help="keep variables this session already has instead of replacing them",
)
@argument("--trust-once", action="store_true", help="load even if the signer is not trusted")
@argument("-q", "--quiet", action="store_true", help="no progress bar")
def _load(line: str) -> None:
    """Load a snapshot's variables into this session. The output names every existing
    variable the load replaced; a variable that fails to load fails the cell (after the
    others are loaded)."""


@magic_arguments(name="sessions list")
def _list(line: str) -> None:
    """List the snapshots in the session dir, oldest first (nothing is unpickled)."""


@magic_arguments(name="sessions show")
@argument("ref", help="a snapshot: NAME, NAME@N, or an id prefix")
def _show(line: str) -> None:
    """Show what a snapshot holds: variables, types, sizes, previews (nothing is unpickled)."""


@magic_arguments(name="sessions auto")
@argument("state", nargs="?", choices=["on", "off", "status"], default="status")
@argument("--after", type=float, help="save after cells that ran this many seconds or more")
@argument("--every", type=float, help="and every this many minutes when something changed")
@argument("--name", help="snapshot name for automatic saves")
def _auto(line: str) -> None:
    """Automatic snapshots: after long cells and/or every few minutes."""


@magic_arguments(name="sessions resume")
@argument("name", nargs="?", help="the run's name; default: the notebook's path")
@argument("--after", type=float, help="checkpoint after cells that ran this many seconds or more")
@argument("--fresh", action="store_true", help="start over: skip nothing this time")
def _resume(line: str) -> None:
    """Put first in a notebook: checkpoint slow cells from here on and, when the last run
    failed or its kernel died, skip the cells unchanged since, restoring their state."""


_PARSERS: dict[str, Callable[[str], None]] = {
    "save": _save,
    "load": _load,
    "list": _list,
    "show": _show,
    "auto": _auto,
    "resume": _resume,
}


def _help() -> str:
    """The help of ``%sessions`` and each of its commands (``%sessions?``)."""
    intro = __doc__.split("Tab completion")[0].strip() if __doc__ else ""
    return intro + "\n\n" + "\n\n".join((p.__doc__ or "").strip() for p in _PARSERS.values())


def _one_line(exc: SessionsError) -> SessionsError:
    """Show ``exc`` as one line, not a traceback through IPython's machinery: IPython and
    ipykernel use ``_render_traceback_`` when an exception has one (nbclient still sees
    the exception's name and message, and stops)."""
    message = f"sessions: {exc}"
    exc._render_traceback_ = lambda: [message]  # type: ignore[attr-defined]
    return exc


@magics_class
class SessionsMagics(Magics):
    """The ``%sessions`` magic and the state it keeps in one shell (its auto-saver)."""

    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self.auto: AutoSaver | None = None

    @line_cell_magic
    def sessions(self, line: str, cell: str | None = None) -> Any:
        if cell is not None:
            return self.cell_magic(line, cell)
        words = line.strip().split(None, 1)
        if not words:
            raise UsageError("%sessions needs a command: save, load, list, show, auto or resume")
        command, rest = words[0], words[1] if len(words) > 1 else ""
        parser = _PARSERS.get(command)
        if parser is None:
            raise UsageError(
                f"%sessions has no command {command!r}: save, load, list, show, auto or resume "
                "(%sessions? for help)"
            )
        args = parse_argstring(parser, rest)
        try:
            getattr(self, f"do_{command}")(args)
        except SessionsError as exc:
            raise _one_line(exc) from None
        return None

    sessions.__doc__ = _help()

    def cell_magic(self, line: str, cell: str) -> Any:
        """``%%sessions cache [-f] [-v]``: the cell runs once for its code and inputs."""
        from sessions.kernels.cell_cache import CellCache

        words = line.split(None, 1)
        if not words or words[0] != "cache":
            raise UsageError("cell magic: %%sessions cache [-f] [-v]")
        return CellCache(self.shell).run(words[1] if len(words) > 1 else "", cell)

    # --- commands -------------------------------------------------------------------------
    def do_save(self, args: Any) -> None:
        from sessions.core.engine.save import save

        with self._progress(f"save {args.name or ''}".strip(), args.quiet) as progress:
            result = save(
                self.shell.user_ns,
                name=args.name,
                note=args.note,
                tags=args.tag,
                include=args.include,
                exclude=args.exclude,
                progress=progress,
            )
        _display(result)

    def do_load(self, args: Any) -> None:
        from sessions.core.engine.load import load
        from sessions.core.store.session_dir import Store

        with self._progress(f"load {args.ref}", args.quiet) as progress:
            report = load(
                Store(),
                args.ref,
                names=args.names or None,
                namespace=self.shell.user_ns,
                trust=args.trust_once,
                replace=not args.keep,
                progress=progress,
            )
        _display(report)
        if report.failed:
            names = ", ".join(report.failed)
            raise LoadError(
                f"{len(report.failed)} of the variables asked for did not load ({names}); "
                "the others did — see above"
            )

    def do_list(self, args: Any) -> None:
        from sessions.core.api import snapshots

        _display(snapshots())

    def do_show(self, args: Any) -> None:
        from sessions.core.api import inspect

        _display(inspect(args.ref))

    def do_auto(self, args: Any) -> None:
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

    def do_resume(self, args: Any) -> None:
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

    @contextlib.contextmanager
    def _progress(self, label: str, quiet: bool) -> Iterator[Any]:
        """A bar in the cell's output (or on the terminal) from the start, unless ``quiet``."""
        from sessions.kernels.progress import display_for

        display = None if quiet else display_for(label)
        if display is None:
            yield None
            return
        with display:
            yield display

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


def _display(value: Any) -> None:
    """Display a result: its HTML in a notebook, its text in a terminal."""
    from IPython.display import display

    display(value)


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
    magics = SessionsMagics(shell)
    shell.register_magics(magics)
    shell.set_hook("complete_command", magics.complete, str_key="%sessions")
    shell._sessions_magic = magics
    from sessions.core.config import load_config

    auto = load_config().auto
    if auto is not None:
        magics.start_auto(auto, quiet=True)


def unload_ipython_extension(shell: Any) -> None:
    magics = getattr(shell, "_sessions_magic", None)
    if magics is not None and magics.auto is not None:
        magics.auto.unregister()
    run = getattr(shell, "_sessions_resume", None)
    if run is not None:
        run.stop()
