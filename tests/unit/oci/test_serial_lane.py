"""The serial lane keeps order, bounds what waits, and hands errors back."""

from __future__ import annotations

import threading
import time

import pytest

from rockpack.oci.serial_lane import SerialLane

main = threading.main_thread()


def test_calls_run_in_order_off_the_callers_thread():
    seen: list[tuple[int, bool]] = []
    lane = SerialLane(limit=4)
    for number in range(50):
        lane.submit(lambda n: seen.append((n, threading.current_thread() is main)), number)
    lane.drain()
    assert [n for n, _ in seen] == list(range(50))
    assert not any(on_main for _, on_main in seen)


def test_at_most_limit_calls_wait():
    lane = SerialLane(limit=2)
    started = time.monotonic()
    for _ in range(5):
        lane.submit(time.sleep, 0.05)
    # Submitting the fifth had to wait for the first two: the caller was held back.
    assert time.monotonic() - started >= 0.1
    lane.drain()


def test_an_error_reaches_the_caller():
    def fail() -> None:
        raise OSError("disk full")

    lane = SerialLane(limit=8)
    with pytest.raises(OSError, match="disk full"):  # at the next submit, or at drain
        lane.submit(fail)
        time.sleep(0.05)
        lane.submit(time.sleep, 0)
        lane.drain()
