"""The registry client against a small registry served on loopback."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import threading
from typing import ClassVar

import pytest

from rockpack.errors import RockpackError
from rockpack.oci.blobs import BlobStore, Descriptor
from rockpack.oci.credentials import find_credentials
from rockpack.oci.documents import MalformedDocumentError
from rockpack.oci.media_types import OCI_INDEX, OCI_MANIFEST
from rockpack.oci.reference import parse_reference
from rockpack.oci.registry_client import Platform, RegistryClient, RegistryError
from rockpack.oci.registry_config import is_loopback

TOKEN = "sekrit-token"
USER, PASSWORD = "alice", "wonderland"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class FakeRegistry(http.server.BaseHTTPRequestHandler):
    """Serves /v2/<repo>/manifests|blobs/<ref> from ``objects``; needs a bearer token."""

    objects: ClassVar[dict[str, tuple[str, bytes]]] = {}
    hits: ClassVar[list[str]] = []

    def do_GET(self):
        type(self).hits.append(self.path)
        if self.path.startswith("/token"):
            auth = self.headers.get("Authorization", "")
            expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            if auth != expected:
                return self._send(401, b"{}")
            return self._send(200, json.dumps({"token": TOKEN}).encode(), "application/json")
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.send_response(401)
            realm = f"http://{self.headers['Host']}/token"
            self.send_header(
                "WWW-Authenticate",
                f'Bearer realm="{realm}",service="fake",scope="repository:x:pull"',
            )
            self.end_headers()
            return None
        key = self.path.rsplit("/", 1)[-1]
        if key not in self.objects:
            return self._send(404, b"{}")
        media_type, body = self.objects[key]
        return self._send(200, body, media_type)

    def _send(self, status, body, media_type="application/octet-stream"):
        self.send_response(status)
        self.send_header("Content-Type", media_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def registry(tmp_path, monkeypatch):
    FakeRegistry.objects = {}
    FakeRegistry.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeRegistry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    auth_file = tmp_path / "auth.json"
    host = f"127.0.0.1:{server.server_port}"
    credentials = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    auth_file.write_text(json.dumps({"auths": {host: {"auth": credentials}}}))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(auth_file))
    yield host
    server.shutdown()


def add(key: str, media_type: str, body: bytes) -> str:
    FakeRegistry.objects[key] = (media_type, body)
    return digest_of(body)


def image(layer: bytes) -> bytes:
    config = b'{"rootfs":{"type":"layers","diff_ids":[]}}'
    add(digest_of(config), "application/octet-stream", config)
    add(digest_of(layer), "application/octet-stream", layer)
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": digest_of(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": digest_of(layer),
                    "size": len(layer),
                }
            ],
        }
    ).encode()


def index_of(manifests: list[tuple[str, int, dict[str, str]]]) -> bytes:
    """An image index of (digest, size, platform) entries."""
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {"mediaType": OCI_MANIFEST, "digest": digest, "size": size, "platform": platform}
                for digest, size, platform in manifests
            ],
        }
    ).encode()


def test_token_auth_index_resolution_and_verified_blobs(registry, tmp_path):
    amd = image(b"amd64 layer")
    arm = image(b"arm64 layer")
    amd_digest = add(digest_of(amd), OCI_MANIFEST, amd)
    arm_digest = add(digest_of(arm), OCI_MANIFEST, arm)
    add(
        "1.0",
        OCI_INDEX,
        index_of(
            [
                (amd_digest, len(amd), {"os": "linux", "architecture": "amd64"}),
                (arm_digest, len(arm), {"os": "linux", "architecture": "arm64", "variant": "v8"}),
            ]
        ),
    )
    client = RegistryClient()
    reference = parse_reference(f"{registry}/team/app:1.0")
    manifest = client.resolve(reference, Platform("linux", "arm64", "v8"))
    assert manifest.digest == arm_digest
    store = BlobStore(tmp_path / "store")
    client.fetch_blob(reference, manifest.layers[0], store)
    assert store.read_bytes(manifest.layers[0].digest) == b"arm64 layer"
    assert sum(1 for hit in FakeRegistry.hits if hit.startswith("/token")) == 1  # token reused


def test_no_image_for_the_platform(registry):
    add(
        "1.0",
        OCI_INDEX,
        index_of(
            [
                ("sha256:" + "0" * 64, 1, {"os": "linux", "architecture": "s390x"}),
            ]
        ),
    )
    with pytest.raises(RegistryError, match="has no image for linux/amd64") as info:
        RegistryClient().resolve(parse_reference(f"{registry}/a/b:1.0"), Platform("linux", "amd64"))
    assert "linux/s390x" in info.value.details


def test_manifest_that_is_not_json(registry):
    add("1.0", OCI_MANIFEST, b"<html>proxy error</html>")
    with pytest.raises(MalformedDocumentError, match="is not JSON"):
        RegistryClient().resolve(parse_reference(f"{registry}/a/b:1.0"), Platform("linux", "amd64"))


def test_manifest_by_digest_must_hash_to_it(registry):
    wanted = "sha256:" + "1" * 64
    add(wanted, OCI_MANIFEST, image(b"x"))
    with pytest.raises(RegistryError, match="hashes to"):
        RegistryClient().resolve(
            parse_reference(f"{registry}/a/b@{wanted}"), Platform("linux", "amd64")
        )


def test_blob_with_wrong_content_is_not_stored(registry, tmp_path):
    add(digest_of(b"good"), "application/octet-stream", b"evil")
    store = BlobStore(tmp_path / "store")
    with pytest.raises(RockpackError, match="does not match its digest"):
        RegistryClient().fetch_blob(
            parse_reference(f"{registry}/a/b:1"), Descriptor("x", digest_of(b"good"), 4), store
        )
    assert not any((tmp_path / "store/blobs/sha256").iterdir())


def test_wrong_credentials(registry, tmp_path, monkeypatch):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"auths": {registry: {"auth": base64.b64encode(b"a:b").decode()}}}))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(bad))
    with pytest.raises(RegistryError, match="refused access") as info:
        RegistryClient().resolve(parse_reference(f"{registry}/a/b:1"), Platform("linux", "amd64"))
    assert "podman login" in info.value.resolution


def test_unreachable_registry_is_a_clear_error():
    with pytest.raises(RegistryError, match="could not be reached"):
        RegistryClient(retries=0).resolve(
            parse_reference("127.0.0.1:9/a/b:1"), Platform("linux", "amd64")
        )


def test_credentials_from_docker_config(tmp_path, monkeypatch):
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "none"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "none"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    token = base64.b64encode(b"bob:builder").decode()
    (tmp_path / "config.json").write_text(
        json.dumps({"auths": {"https://index.docker.io/v1/": {"auth": token}}})
    )
    assert find_credentials("docker.io") == ("bob", "builder")
    assert find_credentials("ghcr.io") is None


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1:5000", True),
        ("localhost:5000", True),
        ("[::1]:5000", True),
        ("127.8.9.1", True),
        ("registry.example:5000", False),
        ("10.0.0.1:5000", False),
    ],
)
def test_loopback_hosts_use_plain_http(host, loopback):
    assert is_loopback(host) is loopback
