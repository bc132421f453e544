"""A time limit for one exchange with a server, enforced even while a read blocks.

Socket timeouts bound each wait for a byte, not the exchange: a server that drips one
byte a second never trips them. A ``Deadline`` runs a watchdog timer; when it passes,
the watchdog calls the aborts registered for the exchange (the transport registers
one that shuts its socket down), so the blocked read returns at once. With
``renew_every``, every that many bytes received push the deadline on by its length: a
slow but steady download continues, a drip does not.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar

_CURRENT: ContextVar[Deadline | None] = ContextVar("rockpack_deadline", default=None)


class Deadline:
    def __init__(self, seconds: float, *, renew_every: int | None = None) -> None:
        self.seconds = seconds
        self._at = time.monotonic() + seconds
        self._renew_every = renew_every
        self._since_renewal = 0
        self._aborts: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._closed = False
        self.expired = False
        self._timer: threading.Timer | None = None
        self._arm(seconds)

    def remaining(self) -> float:
        return 0.0 if self.expired else max(0.0, self._at - time.monotonic())

    def watch(self, abort: Callable[[], None]) -> None:
        """Call ``abort`` when the deadline passes (at once if it has)."""
        with self._lock:
            if not self.expired:
                self._aborts.append(abort)
                return
        with suppress(Exception):
            abort()

    def progress(self, received: int) -> None:
        """Count bytes that arrived (or left); enough of them renew the deadline."""
        if self._renew_every is None:
            return
        self._since_renewal += received
        if self._since_renewal >= self._renew_every:
            self._since_renewal = 0
            self._at = time.monotonic() + self.seconds

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._aborts.clear()
            if self._timer is not None:
                self._timer.cancel()

    @contextmanager
    def active(self) -> Iterator[Deadline]:
        """Make this the deadline the transport sees (see ``current``) in the block."""
        token = _CURRENT.set(self)
        try:
            yield self
        finally:
            _CURRENT.reset(token)

    def _arm(self, delay: float) -> None:
        timer = threading.Timer(delay, self._fire)
        timer.daemon = True
        self._timer = timer
        timer.start()

    def _fire(self) -> None:
        with self._lock:
            if self._closed:
                return
            left = self._at - time.monotonic()
            if left > 0:  # renewed since the timer was set
                self._arm(left)
                return
            self.expired = True
            aborts, self._aborts = self._aborts, []
        for abort in aborts:
            with suppress(Exception):
                abort()


def current() -> Deadline | None:
    """The deadline of the exchange running in this context, if any."""
    return _CURRENT.get()
