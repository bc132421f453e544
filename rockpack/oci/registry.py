"""An OCI distribution API client: manifests and blobs, over HTTP(S).

The only module that talks to the network. ``requests`` carries the HTTP, urllib3's
Retry the backoff (429, 5xx and broken connections, honouring Retry-After); this
module adds the bearer-token dance, credentials from docker/podman auth files,
platform resolution of image indexes, and digest verification of everything read.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urljoin

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from rockpack.errors import RockpackError
from rockpack.oci.blobs import BlobStore, Descriptor
from rockpack.oci.image import ManifestView
from rockpack.oci.reference import Reference

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
_CHUNK = 1 << 20


class RegistryError(RockpackError):
    """A registry could not be reached, refused us, or sent something wrong."""


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None


@dataclass(frozen=True)
class Manifest(ManifestView):
    """An image manifest as fetched: its exact bytes, digest and parsed document."""

    reference: Reference
    digest: str
    media_type: str
    raw: bytes


def is_loopback(host: str) -> bool:
    if host.startswith("["):  # [::1]:5000
        name = host[1:].split("]")[0]
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def registry_timeout() -> float:
    """Seconds to wait for a registry's answer (ROCKPACK_REGISTRY_TIMEOUT, default 30)."""
    raw = os.environ.get("ROCKPACK_REGISTRY_TIMEOUT", "").strip()
    if not raw:
        return 30.0
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise RegistryError(
            f"ROCKPACK_REGISTRY_TIMEOUT={raw!r} is not a positive number of seconds.",
            resolution="Set it to e.g. 30, or unset it.",
        )
    return value


def insecure_registries() -> set[str]:
    """Registries the user allows over plain HTTP (ROCKPACK_INSECURE_REGISTRIES=a,b)."""
    raw = os.environ.get("ROCKPACK_INSECURE_REGISTRIES", "")
    return {item.strip() for item in raw.split(",") if item.strip()}


