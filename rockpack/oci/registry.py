"""How rockpack talks to registries: HTTP(S) with auth, retries, deadlines and caps.

The only module that touches the network (``rockpack.oci.registry_client`` says what
to ask). ``requests`` carries the HTTP and urllib3's Retry the backoff; this module
adds the bearer-token dance and the bounds on what a server can make us do:

- every exchange runs under a ``Deadline`` (ROCKPACK_REGISTRY_TIMEOUT) that covers
  connecting, waiting, retries and reading the answer, enforced by shutting the socket
  down, so a server dripping one byte a second cannot hold us;
- retries are for 429, 5xx and dropped connections only: a refused connection or an
  unknown host fails at once; Retry-After is honoured only within the deadline;
- every body is streamed under a cap (4 MiB for JSON documents and tokens, the
  descriptor's size for blobs); redirects are followed by hand, their bodies unread.
"""

from __future__ import annotations

import base64
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import partial
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    MaxRetryError,
    NameResolutionError,
    ResponseError,
)
from urllib3.util.retry import Retry

from rockpack.oci.credentials import find_credentials
from rockpack.oci.deadline import Deadline, current
from rockpack.oci.documents import MAX_DOCUMENT_BYTES, parse_object
from rockpack.oci.reference import Reference
from rockpack.oci.registry_config import insecure_registries, is_loopback, registry_timeout
from rockpack.oci.registry_errors import (
    RegistryError,
    http_error,
    needs_login,
    timed_out,
    too_large,
    unreachable,
)

RENEW_EVERY = 1024 * 1024  # a download's deadline moves on with every MiB received
_CHUNK = 256 * 1024
_DRAIN = 64 * 1024  # an unwanted answer body read to keep the connection, at most


