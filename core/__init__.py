"""The Sessions library: store, capture, preview, load, verify and gc of Python session snapshots.

`core` knows nothing of the terminal UI or the daemon; both build on it.
"""

from sessions.core.errors import SessionsError

__all__ = ["SessionsError"]
