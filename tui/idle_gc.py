"""Full garbage collections between keystrokes, not in the middle of one.

With 10,000 snapshot rows on screen, Python's automatic full (generation 2) collection
took 50–120 ms and landed on whichever keystroke happened to trigger it: a visible stall.
While the app runs, automatic full collections are pushed far out and run instead from a
timer when the user has not pressed a key for a moment. Young generations are still
collected automatically as usual, so short-lived cycles go as fast as ever.

After a big change (10,000 rows just filled), :func:`settle_soon` asks the next idle
collection to also ``gc.freeze()`` what is alive, so later full collections skip it.
"""

from __future__ import annotations

import gc
import time

IDLE_SECONDS = 1.5  # no key for this long: a full collection cannot be felt
EVERY_SECONDS = 5.0


_settle = False


def settle_soon() -> None:
    """Freeze what is alive after the next idle full collection (a big table was filled)."""
    global _settle
    _settle = True


class IdleCollector:
    def __init__(self) -> None:
        self.last_input = time.monotonic()
        self.saved: tuple[int, int, int] | None = None

    def start(self) -> None:
        if self.saved is None:
            self.saved = gc.get_threshold()
            first, second, _ = self.saved
            gc.set_threshold(first, second, 1_000_000)

    def stop(self) -> None:
        if self.saved is not None:
            gc.set_threshold(*self.saved)
            self.saved = None

    def touched(self) -> None:
        self.last_input = time.monotonic()

    def tick(self) -> None:
        """Called every few seconds: collect fully if the user is idle."""
        global _settle
        if self.saved is not None and time.monotonic() - self.last_input >= IDLE_SECONDS:
            gc.collect()
            if _settle:
                _settle = False
                gc.freeze()  # still freed by reference counting; only the cycle scan skips them
