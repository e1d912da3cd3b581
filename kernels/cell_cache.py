"""``%%sessions cache``: a notebook cell that runs once for its code and inputs.

The key of a cell is its code (syntax, not comments or blank lines) and the content of every
name it reads that the namespace holds (found in its bytecode, functions and comprehensions
included; session functions by their code and the globals they read, modules by version,
data by content — sessions.core.engine.fingerprint); the files it read are recorded as it
runs and a stored result is used only while they are unchanged. On a hit the cell does not run: the names it
assigned or changed in place come back from the store, the names it deleted are deleted, and
what it printed and displayed (and its value, ``Out[n]``) is shown again. On a miss it runs,
with its output shown as usual and recorded, and is stored (sessions.core.engine.cache).
``-f`` runs it whatever the store holds and stores the new result.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import contextlib
import sys
import time
from collections.abc import Iterator
from typing import Any

import blake3

from sessions.core.engine import cache as entries
from sessions.core.engine import cells, file_inputs
from sessions.core.engine.capture import is_ipython_name
from sessions.core.engine.fingerprint import (
    Fingerprinter,
    FingerprintError,
    code_info,
    python_identity,
)

RESULT = "__result__"
LABEL = "cell"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        from IPython.core.error import UsageError

        raise UsageError(f"%%sessions cache: {message}")


def parser() -> argparse.ArgumentParser:
    parsed = _Parser(prog="%%sessions cache", add_help=False)
    parsed.add_argument("-f", "--force", action="store_true", help="run it and store anew")
    parsed.add_argument("-v", "--verbose", action="store_true", help="say whether it ran")
    return parsed


class _Tee:
    """A stream that writes through and keeps a copy of what was written, in order."""

    def __init__(self, stream: Any, name: str, record: list[tuple[Any, ...]]) -> None:
        self._stream, self._name, self._record = stream, name, record

    def write(self, text: str) -> int:
        if text:
            last = self._record[-1] if self._record else None
            if last is not None and last[0] == "stream" and last[1] == self._name:
                self._record[-1] = ("stream", self._name, last[2] + text)
            else:
                self._record.append(("stream", self._name, text))
        return self._stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def _recording(shell: Any, record: list[tuple[Any, ...]]) -> Iterator[None]:
    """Record the cell's output while it is shown as usual: stdout, stderr, display calls."""
    publisher = shell.display_pub
    original = publisher.publish

    def publish(data: Any, metadata: Any = None, *args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("transient") and not kwargs.get("update"):
            record.append(("display", dict(data or {}), dict(metadata or {})))
        return original(data, metadata, *args, **kwargs)

    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Tee(out, "stdout", record), _Tee(err, "stderr", record)
    publisher.publish = publish
    try:
        yield
        backend = sys.modules.get("matplotlib_inline.backend_inline")
        if backend is not None:  # inline figures are shown after the cell: show them now
            with contextlib.suppress(Exception):
                backend.flush_figures()
    finally:
        sys.stdout, sys.stderr = out, err
        with contextlib.suppress(AttributeError):
            del publisher.publish  # the class's method again


def _replay(record: Any, *, value_back: bool) -> None:
    """Show recorded output again; the cell's value is shown as display data only when it
    could not be stored (else it is returned, and IPython shows it as ``Out[n]``)."""
    from IPython.display import publish_display_data

    if not isinstance(record, list):
        return
    for item in record:
        if not isinstance(item, tuple) or not item:
            continue
        if item[0] == "stream" and len(item) == 3 and isinstance(item[2], str):
            stream = sys.stderr if item[1] == "stderr" else sys.stdout
            stream.write(item[2])
            stream.flush()
        elif item[0] in ("display", "result") and len(item) == 3 and isinstance(item[1], dict):
            if item[0] == "result" and value_back:
                continue
            publish_display_data(item[1], item[2] if isinstance(item[2], dict) else {})


class CellCache:
    """Runs cached cells in one shell."""

    def __init__(self, shell: Any, home: Any = None) -> None:
        self.shell = shell
        self.home = home

    def store(self) -> Any:
        from sessions.core.store.session_dir import Store

        return Store(self.home) if self.home is not None else Store()

    def run(self, line: str, cell: str) -> Any:
        import shlex

        args = parser().parse_args(shlex.split(line))
        ns = self.shell.user_ns
        source = self.shell.transform_cell(cell)
        tree = ast.parse(source)
        whole = compile(tree, "<cell>", "exec")
        _, assigns, deletes = cells.names(whole)
        reads = cells.inputs(tree) - {"__builtins__"}
        try:
            key, before = self._key(tree, whole, reads, ns)
        except FingerprintError as exc:
            print(f"sessions: cell not cached: {exc}", file=sys.stderr)
            return self._execute(source, tree, [])
        store = self.store()
        if not args.force:
            found = entries.find(store, LABEL, key)
            section = entries.section(found.manifest) if found is not None else None
            changed = file_inputs.unchanged((section or {}).get("files"))
            if found is not None and changed is not None and args.verbose:
                print(f"sessions: {changed} since the cell ran: running it", file=sys.stderr)
            if found is not None and changed is None:
                done, value = self._restore(store, found)
                if done:
                    if args.verbose:
                        self._said_hit(store, found)
                    return value
        record: list[tuple[Any, ...]] = []
        started = time.perf_counter()
        with _recording(self.shell, record), file_inputs.recording() as read:
            value = self._execute(source, tree, record)
        seconds = time.perf_counter() - started
        changed = self._changed(before, whole, ns)
        files = file_inputs.stamps(read, exclude=str(store.root))
        self._store(store, key, source, assigns, deletes, changed, record, value, seconds, files)
        if args.verbose:
            print(f"sessions: ran the cell ({seconds:.2f} s) and stored it", file=sys.stderr)
        return value

    # --- key ------------------------------------------------------------------------------
    def _inputs(self, reads: set[str], ns: dict[str, Any]) -> list[str]:
        return sorted(n for n in reads if n in ns and not is_ipython_name(n))

    def _key(
        self, tree: ast.Module, whole: Any, reads: set[str], ns: dict[str, Any]
    ) -> tuple[str, dict[str, bytes]]:
        """The cell's key, and the digest of each input (to see afterwards which the cell
        changed in place)."""
        hasher = blake3.blake3(b"sessions-cache cell\0" + python_identity())
        hasher.update(cells.digest_of(tree.body).encode())
        fingerprints = Fingerprinter()
        attributes = code_info(whole).attributes
        available = set(vars(builtins))
        digests: dict[str, bytes] = {}
        for name in sorted(reads):
            hasher.update(name.encode() + b"\0")
            if name in ns and not is_ipython_name(name):
                digests[name] = fingerprints.reference(ns[name], attributes, f"'{name}'")
                hasher.update(digests[name])
            elif name in available:
                hasher.update(b"builtin")
            else:
                hasher.update(b"missing")
        return hasher.hexdigest(), digests

    def _changed(self, before: dict[str, bytes], whole: Any, ns: dict[str, Any]) -> set[str]:
        """Inputs the cell changed in place (``items.append(x)``, ``df["c"] = …``): a hit
        must bring them back too."""
        fingerprints = Fingerprinter()
        attributes = code_info(whole).attributes
        changed = set()
        for name, digest in before.items():
            if name not in ns:
                continue
            try:
                now = fingerprints.reference(ns[name], attributes, name)
            except FingerprintError:
                now = b""
            if now != digest:
                changed.add(name)
        return changed

    # --- running --------------------------------------------------------------------------
    def _execute(self, source: str, tree: ast.Module, record: list[tuple[Any, ...]]) -> Any:
        """Run the cell in the user namespace; the value of a last expression is returned
        (IPython shows it as ``Out[n]``)."""
        ns = self.shell.user_ns
        filename = self.shell.compile.cache(source)
        last = None
        body = list(tree.body)
        if body and isinstance(body[-1], ast.Expr):
            last = ast.Expression(body.pop().value)
        exec(compile(ast.Module(body=body, type_ignores=[]), filename, "exec"), ns)
        if last is None:
            return None
        value = eval(compile(last, filename, "eval"), ns)
        if value is not None:
            data, metadata = self.shell.display_formatter.format(value)
            record.append(("result", data, metadata))
        return value

    def _store(
        self,
        store: Any,
        key: str,
        source: str,
        assigns: set[str],
        deletes: set[str],
        changed: set[str],
        record: list[tuple[Any, ...]],
        value: Any,
        seconds: float,
        files: list[list[Any]],
    ) -> None:
        ns = self.shell.user_ns
        keep = sorted(
            n
            for n in (assigns | changed)
            if n in ns and not is_ipython_name(n) and not entries.closed_file(ns[n])
        )
        values: dict[str, Any] = {name: ns[name] for name in keep}
        values[entries.OUTPUTS] = list(record)
        if value is not None:
            values[RESULT] = value
        title = next((x.strip() for x in source.splitlines() if x.strip()), "")[:200]
        try:
            saved = entries.put(
                store,
                kind="cell",
                label=LABEL,
                key=key,
                namespace=ns,
                values=values,
                note=title,
                details={
                    "code": source[:20_000],
                    "assigns": keep,
                    "deletes": sorted(n for n in deletes if n not in ns),
                    "seconds": round(seconds, 6),
                    "files": files,
                },
            )
        except Exception as exc:  # never lose the user's cell over the cache
            print(f"sessions: cell ran but was not stored: {exc}", file=sys.stderr)
            return
        lost = sorted(set(saved.skipped) - {RESULT})
        if lost:
            found = entries.find(store, LABEL, key)
            if found is not None:
                store.remove(found)
            reasons = "; ".join(f"{n}: {saved.skipped[n]}" for n in lost)
            print(f"sessions: cell ran but was not cached ({reasons})", file=sys.stderr)

    # --- a hit ----------------------------------------------------------------------------
    def _restore(self, store: Any, entry: Any) -> tuple[bool, Any]:
        """Bring the cell's names back and show its output again; (False, None) when the
        entry cannot be used (then the cell runs)."""
        from sessions.core.engine.load import load_entry

        ns = self.shell.user_ns
        raw = entries.section(entry.manifest) or {}
        saved = {name: ns[name] for name in (entries.OUTPUTS, RESULT) if name in ns}
        try:
            report = load_entry(store, entry, namespace=ns)
        except Exception as exc:
            if isinstance(exc, entries.UNUSABLE):
                entries.discard(store, entry, exc)
            print(f"sessions: cached cell not used ({exc}); running it", file=sys.stderr)
            return False, None
        try:
            if report.failed:
                reasons = "; ".join(f"{n}: {r}" for n, r in report.failed.items())
                entries.discard(store, entry, reasons)  # the run stores a sound one
                print(f"sessions: cached cell not used ({reasons}); running it", file=sys.stderr)
                return False, None
            outputs = ns.get(entries.OUTPUTS)
            value = ns.get(RESULT)
        finally:
            for name in (entries.OUTPUTS, RESULT):
                ns.pop(name, None)
            ns.update(saved)
        for name in raw.get("deletes") or []:
            if isinstance(name, str):
                ns.pop(name, None)
        entries.record_hit(store, entry.id)
        _replay(outputs, value_back=value is not None)
        return True, value

    def _said_hit(self, store: Any, entry: Any) -> None:
        raw = entries.section(entry.manifest) or {}
        took = raw.get("seconds")
        count, _ = entries.hits(store, entry.id)
        took_text = f", it took {took:.2f} s" if isinstance(took, (int, float)) else ""
        print(
            f"sessions: cached cell, not run ({entry.ref}{took_text}; {count} hits)",
            file=sys.stderr,
        )
