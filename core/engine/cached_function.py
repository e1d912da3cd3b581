"""``@sessions.cache``: a function whose results are stored in the session dir by the content
of what it computes from, and returned from there instead of computed again.

The key of a call (sessions.core.engine.fingerprint) is made from the interpreter, the
function's code and the code of the session functions it calls, the globals they read, the
versions of the installed modules they use, and the content of the arguments (bound to the
signature, defaults applied, so ``f(1, b=2)`` and ``f(1, 2)`` are one call). The files the
call read are recorded as it runs (sessions.core.engine.file_inputs); a stored result is used
only while they are unchanged. A hit loads just that entry's result
(sessions.core.engine.cache). A call is not cached — and says so once with
a :class:`CacheWarning` — when an argument or a global cannot be hashed, when the function
changes an argument in place (a hit would not), or when the result cannot be stored;
exceptions are never cached. It is always computed then: a cache never changes what a call
returns.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
import types
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import blake3

from sessions.core.engine import cache as entries
from sessions.core.engine import file_inputs
from sessions.core.engine.fingerprint import Fingerprinter, FingerprintError, python_identity
from sessions.core.errors import SessionsError
from sessions.core.store.session_dir import Store

log = logging.getLogger("sessions.cache")


class CacheWarning(UserWarning):
    """A call that was computed but not cached, and why."""


class CachedFunction:
    """A function with a persistent cache; call it as the function. ``.clear()`` removes its
    entries, ``.entries()`` lists them, ``.key(*args, **kwargs)`` is a call's key, and
    ``.hits`` / ``.misses`` count this process's calls."""

    def __init__(
        self,
        func: types.FunctionType,
        *,
        home: str | Path | None = None,
        ignore: Iterable[str] = (),
        max_mb: float | None = None,
    ) -> None:
        if not isinstance(func, types.FunctionType):
            raise TypeError(f"sessions.cache needs a Python function, not {type(func).__name__}")
        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            raise TypeError(f"sessions.cache cannot store what generator {func.__name__} yields")
        if inspect.iscoroutinefunction(func):
            raise TypeError(f"sessions.cache does not support async function {func.__name__}")
        if max_mb is not None and not max_mb > 0:
            raise ValueError("max_mb must be a positive number of megabytes")
        functools.update_wrapper(self, func)
        self.func = func
        self.home = str(home) if home is not None else None
        self.ignore = frozenset(ignore)
        self.max_mb = max_mb
        self.hits = 0
        self.misses = 0
        self._written = 0
        self._checked = False
        self._config_limit: tuple[int | None] | None = None
        try:
            self._signature: inspect.Signature | None = inspect.signature(func)
        except (TypeError, ValueError):
            self._signature = None
        unknown = self.ignore - set(self._signature.parameters if self._signature else ())
        unknown -= set(func.__code__.co_names)
        if unknown:
            raise ValueError(
                f"ignore names {', '.join(sorted(unknown))}: neither a parameter of "
                f"{func.__qualname__} nor a global it reads"
            )

    # --- identity -------------------------------------------------------------------------
    @property
    def function_id(self) -> str:
        return f"{self.func.__module__}.{self.func.__qualname__}"

    @property
    def label(self) -> str:
        return self.func.__qualname__.replace("<locals>.", "")

    def __repr__(self) -> str:
        return f"<cached function {self.function_id}>"

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        """As a method: bound to the instance, which is then hashed as an argument."""
        return self if obj is None else types.MethodType(self, obj)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["hits"] = state["misses"] = state["_written"] = 0
        state["_checked"], state["_config_limit"] = False, None
        state.pop("_signature", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        try:
            self._signature = inspect.signature(self.func)
        except (TypeError, ValueError):
            self._signature = None

    def store(self) -> Store:
        return Store(self.home) if self.home is not None else Store()

    # --- keys -----------------------------------------------------------------------------
    def _arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        if self._signature is None:
            return {"*args": args, "**kwargs": kwargs}
        bound = self._signature.bind(*args, **kwargs)  # a wrong call raises as the function would
        bound.apply_defaults()
        return {k: v for k, v in bound.arguments.items() if k not in self.ignore}

    def _key(self, arguments: dict[str, Any]) -> tuple[str, dict[str, bytes]]:
        fingerprints = Fingerprinter(ignore=self.ignore)
        hasher = blake3.blake3(b"sessions-cache call\0" + python_identity())
        hasher.update(self.function_id.encode() + b"\0")
        hasher.update(fingerprints.function(self.func).encode())
        digests = self._digests(arguments, fingerprints)
        for name, digest in digests.items():
            hasher.update(name.encode() + b"\0" + digest)
        return hasher.hexdigest(), digests

    @staticmethod
    def _digests(arguments: dict[str, Any], fingerprints: Fingerprinter) -> dict[str, bytes]:
        return {
            name: fingerprints.value(value, f"argument '{name}'")
            for name, value in arguments.items()
        }

    def key(self, *args: Any, **kwargs: Any) -> str:
        """The key of this call (64 hex digits): what a stored result is found by."""
        return self._key(self._arguments(args, kwargs))[0]

    # --- calling --------------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        arguments = self._arguments(args, kwargs)
        try:
            key, digests = self._key(arguments)
        except FingerprintError as exc:
            self._warn(f"not cached: {exc}")
            return self.func(*args, **kwargs)
        store = self.store()
        found = self._lookup(store, key)
        if found is not None:
            self.hits += 1
            return found[0]
        self.misses += 1
        started = time.perf_counter()
        with file_inputs.recording() as read:
            result = self.func(*args, **kwargs)
        seconds = time.perf_counter() - started
        try:
            after = self._digests(arguments, Fingerprinter(ignore=self.ignore))
        except FingerprintError as exc:
            self._warn(f"not cached: after the call, {exc}")
            return result
        changed = [name for name, digest in digests.items() if after.get(name) != digest]
        if changed:
            self._warn(
                f"not cached: it changes argument {', '.join(repr(c) for c in changed)} in "
                "place, which a cached call would not do"
            )
            return result
        files = file_inputs.stamps(read, exclude=str(store.root))
        self._store_result(store, key, arguments, result, seconds, files)
        return result

    def _lookup(self, store: Store, key: str) -> tuple[Any] | None:
        entry = entries.find(store, self.label, key)
        if entry is None:
            return None
        changed = file_inputs.unchanged((entries.section(entry.manifest) or {}).get("files"))
        if changed is not None:
            log.info("cache entry %s not used: %s since it was computed", entry.ref, changed)
            return None
        try:
            values = entries.load_values(store, entry, [entries.RESULT], self.func.__globals__)
        except entries.UNUSABLE as exc:  # damaged (torn by a power loss?): a miss, removed
            entries.discard(store, entry, exc)
            return None
        except Exception as exc:  # untrusted or unloadable here: a miss
            log.warning("cache entry %s not used: %s", entry.ref, exc)
            return None
        entries.record_hit(store, entry.id)
        return (values[entries.RESULT],)

    def _store_result(
        self,
        store: Store,
        key: str,
        arguments: dict[str, Any],
        result: Any,
        seconds: float,
        files: list[list[Any]],
    ) -> None:
        args_text = ", ".join(
            f"{name}={_clip(entries.argument_preview(value).get('repr', '?'))}"
            for name, value in arguments.items()
        )
        try:
            saved = entries.put(
                store,
                kind="function",
                label=self.label,
                key=key,
                namespace=self.func.__globals__,
                values={entries.RESULT: result},
                note=f"{self.label}({args_text})"[:500],
                details={
                    "function": self.function_id,
                    "args": {n: entries.argument_preview(v) for n, v in arguments.items()},
                    "seconds": round(seconds, 6),
                    "files": files,
                },
            )
        except (SessionsError, OSError) as exc:
            self._warn(f"result not stored: {exc}")
            return
        if entries.RESULT in saved.skipped:
            self._warn(f"result not stored: {saved.skipped[entries.RESULT]}")
            with_result = entries.find(store, self.label, key)
            if with_result is not None:
                store.remove(with_result)
            return
        self._written += saved.stored
        self._enforce_cap(store)

    def _enforce_cap(self, store: Store) -> None:
        """Evict least recently used entries past the cap: after the first store of the
        process, then each time a tenth of the cap (at most 64 MB) has been written."""
        limit = self._limit()
        if limit is None or (self._checked and self._written < min(limit // 10, 64 << 20)):
            return
        self._checked, self._written = True, 0
        if entries.evict(store, limit):
            entries.free(store)

    def _limit(self) -> int | None:
        if self.max_mb is not None:
            return int(self.max_mb * 1024 * 1024)
        if self._config_limit is None:
            from sessions.core.config import load_config

            self._config_limit = (load_config().cache_max_bytes,)
        return self._config_limit[0]

    def _warn(self, text: str) -> None:
        warnings.warn(f"sessions.cache: {self.function_id}: {text}", CacheWarning, stacklevel=3)

    # --- managing -------------------------------------------------------------------------
    def entries(self) -> list[entries.CacheInfo]:
        """This function's stored entries (any key), oldest first."""
        return entries.entries(self.store(), function=self.function_id)

    def clear(self) -> int:
        """Remove every stored entry of this function and give their space back; returns how
        many were removed."""
        store = self.store()
        removed = entries.remove(store, entries.entries(store, function=self.function_id))
        if removed:
            entries.free(store)
        return removed


def cache(
    func: types.FunctionType | None = None,
    *,
    home: str | Path | None = None,
    ignore: Iterable[str] = (),
    max_mb: float | None = None,
) -> Any:
    """``@cache``, ``@cache(ignore=["verbose"], max_mb=500)`` or ``cache(func)``."""
    if func is None:
        return lambda f: CachedFunction(f, home=home, ignore=ignore, max_mb=max_mb)
    return CachedFunction(func, home=home, ignore=ignore, max_mb=max_mb)


def _clip(text: str, limit: int = 40) -> str:
    """``text`` cut to ``limit`` characters, saying so (an argument in a call's summary)."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
