"""A rock's attestations as OCI artifacts: found in its attestation layer, made into
artifact manifests referring to the image, and pushed with the referrers API or the
tag-schema fallback."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from pathlib import Path
from typing import ClassVar

import pytest

from rockpack.oci.artifacts import (
    EMPTY_JSON,
    IN_TOTO_JSON,
    PROVENANCE_FILE,
    SBOM_FILE,
    SPDX_JSON,
    artifact_manifest,
    rock_attachments,
    rock_referrers,
)
from rockpack.oci.blobs import BlobStore
from rockpack.oci.entries import Entry, Kind
from rockpack.oci.inspect_rock import ORIGIN_ANNOTATION
from rockpack.oci.layer import write_layer
from rockpack.oci.media_types import OCI_INDEX, OCI_MANIFEST
from rockpack.oci.referrers import referrers_tag
from rockpack.oci.registry_client import RegistryClient
from rockpack.oci.registry_errors import RegistryError
from rockpack.oci.rock_archive import read_rock
from rockpack.publish import push
from tests.unit.oci.rock_fixtures import write_rock

SBOM = b'{"spdxVersion": "SPDX-2.3"}\n'
STATEMENT = b'{"_type": "https://in-toto.io/Statement/v1", "predicateType": "https://slsa.dev/provenance/v1"}\n'
CREATED = "2023-11-14T22:13:20Z"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def file_entry(path: str, content: bytes) -> Entry:
    return Entry(path, Kind.FILE, 0o644, size=len(content), content=content)


def make_rock(directory: Path, *, attested: bool = True) -> Path:
    """A rock as rockpack packs it: its attestation layer under the metadata layer."""
    store = BlobStore(directory / "oci")
    layers = []
    if attested:
        layer = write_layer(
            [
                Entry(".rock", Kind.DIR, 0o755),
                file_entry(PROVENANCE_FILE, STATEMENT),
                file_entry(SBOM_FILE, SBOM),
            ],
            store,
        )
        annotated = type(layer.descriptor)(
            layer.descriptor.media_type,
            layer.descriptor.digest,
            layer.descriptor.size,
            ((ORIGIN_ANNOTATION, "attestations"),),
        )
        layers.append((annotated, layer.diff_id))
    metadata = b"name: demo\nversion: '1.0'\n"
    layer = write_layer(
        [Entry(".rock", Kind.DIR, 0o755), file_entry(".rock/metadata.yaml", metadata)], store
    )
    layers.append((layer.descriptor, layer.diff_id))
    rock = directory / "demo_1.0_amd64.rock"
    return write_rock(rock, store, layers, "1.0", {}, {"org.opencontainers.image.created": CREATED})


def test_the_attestations_are_read_from_the_attestation_layer(tmp_path):
    image = read_rock(make_rock(tmp_path))
    found = rock_attachments(image)
    assert [(a.path, a.media_type, a.content) for a in found] == [
        (PROVENANCE_FILE, IN_TOTO_JSON, STATEMENT),
        (SBOM_FILE, SPDX_JSON, SBOM),
    ]
    assert found[0].annotations == {"in-toto.io/predicate-type": "https://slsa.dev/provenance/v1"}
    assert rock_attachments(read_rock(make_rock(tmp_path / "plain", attested=False))) == []


def test_each_attestation_is_an_artifact_manifest_with_the_image_as_subject(tmp_path):
    image = read_rock(make_rock(tmp_path))
    by_type = {r.artifact_type: r for r in rock_referrers(image)}
    sbom = json.loads(by_type[SPDX_JSON].raw)
    assert sbom["mediaType"] == OCI_MANIFEST and sbom["artifactType"] == SPDX_JSON
    assert sbom["config"] == {
        "mediaType": EMPTY_JSON,
        "digest": digest_of(b"{}"),
        "size": 2,
        "data": "e30=",
    }
    assert sbom["layers"] == [
        {"mediaType": SPDX_JSON, "digest": digest_of(SBOM), "size": len(SBOM)}
    ]
    assert sbom["subject"] == {
        "mediaType": OCI_MANIFEST,
        "digest": image.manifest.digest,
        "size": image.manifest.size,
    }
    assert sbom["annotations"] == {"org.opencontainers.image.created": CREATED}
    provenance = json.loads(by_type[IN_TOTO_JSON].raw)
    assert provenance["layers"][0]["annotations"] == {
        "in-toto.io/predicate-type": "https://slsa.dev/provenance/v1"
    }
    entry = by_type[IN_TOTO_JSON].entry
    assert entry["artifactType"] == IN_TOTO_JSON and entry["digest"] == digest_of(
        by_type[IN_TOTO_JSON].raw
    )
    # made from the rock alone: the same bytes every time
    again = artifact_manifest(image.manifest, by_type[SPDX_JSON].document, CREATED)
    assert again.raw == by_type[SPDX_JSON].raw


def test_the_fallback_tag_follows_the_tag_schema():
    assert referrers_tag("sha256:" + "a" * 64) == "sha256-" + "a" * 64
    assert referrers_tag("sha512:" + "b" * 128) == "sha512-" + "b" * 64
    assert referrers_tag("a+b:c=d") == "a-b-c-d"


class Registry(http.server.BaseHTTPRequestHandler):
    """Blobs and manifests in memory; ``referrers_api`` answers OCI-Subject."""

    blobs: ClassVar[dict[str, bytes]] = {}
    manifests: ClassVar[dict[str, tuple[str, bytes]]] = {}
    referrers_api: ClassVar[bool] = False

    def do_HEAD(self):
        self._answer(200 if self.path.rsplit("/", 1)[-1] in self.blobs else 404)

    def do_POST(self):
        self._answer(202, headers={"Location": "/v2/upload/1"})

    def do_PUT(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path.startswith("/v2/upload/"):
            self.blobs[self.path.partition("digest=")[2]] = body
            return self._answer(201)
        reference = self.path.rsplit("/", 1)[-1]
        media_type = self.headers["Content-Type"]
        self.manifests[reference] = self.manifests[digest_of(body)] = (media_type, body)
        headers = {"Docker-Content-Digest": digest_of(body)}
        subject = json.loads(body).get("subject")
        if self.referrers_api and subject:
            headers["OCI-Subject"] = subject["digest"]
        return self._answer(201, headers=headers)

    def do_GET(self):
        found = self.manifests.get(self.path.rsplit("/", 1)[-1])
        if found is None:
            return self._answer(404, b"{}")
        return self._answer(200, found[1], {"Content-Type": found[0]})

    def _answer(self, status, body=b"", headers=None):
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def registry(tmp_path, monkeypatch):
    Registry.blobs, Registry.manifests, Registry.referrers_api = {}, {}, False
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Registry)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(tmp_path / "no-auth.json"))
    yield f"127.0.0.1:{server.server_port}"
    server.shutdown()


def test_push_lists_the_artifacts_under_the_fallback_tag(tmp_path, registry):
    rock = make_rock(tmp_path)
    image = read_rock(rock)
    tag = referrers_tag(image.manifest.digest)
    other = {
        "mediaType": OCI_MANIFEST,
        "digest": digest_of(b"other"),
        "size": 5,
        "artifactType": "x/y",
    }
    Registry.manifests[tag] = (
        OCI_INDEX,
        json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [other]}).encode(),
    )
    push(rock, f"{registry}/team/demo", RegistryClient())
    push(rock, f"{registry}/team/demo:again", RegistryClient())  # no duplicate entries
    media_type, raw = Registry.manifests[tag]
    listed = json.loads(raw)["manifests"]
    assert media_type == OCI_INDEX
    assert [e["artifactType"] for e in listed] == ["x/y", IN_TOTO_JSON, SPDX_JSON]  # kept, added
    for entry in listed[1:]:
        manifest = json.loads(Registry.manifests[entry["digest"]][1])
        assert manifest["subject"]["digest"] == image.manifest.digest
        assert Registry.blobs[manifest["layers"][0]["digest"]] in (SBOM, STATEMENT)
    assert Registry.blobs[digest_of(b"{}")] == b"{}"


def test_a_registry_with_the_referrers_api_needs_no_fallback_tag(tmp_path, registry):
    Registry.referrers_api = True
    rock = make_rock(tmp_path)
    push(rock, f"{registry}/team/demo", RegistryClient())
    assert not [k for k in Registry.manifests if k.startswith("sha256-")]
    artifacts = [json.loads(raw) for _, raw in Registry.manifests.values() if b'"subject"' in raw]
    assert {a["artifactType"] for a in artifacts} == {SPDX_JSON, IN_TOTO_JSON}


def test_a_fallback_tag_that_is_not_a_referrers_list_is_reported(tmp_path, registry):
    rock = make_rock(tmp_path)
    tag = referrers_tag(read_rock(rock).manifest.digest)
    Registry.manifests[tag] = (
        OCI_MANIFEST,
        json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST}).encode(),
    )
    with pytest.raises(RegistryError, match="not the list of its referrers"):
        push(rock, f"{registry}/team/demo", RegistryClient())


def test_a_rock_without_attestations_pushes_only_its_image(tmp_path, registry):
    rock = make_rock(tmp_path, attested=False)
    push(rock, f"{registry}/team/plain", RegistryClient())
    assert not [raw for _, raw in Registry.manifests.values() if b'"subject"' in raw]
    assert len(Registry.manifests) == 2  # the image, by its tag and by its digest
