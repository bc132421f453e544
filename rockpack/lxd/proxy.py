"""A small HTTP proxy on the host's loopback, for build instances without network.

An LXD proxy device exposes it inside the instance; apt (plain HTTP, forwarded) and pip
(HTTPS, tunnelled with CONNECT) reach the archives the host can reach. It runs only
while a build runs.
"""

from __future__ import annotations

import http.server
import select
import socket
import threading
import urllib.parse


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60

    def do_CONNECT(self) -> None:
        host, _, port = self.path.rpartition(":")
        try:
            upstream = socket.create_connection((host, int(port)), timeout=30)
        except (OSError, ValueError):
            self.send_error(502)
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        _pipe(self.connection, upstream)

    def do_GET(self) -> None:
        self._forward()

    def do_HEAD(self) -> None:
        self._forward()

    def _forward(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        if url.scheme != "http" or not url.hostname:
            self.send_error(400, "absolute http:// URLs only")
            return
        try:
            upstream = socket.create_connection((url.hostname, url.port or 80), timeout=30)
        except OSError:
            self.send_error(502)
            return
        target = url.path or "/"
        if url.query:
            target += "?" + url.query
        headers = "".join(
            f"{k}: {v}\r\n"
            for k, v in self.headers.items()
            if k.lower() not in ("proxy-connection", "connection", "keep-alive")
        )
        request = f"{self.command} {target} HTTP/1.1\r\n{headers}Connection: close\r\n\r\n"
        upstream.sendall(request.encode("latin-1"))
        self.close_connection = True
        _pipe(self.connection, upstream, one_way=True)

    def log_message(self, *args: object) -> None:
        pass


def _pipe(client: socket.socket, upstream: socket.socket, one_way: bool = False) -> None:
    sockets = [client, upstream]
    try:
        while True:
            readable, _, _ = select.select(sockets, [], [], 60)
            if not readable:
                return
            for source in readable:
                data = source.recv(65536)
                if not data:
                    return
                (upstream if source is client else client).sendall(data)
                if one_way and source is client:
                    continue
    finally:
        upstream.close()


class HostProxy:
    """The proxy, listening on 127.0.0.1 at a free port until stopped."""

    def __init__(self) -> None:
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> HostProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
