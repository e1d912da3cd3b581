"""Exceptions raised by the library; each carries a one-line message fit to show a user."""

from __future__ import annotations


class SessionsError(Exception):
    """Base of every error the library reports to users; ``str(err)`` is one readable line."""


class RefError(SessionsError):
    """A snapshot reference that names nothing, or more than one thing."""


class UnknownRefError(RefError):
    """No snapshot matches the reference."""

    def __init__(self, ref: str, close: list[str] | None = None) -> None:
        self.ref = ref
        self.close = close or []
        hint = f"; did you mean {', '.join(self.close)}?" if self.close else ""
        super().__init__(f"no snapshot matches '{ref}'{hint}")


class AmbiguousRefError(RefError):
    """An id prefix that matches several snapshots."""

    def __init__(self, ref: str, candidates: list[str]) -> None:
        self.ref = ref
        self.candidates = candidates
        shown = ", ".join(candidates[:8]) + (" …" if len(candidates) > 8 else "")
        super().__init__(f"'{ref}' matches {len(candidates)} snapshots: {shown}")


class FormatError(SessionsError):
    """A file that is not in the format it should be: corrupt, truncated or hostile."""


class NewerFormatError(FormatError):
    """A file written by a newer major format version than this build understands."""


class StoreError(SessionsError):
    """The session directory cannot be used (unwritable, missing, locked)."""


class DiskFullError(StoreError):
    """The disk filled up while writing; nothing partial was left behind."""


class BlobError(SessionsError):
    """A stored blob is missing or does not match its hash."""


class LoadError(SessionsError):
    """A variable could not be restored."""


class NameError_(SessionsError):
    """An invalid snapshot name."""


class Cancelled(SessionsError):
    """The user stopped a long operation (a progress callback raised it); what was already
    committed stays, nothing partial is visible."""