class RegistryClient:
    """Read (and write) images in registries; one client per command run."""

    def __init__(self, *, timeout: float | None = None, retries: int = 4) -> None:
        timeout = timeout if timeout is not None else registry_timeout()
        self._timeout = (min(10.0, timeout), timeout)
        self._tokens: dict[tuple[str, str], str] = {}
        self._session = requests.Session()
        retry = Retry(
            total=retries,
            connect=retries,
            read=min(retries, 2),  # a registry that hangs should not hang us for minutes
            status=retries,
            backoff_factor=0.5,
            status_forcelist=(429, 500, 502, 503, 504),
            allowed_methods=frozenset({"GET", "HEAD", "DELETE"}),
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        adapter = HTTPAdapter(max_retries=retry)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._insecure = insecure_registries()
        self._retries = retries
        self.requests_made = 0

    # -- manifests ------------------------------------------------------------------

    def resolve(self, reference: Reference, platform: Platform) -> Manifest:
        """The image manifest for ``platform``, following an index if there is one."""
        fetched = self._get_manifest(reference, reference.version)
        if fetched.media_type in INDEX_TYPES:
            chosen = _choose_platform(reference, fetched.document, platform)
            fetched = self._get_manifest(reference, chosen)
            if fetched.media_type not in MANIFEST_TYPES:
                raise RegistryError(
                    f"{reference}: the index entry for {_describe(platform)} is a "
                    f"{fetched.media_type}, not an image manifest."
                )
        elif fetched.media_type not in MANIFEST_TYPES:
            raise RegistryError(
                f"{reference} is a {fetched.media_type!r}, not an image.",
                resolution="Point the base at a container image.",
            )
        return fetched

    def _get_manifest(self, reference: Reference, version: str) -> Manifest:
        accept = ", ".join((*MANIFEST_TYPES, *INDEX_TYPES))
        url = self._url(reference, f"manifests/{version}")
        with self._request("GET", reference, url, headers={"Accept": accept}) as response:
            raw = _read_limited(response, MAX_MANIFEST_BYTES, reference)
            header_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        digest = "sha256:" + _sha256(raw)
        if version.startswith("sha256:") and digest != version:
            raise RegistryError(
                f"{reference}: the manifest served for {version} hashes to {digest}.",
                resolution="The registry sent tampered or corrupt data; check it or its mirror.",
            )
        try:
            document = json.loads(raw)
        except ValueError as err:
            raise RegistryError(
                f"{reference}: the registry's manifest is not JSON ({err}).",
                resolution="Check that the reference names an image in a working registry.",
            ) from err
        if not isinstance(document, dict):
            raise RegistryError(f"{reference}: the registry's manifest is not a JSON object.")
        media_type = document.get("mediaType") or header_type
        return Manifest(reference.with_digest(digest), digest, media_type, raw)

    # -- blobs ------------------------------------------------------------------------

    def fetch_blob(self, reference: Reference, blob: Descriptor, store: BlobStore) -> None:
        """Download ``blob`` into ``store``, verified against its digest and size."""
        if store.has(blob.digest):
            return
        url = self._url(reference, f"blobs/{blob.digest}")
        attempts = 3
        for attempt in range(1, attempts + 1):
            try:
                with (
                    self._request("GET", reference, url, stream=True) as response,
                    store.ingest(blob.digest, blob.size, source=str(reference)) as writer,
                ):
                    for chunk in _iter_limited(response, blob.size, reference):
                        writer.write(chunk)
                return
            except _BROKEN as err:  # a dropped connection mid-blob: fetch it again
                if attempt == attempts:
                    raise _unreachable(reference, err) from err

    # -- pushing ---------------------------------------------------------------------

    def blob_exists(self, reference: Reference, digest: str) -> bool:
        url = self._url(reference, f"blobs/{digest}")
        with self._request("HEAD", reference, url, expected=(404,)) as response:
            return response.status_code == 200

    def mount_blob(self, reference: Reference, digest: str, source_repository: str) -> bool:
        """Ask the registry to link a blob it holds in another repository; True if it did."""
        url = self._url(reference, f"blobs/uploads/?mount={digest}&from={source_repository}")
        with self._request(
            "POST", reference, url, extra_scope=f"repository:{source_repository}:pull"
        ) as response:
            if response.status_code == 201:
                return True
            location = response.headers.get("Location")
        if location:  # the registry started an upload instead; drop it
            with self._request("DELETE", reference, urljoin(url, location), expected=(404, 405)):
                pass
        return False

    def upload_blob(self, reference: Reference, blob: Descriptor, content: IO[bytes]) -> None:
        """Upload a blob in one PUT; the registry checks it against its digest."""
        start = self._url(reference, "blobs/uploads/")
        with self._request("POST", reference, start) as response:
            location = response.headers.get("Location")
        if not location:
            raise RegistryError(f"{reference.api_host} started an upload but gave no location.")
        target = urljoin(start, location)
        target += ("&" if "?" in target else "?") + f"digest={blob.digest}"
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(blob.size)}
        with self._request("PUT", reference, target, headers=headers, data=content):
            pass

    def put_manifest(self, reference: Reference, media_type: str, raw: bytes) -> str:
        """Store a manifest under the reference's tag; return the digest the registry got."""
        url = self._url(reference, f"manifests/{reference.tag or reference.digest}")
        headers = {"Content-Type": media_type}
        with self._request("PUT", reference, url, headers=headers, data=raw) as response:
            digest = response.headers.get("Docker-Content-Digest", "")
        expected = "sha256:" + _sha256(raw)
        if digest and digest != expected:
            raise RegistryError(
                f"{reference.api_host} stored the manifest as {digest}, not {expected}.",
                resolution="The registry rewrote the manifest; push to another registry.",
            )
        return expected

    # -- HTTP ------------------------------------------------------------------------

    def _url(self, reference: Reference, path: str) -> str:
        host = reference.api_host
        scheme = "http" if is_loopback(host) or host in self._insecure else "https"
        return f"{scheme}://{host}/v2/{reference.repository}/{path}"

    def _request(
        self,
        method: str,
        reference: Reference,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        stream: bool = False,
        data: Any = None,
        expected: tuple[int, ...] = (),
        extra_scope: str = "",
    ) -> requests.Response:
        """Send a request, answering an auth challenge once; raise on an error status
        unless it is one of ``expected``."""
        headers = dict(headers or {})
        scope = f"repository:{reference.repository}:pull" + (
            ",push" if method in ("POST", "PUT", "PATCH") else ""
        )
        if extra_scope:
            scope += f" {extra_scope}"
        token = self._tokens.get((reference.api_host, scope))
        for attempt in range(2):
            if token:
                headers["Authorization"] = token
            response = self._send(method, url, reference, headers, stream, data)
            if response.status_code == 401 and attempt == 0:
                challenge = response.headers.get("WWW-Authenticate", "")
                response.close()
                token = self._authorize(reference, challenge, scope)
                self._tokens[(reference.api_host, scope)] = token
                continue
            break
        if response.status_code >= 400 and response.status_code not in expected:
            response.close()
            retried = self._retries if response.status_code in (429, 500, 502, 503, 504) else 0
            raise _http_error(reference, url, response, retried)
        return response

    def _send(
        self,
        method: str,
        url: str,
        reference: Reference,
        headers: dict[str, str],
        stream: bool,
        data: Any,
    ) -> requests.Response:
        self.requests_made += 1
        try:
            return self._session.request(
                method,
                url,
                headers=headers,
                stream=stream,
                timeout=self._timeout,
                data=data,
                allow_redirects=True,
            )
        except requests.exceptions.RetryError as err:
            raise RegistryError(
                f"{reference.api_host} kept failing ({err.args[0] if err.args else err}).",
                resolution="The registry is overloaded or broken; try again later.",
            ) from err
        except requests.RequestException as err:
            raise _unreachable(reference, err) from err

    def _authorize(self, reference: Reference, challenge: str, scope: str) -> str:
        """Answer a 401: Basic with stored credentials, or a Bearer token from the realm."""
        credentials = find_credentials(reference.registry)
        kind, _, params_text = challenge.partition(" ")
        if kind.lower() == "basic":
            if not credentials:
                raise _needs_login(reference)
            user, password = credentials
            return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        if kind.lower() != "bearer":
            raise _needs_login(reference)
        params = dict(re.findall(r'(\w+)="([^"]*)"', params_text))
        realm = params.get("realm")
        if not realm:
            raise RegistryError(f"{reference.api_host} asked for a token without saying where.")
        query: dict[str, Any] = {"scope": scope.split(" ")}
        if "service" in params:
            query["service"] = params["service"]
        auth = credentials if credentials else None
        try:
            response = self._session.get(realm, params=query, auth=auth, timeout=self._timeout)
        except requests.RequestException as err:
            raise _unreachable(reference, err) from err
        self.requests_made += 1
        if response.status_code in (401, 403):
            raise _needs_login(reference)
        if response.status_code >= 400:
            raise _http_error(reference, realm, response)
        try:
            body = response.json()
        except ValueError as err:
            raise RegistryError(f"{reference.api_host}'s token service sent no JSON.") from err
        token = body.get("token") or body.get("access_token")
        if not token:
            raise RegistryError(f"{reference.api_host}'s token service sent no token.")
        return f"Bearer {token}"


