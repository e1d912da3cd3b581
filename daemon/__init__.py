"""The Sessions daemon: one per user and session dir. It watches the session dir, keeps the
catalog (sessions.core.store.catalog) current, serves clients over a Unix socket and applies retention.

Other packages talk to it only through :mod:`sessions.daemon.client`.
"""

from sessions import __version__  # the distribution's, written once

__all__ = ["__version__"]
