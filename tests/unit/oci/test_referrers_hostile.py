"""A registry's list of an image's referrers, as `rockpack index --attestations` reads it:
bounded, checked entry by entry, and only the SBOM and provenance taken from it."""

from __future__ import annotations

import json

import pytest

from rockpack.errors import RockpackError
from rockpack.oci.reference import parse_reference
from rockpack.oci.referrers import MAX_REFERRERS_INDEX, image_attestations
from rockpack.oci.registry_client import RegistryClient
from tests.unit.oci.hostile_servers import answer, hostile_server

INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
SUBJECT = "sha256:" + "1" * 64


def referrers(body: bytes, *, repeat: int = 1) -> list:
    headers = {"Content-Type": INDEX, "Content-Length": str(len(body) * repeat)}
    with hostile_server(answer("200 OK", headers, body, repeat=repeat)) as host:
        client = RegistryClient(timeout=5, retries=0)
        return image_attestations(client, parse_reference(f"{host}/a/b:1"), SUBJECT)


def entry(artifact_type: str, digest: str = "sha256:" + "2" * 64) -> dict:
    return {"mediaType": MANIFEST, "digest": digest, "size": 10, "artifactType": artifact_type}


def test_only_the_sbom_and_provenance_are_taken():
    listed = [
        entry("application/spdx+json"),
        entry("application/vnd.dev.cosign.artifact.sig.v1+json", "sha256:" + "3" * 64),
        "not an object",
    ]
    found = referrers(json.dumps({"schemaVersion": 2, "manifests": listed}).encode())
    assert [a.artifact_type for a in found] == ["application/spdx+json"]


def test_an_entry_with_a_bad_digest_is_refused_naming_it():
    listed = [entry("application/spdx+json", "sha256:../../etc/passwd")]
    with pytest.raises(RockpackError, match="referrers"):
        referrers(json.dumps({"manifests": listed}).encode())


def test_a_list_over_the_cap_is_refused_unread():
    with pytest.raises(RockpackError, match=str(MAX_REFERRERS_INDEX)):
        referrers(b" " * (1024 * 1024), repeat=5)


def test_a_list_that_is_not_json_is_refused():
    with pytest.raises(RockpackError):
        referrers(b"\xff<html>no</html>")
