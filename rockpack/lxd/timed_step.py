"""Long clean-build steps show what is happening and for how long, on any terminal."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from craft_cli import emit

TICK_SECONDS = 5.0


@contextmanager
def timed_step(message: str, *, tick: float = TICK_SECONDS) -> Iterator[None]:
    """Show ``message``, then its elapsed time every ``tick`` seconds, then how long it took.

    craft-cli's own spinner only ticks on a terminal; in CI logs a silent minute looks hung.
    """
    started = time.monotonic()
    done = threading.Event()

    def ticker() -> None:
        while not done.wait(tick):
            emit.progress(f"{message} ({time.monotonic() - started:.0f}s)")

    emit.progress(message)
    thread = threading.Thread(target=ticker, name="timed-step", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
    emit.progress(f"{message}: done in {time.monotonic() - started:.1f}s", permanent=True)
