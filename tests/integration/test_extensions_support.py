"""Helpers of the extension tests (no tests here): run a rock under runc, find its server.

The rock runs its entrypoint (pebble enter) in the host's network namespace, so its
server is reached at 127.0.0.1; nothing else is contacted. Every wait has a deadline.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import require_tool
from tests.integration.oci_tools import umoci_unpack

LISTEN = "0A"  # TCP state of a listening socket in /proc/net/tcp


@dataclass(frozen=True)
class Container:
    id: str
    bundle: Path

    def exec(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [require_tool("runc"), "exec", self.id, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    def pids(self) -> list[int]:
        out = subprocess.run(
            [require_tool("runc"), "ps", "--format", "json", self.id],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
        return json.loads(out or "[]") or []


@contextmanager
def running(rock: Path, work: Path) -> Iterator[Container]:
    """The rock unpacked and started (its entrypoint: pebble enter) in the host's network."""
    runc = require_tool("runc")
    bundle = umoci_unpack(rock, work)
    config_path = bundle / "config.json"
    config = json.loads(config_path.read_text())
    config["process"]["terminal"] = False
    namespaces = config["linux"]["namespaces"]
    config["linux"]["namespaces"] = [n for n in namespaces if n["type"] != "network"]
    config_path.write_text(json.dumps(config))
    container = Container(f"rockpack-ext-{uuid.uuid4().hex[:10]}", bundle)
    log = work / "runc.log"
    with log.open("wb") as out:
        subprocess.run(
            [runc, "run", "-d", "--bundle", str(bundle), container.id],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            timeout=60,
        )
    try:
        yield container
    finally:
        subprocess.run([runc, "kill", container.id, "KILL"], capture_output=True, check=False)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and container.pids():
            time.sleep(0.2)
        subprocess.run(
            [runc, "delete", "--force", container.id], capture_output=True, check=False, timeout=30
        )


def port_is_free(port: int) -> bool:
    return _listening_inodes(port) == set()


def get(url: str, timeout: float = 5) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # loopback only
        return response.status, response.read().decode("utf-8", "replace")


def wait_for_answer(url: str, expected: str, container: Container, timeout: float = 90) -> str:
    """The body of the first answer from ``url`` holding ``expected``; fails on timeout."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            status, body = get(url)
            if status == 200 and expected in body:
                return body
            last = f"HTTP {status}: {body[:300]}"
        except (OSError, urllib.error.URLError) as err:
            last = repr(err)
        time.sleep(0.5)
    logs = container.exec("/usr/bin/pebble", "logs", "-n", "40").stdout
    raise AssertionError(f"no answer with {expected!r} from {url} in {timeout}s: {last}\n{logs}")


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == LISTEN:
                inodes.add(fields[9])
    return inodes


def _parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def server_pid(container: Container, port: int) -> int | None:
    """The container's process that listens on ``port`` and is nearest to Pebble."""
    sockets = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    holders = set()
    for pid in container.pids():
        try:
            fds = Path(f"/proc/{pid}/fd").iterdir()
            if any(os.readlink(fd) in sockets for fd in fds):
                holders.add(pid)
        except OSError:
            continue  # the process ended meanwhile
    top = [pid for pid in holders if _parent(pid) not in holders]
    return min(top) if top else None


def kill_server_and_wait_restart(
    container: Container, port: int, url: str, expected: str, timeout: float = 60
) -> tuple[int, int]:
    """SIGKILL the server; (old pid, new pid) once Pebble has started it again and it answers."""
    old = server_pid(container, port)
    assert old is not None, f"nothing in the container listens on port {port}"
    os.kill(old, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    new = None
    while time.monotonic() < deadline:
        new = server_pid(container, port)
        if new is not None and new != old:
            break
        time.sleep(0.3)
    assert new is not None and new != old, f"the server (pid {old}) was not restarted"
    wait_for_answer(url, expected, container, timeout=timeout)
    return old, new
