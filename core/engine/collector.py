"""Python's cyclic garbage collector, paused while a save or a load runs.

A save of 100,000 variables makes a few hundred thousand short-lived objects (records,
previews, manifest entries) and a load as many values; none of them form cycles the save or
load itself depends on freeing. Each allocation burst triggers collections, and every full
collection walks every object in the process, the user's session included: with the
collector running, the cost of a save grew faster than the session (100,000 variables cost
more than ten times 10,000). Pausing it for the duration, then putting it back as it was,
keeps the work linear; anything cyclic made meanwhile is collected at the next run.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def paused(func: F) -> F:
    """Run ``func`` with the cyclic collector off (when it was on), and turn it back on."""

    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        if not gc.isenabled():
            return func(*args, **kwargs)
        gc.disable()
        try:
            return func(*args, **kwargs)
        finally:
            gc.enable()

    return run  # type: ignore[return-value]
