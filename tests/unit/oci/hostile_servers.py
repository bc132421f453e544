"""Registries that misbehave on purpose (on 127.0.0.1 only), and a bounded child runner."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

from tests.conftest import REPO

Handler = Callable[[socket.socket, bytes], None]


@contextmanager
def hostile_server(handler: Handler) -> Iterator[str]:
    """Serve ``handler(connection, request_head)`` on a free loopback port; yield host:port."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    stop = threading.Event()
    connections: list[socket.socket] = []

    def serve_one(connection: socket.socket) -> None:
        with suppress(OSError):
            connection.settimeout(30)
            for _ in range(100):  # requests on one kept-alive connection
                head = b""
                while b"\r\n\r\n" not in head and len(head) < 65536:
                    chunk = connection.recv(4096)
                    if not chunk:
                        return
                    head += chunk
                handler(connection, head)

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            connections.append(connection)
            threading.Thread(target=serve_one, args=(connection,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in connections:
            with suppress(OSError):
                connection.close()
        server.close()


def drip(data: bytes, every: float, stop_after: float = 60.0) -> Handler:
    """A handler that sends ``data`` one byte per ``every`` seconds (for a bounded time)."""

    def handle(connection: socket.socket, head: bytes) -> None:
        deadline = time.monotonic() + stop_after
        for byte in data:
            if time.monotonic() > deadline:
                return
            connection.sendall(bytes([byte]))
            time.sleep(every)

    return handle


def answer(status: str, headers: dict[str, str], body: bytes = b"", *, repeat: int = 1) -> Handler:
    """A handler that answers once with ``body`` (sent ``repeat`` times)."""

    def handle(connection: socket.socket, head: bytes) -> None:
        lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers.items())]
        connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        for _ in range(repeat):
            connection.sendall(body)

    return handle


@dataclass(frozen=True)
class Bounded:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    max_rss_mb: float


def run_bounded(code: str, *, memory_mb: int = 768, timeout: float = 60.0) -> Bounded:
    """Run ``code`` in a child Python limited to ``memory_mb`` of address space."""

    def limit() -> None:
        limit_bytes = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))

    wrapped = (
        "try:\n"
        + textwrap.indent(textwrap.dedent(code), "    ")
        # VmHWM is this program's own peak: ru_maxrss would also count the copy of
        # pytest's memory the child held between fork and exec.
        + "\nfinally:\n    with open('/proc/self/status') as _status:\n"
        + "        print('PEAK_RSS_KB', next(l.split()[1] for l in _status"
        + " if l.startswith('VmHWM:')))\n"
    )
    started = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-c", wrapped],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=limit,  # only sets a limit, before exec
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        stdout, stderr = child.communicate(timeout=timeout)
    finally:
        child.kill()
    seconds = time.monotonic() - started
    peak = [line.split()[1] for line in stdout.splitlines() if line.startswith("PEAK_RSS_KB")]
    return Bounded(child.returncode, stdout, stderr, seconds, int(peak[0]) / 1024 if peak else -1)