class Transport:
    """HTTP exchanges with registries for one command run (tokens are kept per scope).

    ``hint`` is added to the advice when a registry cannot be reached or times out.
    """

    def __init__(self, *, timeout: float | None, retries: int, hint: str) -> None:
        self.timeout = timeout if timeout is not None else registry_timeout()
        self.hint = hint
        self._tokens: dict[tuple[str, str], str] = {}
        self._session = requests.Session()
        adapter = _Adapter(max_retries=_retry_policy(retries))
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._insecure = insecure_registries()
        self.requests_made = 0

    def url(self, reference: Reference, path: str) -> str:
        host = reference.api_host
        scheme = "http" if is_loopback(host) or host in self._insecure else "https"
        return f"{scheme}://{host}/v2/{reference.repository}/{path}"

    @contextmanager
    def exchange(
        self,
        method: str,
        reference: Reference,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        body: Any = None,
        expected: tuple[int, ...] = (),
        extra_scope: str = "",
        download: bool = False,
    ) -> Iterator[Exchange]:
        """One request and its answer under one deadline, answering an auth challenge
        once; an error status raises unless it is one of ``expected``."""
        blob_travels = download or hasattr(body, "read")  # a download or an upload
        deadline = Deadline(self.timeout, renew_every=RENEW_EVERY if blob_travels else None)
        try:
            if hasattr(body, "read"):
                body = _Counted(body, deadline)
            response = self._authorized(
                method, reference, url, headers or {}, body, extra_scope, deadline
            )
            exchange = Exchange(response, deadline, self, reference)
            try:
                if response.status_code >= 400 and response.status_code not in expected:
                    raise self._status_error(reference, url, response)
                yield exchange
            finally:
                response.close()
        finally:
            deadline.close()

    def _authorized(
        self,
        method: str,
        reference: Reference,
        url: str,
        headers: dict[str, str],
        body: Any,
        extra_scope: str,
        deadline: Deadline,
    ) -> requests.Response:
        scope = f"repository:{reference.repository}:pull" + (
            ",push" if method in ("POST", "PUT", "PATCH") else ""
        )
        if extra_scope:
            scope += f" {extra_scope}"
        headers = dict(headers)
        token = self._tokens.get((reference.api_host, scope))
        for attempt in range(2):
            if token:
                headers["Authorization"] = token
            response = self._send(method, url, reference, headers, body, deadline)
            if response.status_code != 401 or attempt == 1:
                return response
            challenge = response.headers.get("WWW-Authenticate", "")
            _discard(response)
            token = self._authorize(reference, challenge, scope)
            self._tokens[(reference.api_host, scope)] = token
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(
        self,
        method: str,
        url: str,
        reference: Reference,
        headers: dict[str, str],
        body: Any,
        deadline: Deadline,
    ) -> requests.Response:
        """Send, following up to five redirects of a GET or HEAD (their bodies unread,
        credentials kept only on the same host)."""
        for _ in range(_MAX_REDIRECTS + 1):
            response = self._send_once(method, url, reference, headers, body, deadline)
            location = response.headers.get("Location")
            if response.status_code not in _REDIRECTS or method not in ("GET", "HEAD"):
                return response
            if not location:
                return response
            _discard(response)
            target = urljoin(url, location)
            if urlsplit(target).netloc != urlsplit(url).netloc:
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            url = target
        raise RegistryError(
            f"{reference.api_host} redirected {reference} more than {_MAX_REDIRECTS} times.",
            resolution="Check the registry address; the registry may be misconfigured.",
        )

    def _send_once(
        self,
        method: str,
        url: str,
        reference: Reference,
        headers: dict[str, str],
        body: Any,
        deadline: Deadline,
    ) -> requests.Response:
        self.requests_made += 1
        try:
            with deadline.active():
                return self._session.request(
                    method,
                    url,
                    headers=headers,
                    stream=True,
                    timeout=(min(10.0, self.timeout), self.timeout),
                    data=body,
                    allow_redirects=False,
                )
        except requests.exceptions.RetryError as err:
            raise RegistryError(
                f"{reference.api_host} kept failing ({err.args[0] if err.args else err}).",
                resolution="The registry is overloaded or broken; try again later.",
            ) from err
        except (requests.RequestException, HTTPError, OSError) as err:
            if deadline.expired:
                raise timed_out(reference.api_host, self.timeout, self.hint) from err
            raise self.unreachable(reference, err) from err

    def _authorize(self, reference: Reference, challenge: str, scope: str) -> str:
        """Answer a 401: Basic with stored credentials, or a Bearer token from the realm."""
        credentials = find_credentials(reference.registry)
        kind, _, params_text = challenge.partition(" ")
        if kind.lower() == "basic":
            if not credentials:
                raise needs_login(reference.registry, reference.repository)
            user, password = credentials
            return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        if kind.lower() != "bearer":
            raise needs_login(reference.registry, reference.repository)
        params = dict(re.findall(r'(\w+)="([^"]*)"', params_text[:8192]))
        realm = params.get("realm")
        if not realm or not realm.startswith(("https://", "http://")):
            raise RegistryError(f"{reference.api_host} asked for a token without saying where.")
        query: dict[str, Any] = {"scope": scope.split(" ")}
        if "service" in params:
            query["service"] = params["service"]
        url = str(requests.Request("GET", realm, params=query).prepare().url)
        basic = {}
        if credentials:
            pair = f"{credentials[0]}:{credentials[1]}".encode()
            basic["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        deadline = Deadline(self.timeout)
        try:
            response = self._send("GET", url, reference, basic, None, deadline)
            try:
                if response.status_code in (401, 403):
                    raise needs_login(reference.registry, reference.repository)
                if response.status_code >= 400:
                    raise self._status_error(reference, realm, response)
                what = f"{reference.api_host}'s token service"
                exchange = Exchange(response, deadline, self, reference)
                body = parse_object(exchange.read_all(MAX_DOCUMENT_BYTES, what), what)
            finally:
                response.close()
        finally:
            deadline.close()
        token = body.get("token") or body.get("access_token")
        if not isinstance(token, str) or not re.fullmatch(r"[\x21-\x7e]{1,65536}", token):
            raise RegistryError(f"{reference.api_host}'s token service sent no usable token.")
        return f"Bearer {token}"

    def _status_error(
        self, reference: Reference, url: str, response: requests.Response
    ) -> RegistryError:
        status = response.status_code
        if status in (401, 403):
            return needs_login(reference.registry, reference.repository)
        retries = getattr(response.raw, "retries", None)
        retried = len(retries.history) if isinstance(retries, Retry) else 0
        waited = _retry_after(response) if status in _RETRIED_STATUSES else 0.0
        return http_error(str(reference), url, status, str(response.reason), retried, waited)

    def unreachable(self, reference: Reference, err: BaseException) -> RegistryError:
        return unreachable(reference.api_host, _why(err), str(err)[:500], self.hint)


@dataclass
class Exchange:
    """An answer being read: its body comes in capped, under the exchange's deadline."""

    response: requests.Response
    deadline: Deadline
    client: Transport
    reference: Reference

    def body(self, cap: int, what: str, *, decode: bool = False) -> Iterator[bytes]:
        """The body's chunks, refusing more than ``cap`` bytes."""
        total = 0
        stream = self.response.raw.stream(_CHUNK, decode_content=decode)
        while True:
            try:
                chunk = next(stream, b"")
            except (requests.RequestException, HTTPError, OSError) as err:
                if self.deadline.expired:
                    raise self._timed_out() from err
                raise Dropped(err) from err
            if not chunk:
                break
            total += len(chunk)
            if total > cap:
                raise too_large(what, cap)
            self.deadline.progress(len(chunk))
            yield chunk
        if self.deadline.expired:  # the watchdog ended a body that had no length
            raise self._timed_out()

    def read_all(self, cap: int, what: str) -> bytes:
        try:
            return b"".join(self.body(cap, what, decode=True))
        except Dropped as dropped:
            raise self.client.unreachable(self.reference, dropped.cause) from dropped.cause

    def _timed_out(self) -> RegistryError:
        return timed_out(self.reference.api_host, self.client.timeout, self.client.hint)


class Dropped(Exception):
    """The connection broke while an answer was read."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


class _Counted:
    """A request body read by the transport; what leaves renews the deadline."""

    def __init__(self, content: IO[bytes], deadline: Deadline) -> None:
        self._content = content
        self._deadline = deadline

    def read(self, size: int = -1) -> bytes:
        data = self._content.read(size)
        self._deadline.progress(len(data))
        return data


_RETRIED_STATUSES = (429, 500, 502, 503, 504)
_REDIRECTS = (301, 302, 303, 307, 308)
_MAX_REDIRECTS = 5
MAX_RETRY_AFTER = 30.0


def _retry_policy(retries: int) -> Retry:
    return _Retry(
        total=retries,
        connect=0,  # refused, unknown host, no route: retrying changes nothing
        read=min(retries, 2),  # dropped connections
        status=retries,
        other=0,
        backoff_factor=0.5,
        status_forcelist=_RETRIED_STATUSES,
        allowed_methods=frozenset({"GET", "HEAD", "DELETE"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )


class _Retry(Retry):
    """Retries that stop when the exchange's deadline could not be kept."""

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> _Retry:
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        deadline = current()
        if deadline is not None:
            wait = (new.get_retry_after(response) if response is not None else None) or 0.0
            wait = max(wait, new.get_backoff_time())
            if deadline.expired or wait >= deadline.remaining():
                reason = error or ResponseError(f"gave up retrying within {deadline.seconds:g}s")
                raise MaxRetryError(_pool, url, reason)
        return new

    def get_retry_after(self, response: Any) -> float | None:
        wait = super().get_retry_after(response)
        return None if wait is None else min(wait, MAX_RETRY_AFTER)


def _retry_after(response: requests.Response) -> float:
    """How long the registry asked us to wait before retrying (0 if it did not)."""
    with suppress(Exception):
        wait = Retry().get_retry_after(response.raw)
        return float(wait) if wait else 0.0
    return 0.0


def _watch(sock: socket.socket | None) -> None:
    deadline = current()
    if deadline is not None and sock is not None:
        deadline.watch(partial(_shut, sock))


def _shut(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _refuse_after_deadline(connection: HTTPConnection) -> None:
    deadline = current()
    if deadline is not None and deadline.expired:
        raise ConnectTimeoutError(connection, "the request's deadline has passed")


class _WatchedHTTPConnection(HTTPConnection):
    """A connection whose socket the exchange's deadline can shut down."""

    def connect(self) -> None:
        _refuse_after_deadline(self)
        super().connect()
        _watch(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch(self.sock)
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(_WatchedHTTPConnection, HTTPSConnection):
    """The same watching: the MRO puts HTTPSConnection (its TLS connect) under it."""


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class _Adapter(HTTPAdapter):
    """requests' adapter with connections the deadline watches."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, *args: Any, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(*args, **kwargs)
        manager.pool_classes_by_scheme = _POOLS
        return manager


def _discard(response: requests.Response) -> None:
    """Close an answer we do not need, reading a little of it to keep the connection."""
    with suppress(Exception):
        response.raw.read(_DRAIN, decode_content=False)
    response.close()


def _why(err: BaseException) -> str:
    """'refused the connection', 'is an unknown host' or 'could not be reached'."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [err]
    while pending:
        current_error = pending.pop()
        if current_error is None or id(current_error) in seen:
            continue
        seen.add(id(current_error))
        if isinstance(current_error, NameResolutionError | socket.gaierror):
            return "is an unknown host"
        if isinstance(current_error, ConnectionRefusedError):
            return "refused the connection"
        reason = getattr(current_error, "reason", None)
        args = [a for a in current_error.args if isinstance(a, BaseException)]
        pending += [current_error.__cause__, current_error.__context__, *args]
        if isinstance(reason, BaseException):
            pending.append(reason)
    return "could not be reached"


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()