def _choose_platform(reference: Reference, index: dict[str, Any], platform: Platform) -> str:
    candidates = []
    for entry in index.get("manifests", []):
        entry_platform = entry.get("platform") or {}
        if (
            entry_platform.get("os") == platform.os
            and entry_platform.get("architecture") == platform.architecture
        ):
            candidates.append((entry_platform.get("variant"), entry["digest"]))
    for variant, digest in candidates:
        if variant == platform.variant:
            return str(digest)
    for variant, digest in candidates:
        if variant is None or platform.variant is None:
            return str(digest)
    available = sorted(
        {_describe_dict(e.get("platform") or {}) for e in index.get("manifests", [])}
    )
    raise RegistryError(
        f"{reference} has no image for {_describe(platform)}.",
        details=f"It has: {', '.join(available) or 'no platforms'}.",
        resolution="Build for one of those platforms, or use a base image that has yours.",
    )


def _describe(platform: Platform) -> str:
    return "/".join(p for p in (platform.os, platform.architecture, platform.variant) if p)


def _describe_dict(platform: dict[str, Any]) -> str:
    return "/".join(str(platform[k]) for k in ("os", "architecture", "variant") if platform.get(k))


_BROKEN = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


def _read_limited(response: requests.Response, limit: int, reference: Reference) -> bytes:
    try:
        return b"".join(_iter_limited(response, None, reference, limit=limit))
    except _BROKEN as err:
        raise _unreachable(reference, err) from err


