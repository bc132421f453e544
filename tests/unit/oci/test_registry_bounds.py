"""Every read from a registry is bounded in time and memory (checked in a child process
limited by RLIMIT_AS), and retries are only for what retrying can fix."""

from __future__ import annotations

import time

import pytest

from rockpack.oci.registry import _why
from tests.unit.oci.hostile_servers import answer, drip, hostile_server, run_bounded

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEMORY_MB = 512

RESOLVE = """
from rockpack.errors import RockpackError
from rockpack.oci.reference import parse_reference
from rockpack.oci.registry_client import Platform, RegistryClient
try:
    RegistryClient(timeout={timeout}).resolve(
        parse_reference("{host}/a/b:1"), Platform("linux", "amd64")
    )
except RockpackError as err:
    print("ERROR", err.brief)
    print("RESOLUTION", err.resolution)
"""


def resolve_bounded(host: str, timeout: float = 2.0):
    return run_bounded(RESOLVE.format(host=host, timeout=timeout), memory_mb=MEMORY_MB)


def test_a_server_dripping_the_body_is_cut_off_at_the_timeout():
    head = f"HTTP/1.1 200 OK\r\nContent-Type: {MANIFEST}\r\nContent-Length: 1000\r\n\r\n"
    body = b'{"schemaVersion":2,' + b" " * 980 + b"}"
    with hostile_server(drip(head.encode() + body, every=0.02)) as host:
        # the head arrives in about a second, then the body drips far past the timeout
        result = resolve_bounded(host, timeout=2)
    assert "ERROR The registry " + host + " timed out (after 2s)." in result.stdout
    assert "ROCKPACK_REGISTRY_TIMEOUT" in result.stdout
    assert result.seconds < 6, result
    assert result.max_rss_mb < MEMORY_MB


def test_a_server_dripping_its_headers_one_byte_a_second_is_cut_off():
    head = b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"a" * 200 + b"\r\n\r\n"
    with hostile_server(drip(head, every=1.0, stop_after=20)) as host:
        started = time.monotonic()
        result = resolve_bounded(host, timeout=2)
    assert "timed out (after 2s)" in result.stdout, result
    assert time.monotonic() - started < 6


def test_a_huge_manifest_is_refused_at_the_cap_without_reading_it_all():
    chunk = b"[" * (1024 * 1024)
    headers = {"Content-Type": MANIFEST, "Content-Length": str(200 * len(chunk))}
    with hostile_server(answer("200 OK", headers, chunk, repeat=200)) as host:
        result = resolve_bounded(host, timeout=20)
    assert "sent more than the 4194304 bytes expected" in result.stdout, result
    assert result.max_rss_mb < 200, result  # never 200 MiB in memory


def test_a_deeply_nested_manifest_is_refused():
    body = b"[" * 100_000 + b"]" * 100_000
    headers = {"Content-Type": MANIFEST, "Content-Length": str(len(body))}
    with hostile_server(answer("200 OK", headers, body)) as host:
        result = resolve_bounded(host)
    assert "nested deeper than 64 levels" in result.stdout, result


def test_retry_after_beyond_the_deadline_is_not_waited_for():
    headers = {"Retry-After": "3600", "Content-Length": "0"}
    with hostile_server(answer("503 Service Unavailable", headers)) as host:
        result = resolve_bounded(host, timeout=5)
    assert "answered 503 Service Unavailable" in result.stdout, result
    assert "asked to wait 3600s more" in result.stdout  # said, and not slept
    assert result.seconds < 4, result


def test_a_huge_token_answer_is_capped():
    def handler(connection, head):
        if b"/token" in head.split(b"\r\n", 1)[0]:
            body = b'{"token":"' + b"a" * (8 * 1024 * 1024) + b'"}'
            headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
            answer("200 OK", headers, body)(connection, head)
            return
        host = head.split(b"Host: ", 1)[1].split(b"\r\n", 1)[0].decode()
        challenge = f'Bearer realm="http://{host}/token",service="x"'
        answer("401 Unauthorized", {"WWW-Authenticate": challenge, "Content-Length": "0"})(
            connection, head
        )

    with hostile_server(handler) as host:
        result = resolve_bounded(host)
    assert "token service: the registry sent more than the 4194304 bytes" in result.stdout, result
    assert result.max_rss_mb < 200, result


def test_a_refused_connection_fails_at_once_without_retries():
    started = time.monotonic()
    result = resolve_bounded("127.0.0.1:9")
    assert "could not be reached: it refused the connection" in result.stdout, result
    assert time.monotonic() - started < 5  # no 8 s of backoff


@pytest.mark.parametrize(
    ("error", "why"),
    [
        (ConnectionRefusedError(111, "refused"), "refused the connection"),
        (OSError("no route"), "could not be reached"),
    ],
)
def test_causes_are_told_apart(error, why):
    wrapped = RuntimeError("outer")
    wrapped.__cause__ = error
    assert _why(wrapped) == why


def test_an_unknown_host_is_told_apart_without_a_lookup():
    import socket

    from urllib3.exceptions import NameResolutionError

    error = NameResolutionError("registry.invalid", None, socket.gaierror(-2, "unknown"))
    assert _why(RuntimeError(error)) == "is an unknown host"


def test_retry_after_within_the_deadline_is_honoured():
    body = b'{"schemaVersion":2,"mediaType":"' + MANIFEST.encode() + b'"}'
    calls = []

    def handler(connection, head):
        calls.append(time.monotonic())
        if len(calls) == 1:
            answer("503 Busy", {"Retry-After": "1", "Content-Length": "0"})(connection, head)
        else:
            headers = {"Content-Type": MANIFEST, "Content-Length": str(len(body))}
            answer("200 OK", headers, body)(connection, head)

    from rockpack.oci.reference import parse_reference
    from rockpack.oci.registry_client import Platform, RegistryClient

    with hostile_server(handler) as host:
        manifest = RegistryClient(timeout=5).resolve(
            parse_reference(f"{host}/a/b:1"), Platform("linux", "amd64")
        )
    assert manifest.media_type == MANIFEST
    assert len(calls) == 2 and calls[1] - calls[0] >= 0.9


def test_a_slow_but_steady_download_outlives_the_timeout(tmp_path):
    """The deadline moves on with every MiB received: only a stall or a drip is cut off."""
    import hashlib

    from rockpack.oci.blobs import BlobStore, Descriptor
    from rockpack.oci.reference import parse_reference
    from rockpack.oci.registry_client import RegistryClient

    piece = b"x" * (1024 * 1024)
    blob = piece * 4
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()

    def handler(connection, head):
        head_out = f"HTTP/1.1 200 OK\r\nContent-Length: {len(blob)}\r\n\r\n"
        connection.sendall(head_out.encode())
        for number in range(4):
            if number:
                time.sleep(0.6)  # under the 1 s timeout between MiBs, 1.8 s in all
            connection.sendall(piece)

    store = BlobStore(tmp_path)
    with hostile_server(handler) as host:
        started = time.monotonic()
        RegistryClient(timeout=1).fetch_blob(
            parse_reference(f"{host}/a/b:1"), Descriptor("x", digest, len(blob)), store
        )
    assert time.monotonic() - started > 1.5  # longer than the timeout, and it still completed
    assert store.verify(digest, len(blob))
