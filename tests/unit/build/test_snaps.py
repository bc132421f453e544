"""Snaps: snapd answers before any part runs, and an unreachable store is said plainly.

A fake snapd answers on a unix socket in the test's directory, with canned JSON by path.
"""

from __future__ import annotations

import http.server
import json
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from rockpack.build.snaps import (
    Snapd,
    SnapUse,
    check_snapd,
    check_snaps_available,
    snaps_of,
)
from rockpack.errors import ProviderError

GO = SnapUse("hello", "build-snaps", "go/1.22/stable")


class FakeSnapd:
    def __init__(self, socket: Path) -> None:
        self.socket = socket
        self.answers: dict[str, tuple[int, dict]] = {}
        self.asked: list[str] = []


@pytest.fixture
def snapd(tmp_path) -> Iterator[FakeSnapd]:
    fake = FakeSnapd(tmp_path / "snapd.socket")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fake.asked.append(self.path)
            status, body = fake.answers.get(self.path, (404, {"result": {"kind": "x"}}))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def address_string(self) -> str:
            return "snapd-client"

        def log_message(self, *args: object) -> None:
            pass

    server = socketserver.ThreadingUnixStreamServer(str(fake.socket), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def test_snaps_are_read_from_both_keys_with_their_channels():
    parts = {
        "a": {"build-snaps": ["go/1.22/stable", "node@20/edge"]},
        "b": {"stage-snaps": [" yq "], "plugin": "nil"},
        "c": {"plugin": "nil"},
    }
    uses = snaps_of(parts)
    assert [(u.part, u.key, u.name) for u in uses] == [
        ("a", "build-snaps", "go"),
        ("a", "build-snaps", "node"),
        ("b", "stage-snaps", "yq"),
    ]
    assert uses[0].where == "'go/1.22/stable' (build-snaps of part 'a')"


def test_without_snaps_snapd_is_not_needed(tmp_path):
    check_snapd([], managed=False, snapd=Snapd(tmp_path / "none"))


def test_a_host_without_snapd_is_told_before_any_part_runs(tmp_path):
    with pytest.raises(ProviderError) as info:
        check_snapd([GO], managed=False, snapd=Snapd(tmp_path / "none"))
    assert info.value.brief == (
        "The parts need snaps ('go/1.22/stable' (build-snaps of part 'hello')), and this host "
        "has no snapd to install them."
    )
    assert info.value.details == f"there is no {tmp_path / 'none'}"
    assert "apt install snapd" in info.value.resolution
    assert "clean LXD instance" in info.value.resolution


def test_in_a_clean_instance_a_missing_snapd_says_to_remake_it(tmp_path):
    with pytest.raises(ProviderError, match="snapd does not answer in the build instance") as info:
        check_snapd([GO], managed=True, snapd=Snapd(tmp_path / "none"))
    assert "rockpack clean --all" in info.value.resolution


def test_a_socket_nobody_answers_on_is_no_snapd(tmp_path):
    dead = tmp_path / "dead.socket"
    dead.touch()
    with pytest.raises(ProviderError) as info:
        check_snapd([GO], managed=False, snapd=Snapd(dead))
    assert "does not answer" in info.value.details


def test_snapd_that_answers_is_enough(snapd):
    snapd.answers["/v2/system-info"] = (200, {"result": {"version": "2.57.6"}})
    check_snapd([GO], managed=False, snapd=Snapd(snapd.socket))


def test_an_installed_snap_needs_no_store(snapd):
    snapd.answers["/v2/snaps/go"] = (200, {"result": {"name": "go"}})
    check_snaps_available([GO, GO], Snapd(snapd.socket))
    assert snapd.asked == ["/v2/snaps/go"]


def test_a_snap_the_store_has_passes(snapd):
    snapd.answers["/v2/find?name=go"] = (200, {"result": [{"name": "go"}]})
    check_snaps_available([GO], Snapd(snapd.socket))


def test_an_unreachable_store_is_named_with_snapds_reason(snapd):
    reason = 'Get "https://api.snapcraft.io/v2/snaps/info/go": Bad Gateway'
    snapd.answers["/v2/find?name=go"] = (500, {"result": {"message": reason}})
    with pytest.raises(ProviderError) as info:
        check_snaps_available([GO], Snapd(snapd.socket))
    assert info.value.brief == (
        "The snap store (api.snapcraft.io) cannot be reached from the build environment, so "
        "'go/1.22/stable' (build-snaps of part 'hello') cannot be installed."
    )
    assert info.value.details == f"snapd: {reason}"


def test_a_snap_the_store_does_not_have_is_named(snapd):
    snapd.answers["/v2/find?name=go"] = (404, {"result": {"kind": "snap-not-found"}})
    with pytest.raises(ProviderError, match="The snap store has no snap named 'go'"):
        check_snaps_available([GO], Snapd(snapd.socket))
