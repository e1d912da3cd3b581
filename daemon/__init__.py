"""The Sessions daemon: one per user and session dir. It watches the session dir, keeps the
catalog (sessions.core.store.catalog) current, serves clients over a Unix socket and applies retention.

Other packages talk to it only through :mod:`daemon.client`.
"""

__version__ = "0.1.0"
