"""Bounded downloads into a temporary file: nothing is left behind when one fails."""

from __future__ import annotations

import hashlib
import socket
import time

import pytest

from rockpack.pebble.download import DownloadError, download
from tests.unit.pebble.fakes import serve


@pytest.fixture
def server(tmp_path):
    with serve(tmp_path / "www") as served:
        yield served


def leftovers(directory):
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_a_file_is_downloaded_hashed_and_left_to_the_caller(server, tmp_path):
    content = b"x" * 200_000
    (server.root / "file.tar.gz").write_bytes(content)
    got = download(f"{server.url}/file.tar.gz", tmp_path / "tmp")
    assert got.path.read_bytes() == content
    assert (got.sha256, got.size) == (hashlib.sha256(content).hexdigest(), len(content))
    assert got.path.parent == tmp_path / "tmp" and got.path.name.endswith(".partial")


def test_a_missing_file(server, tmp_path):
    with pytest.raises(DownloadError, match="answered HTTP 404") as info:
        download(f"{server.url}/nothing.tar.gz", tmp_path / "tmp")
    assert info.value.url == f"{server.url}/nothing.tar.gz"
    assert leftovers(tmp_path / "tmp") == []


def test_an_announced_size_over_the_limit_is_refused_before_reading(server, tmp_path):
    (server.root / "big").write_bytes(b"x" * 5000)
    with pytest.raises(DownloadError, match="5000 bytes, over the 1000 limit"):
        download(f"{server.url}/big", tmp_path / "tmp", max_bytes=1000)
    assert leftovers(tmp_path / "tmp") == []


def test_an_unannounced_size_over_the_limit_is_cut_off(server, tmp_path):
    def chunked(handler):
        handler.send_response(200)
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(b"y" * 300_000)

    server.routes["/endless"] = chunked
    with pytest.raises(DownloadError, match="over the 100000-byte limit"):
        download(f"{server.url}/endless", tmp_path / "tmp", max_bytes=100_000)
    assert leftovers(tmp_path / "tmp") == []


def test_a_connection_that_ends_early_is_a_failure(server, tmp_path):
    def truncated(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", "10000")
        handler.end_headers()
        handler.wfile.write(b"z" * 4000)
        handler.close_connection = True

    server.routes["/cut"] = truncated
    with pytest.raises(DownloadError) as info:
        download(f"{server.url}/cut", tmp_path / "tmp")
    assert "4000 of 10000" in info.value.reason or "broke off" in info.value.reason
    assert leftovers(tmp_path / "tmp") == []


def test_the_whole_request_is_bounded_in_time(server, tmp_path):
    def trickle(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", "100000")
        handler.end_headers()
        for _ in range(100):
            handler.wfile.write(b"t" * 1000)
            handler.wfile.flush()
            time.sleep(0.05)

    server.routes["/slow"] = trickle
    started = time.monotonic()
    with pytest.raises(DownloadError, match=r"longer than 0\.5 seconds"):
        download(f"{server.url}/slow", tmp_path / "tmp", timeout=0.5)
    assert time.monotonic() - started < 3
    assert leftovers(tmp_path / "tmp") == []


def test_a_server_that_does_not_answer(tmp_path):
    with socket.socket() as listener:  # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(DownloadError, match="did not answer in time"):
            download(f"http://127.0.0.1:{port}/x", tmp_path / "tmp", timeout=0.5)


def test_no_server(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(DownloadError, match="no connection"):
        download(f"http://127.0.0.1:{port}/x", tmp_path / "tmp")


def test_only_http_urls(tmp_path):
    with pytest.raises(DownloadError, match="only http:// and https://"):
        download("file:///etc/passwd", tmp_path / "tmp")
