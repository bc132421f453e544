"""Ordered work off the caller's thread."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class SerialLane:
    """Runs calls one at a time, in the order given, on a thread of their own.

    For the work that must see the stream in order (hashes, the blob file) so that it
    overlaps with the caller's. At most ``limit`` calls wait; errors surface in the
    caller at the next ``submit`` or at ``drain``.
    """

    def __init__(self, limit: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._pending: deque[Future[None]] = deque()
        self._limit = limit

    def submit(self, call: Callable[..., None], *args: Any) -> None:
        self._pending.append(self._pool.submit(call, *args))
        while len(self._pending) > self._limit or (self._pending and self._pending[0].done()):
            self._pending.popleft().result()

    def drain(self) -> None:
        try:
            while self._pending:
                self._pending.popleft().result()
        finally:
            self._pool.shutdown(cancel_futures=True)

    def abandon(self) -> None:
        self._pool.shutdown(cancel_futures=True)