def _iter_limited(
    response: requests.Response,
    size: int | None,
    reference: Reference,
    *,
    limit: int | None = None,
) -> Iterator[bytes]:
    """The body, refusing more than ``size`` (or ``limit``) bytes."""
    cap = size if size is not None else limit
    total = 0
    for chunk in response.iter_content(_CHUNK):
        total += len(chunk)
        if cap is not None and total > cap:
            raise RegistryError(
                f"{reference}: the registry sent more than the {cap} bytes expected.",
                resolution="The registry sent corrupt or hostile data; check it.",
            )
        yield chunk


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _http_error(
    reference: Reference, url: str, response: requests.Response, retried: int = 0
) -> RegistryError:
    status = response.status_code
    if status == 404:
        return RegistryError(
            f"{reference}: not found in the registry ({url}).",
            resolution="Check the name and tag, or the mirror it is pulled through.",
        )
    if status in (401, 403):
        return _needs_login(reference)
    after = f" (after {retried} retries)" if retried else ""
    return RegistryError(
        f"{reference}: the registry answered {status} {response.reason} for {url}{after}.",
        resolution="Try again later; if it persists, check the registry's health.",
    )


def _needs_login(reference: Reference) -> RegistryError:
    return RegistryError(
        f"{reference.registry} refused access to {reference.repository}.",
        resolution="Log in with 'podman login' or 'docker login' (rockpack reads their auth "
        "files), or check the repository name.",
    )


def _unreachable(reference: Reference, err: Exception) -> RegistryError:
    timed_out = isinstance(err, requests.Timeout) or "timed out" in str(err).lower()
    kind = f"timed out (after {registry_timeout():g}s)" if timed_out else "could not be reached"
    return RegistryError(
        f"The registry {reference.api_host} {kind}: {type(err).__name__}.",
        details=str(err),
        resolution="Check the network and the registry address; set ROCKPACK_REGISTRY_MIRROR "
        "to pull bases through another registry, or ROCKPACK_REGISTRY_TIMEOUT to wait longer.",
    )


def auth_files() -> list[Path]:
    """Where podman and docker keep credentials, in the order they are consulted."""
    files = []
    if os.environ.get("REGISTRY_AUTH_FILE"):
        files.append(Path(os.environ["REGISTRY_AUTH_FILE"]))
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        files.append(Path(runtime) / "containers" / "auth.json")
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    files.append(config / "containers" / "auth.json")
    docker_config = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    files.append(docker_config / "config.json")
    return files


def find_credentials(registry: str) -> tuple[str, str] | None:
    """(user, password) for ``registry`` from the first auth file that has them."""
    keys = {registry, f"https://{registry}", f"http://{registry}"}
    if registry == "docker.io":
        keys |= {"index.docker.io", "https://index.docker.io/v1/", "registry-1.docker.io"}
    for path in auth_files():
        try:
            auths = json.loads(path.read_text()).get("auths", {})
        except (OSError, ValueError, AttributeError):
            continue
        for key in keys:
            entry = auths.get(key)
            if isinstance(entry, dict) and entry.get("auth"):
                try:
                    user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
                except (ValueError, UnicodeDecodeError):
                    continue
                return user, password
    return None
