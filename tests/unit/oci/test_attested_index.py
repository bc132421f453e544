"""An index of one image and its attestations is read back as that image; an artifact
that refers elsewhere, or a second image, is refused."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from rockpack.oci.archive import write_oci_archive
from rockpack.oci.artifacts import IN_TOTO_JSON, SPDX_JSON, Attachment
from rockpack.oci.attested_index import store_attested_index
from rockpack.oci.blobs import BlobStore, Descriptor
from rockpack.oci.image import MEDIA_TYPE_INDEX, canonical_json, index_json, referenced_blobs
from rockpack.oci.rock_archive import RockArchiveError, read_rock, read_rock_contents
from tests.unit.oci.rock_fixtures import make_rock

DOCUMENTS = [
    Attachment(".rock/sbom.spdx.json", SPDX_JSON, b'{"spdxVersion": "SPDX-2.3"}'),
    Attachment(".rock/provenance.intoto.json", IN_TOTO_JSON, b'{"predicateType": "p"}'),
]
PREDICATE = "in-toto.io/predicate-type"
AMD64 = (("architecture", "amd64"), ("os", "linux"))


def attested_rock(tmp_path: Path, entries_hook=None) -> tuple[Path, Descriptor]:
    """A rock of make_rock's image whose index lists its attestations too; ``entries_hook``
    may change the index's entries (given the store)."""
    plain = read_rock(make_rock(tmp_path))
    store = BlobStore(tmp_path / "oci")
    image = replace(plain.manifest, platform=AMD64)
    index, artifacts = store_attested_index(store, image, DOCUMENTS)
    if entries_hook is not None:
        document = json.loads(store.read_bytes(index.digest, index.size))
        artifacts += entries_hook(document["manifests"], store, image)
        index = store.put_bytes(canonical_json(document), MEDIA_TYPE_INDEX)
    rock = tmp_path / "attested.rock"
    blobs = [index, *referenced_blobs(store, image), *artifacts]
    write_oci_archive(rock, [store], index_json([(index, "0.1")]), blobs, mtime=0)
    return rock, image


def test_it_is_read_as_its_image_with_the_artifacts(tmp_path):
    rock, image = attested_rock(tmp_path)
    read = read_rock(rock)
    assert read.manifest.digest == image.digest and read.ref_name == "0.1"
    assert len(read.artifacts) == 2
    assert all(
        a.to_json()["platform"] == {"architecture": "unknown", "os": "unknown"}
        for a in read.artifacts
    )
    assert read_rock_contents(rock) == read


def test_the_artifacts_are_ordered_and_annotated_as_pushed(tmp_path):
    read = read_rock(attested_rock(tmp_path)[0])
    assert [a.artifact_type for a in read.artifacts] == [SPDX_JSON, IN_TOTO_JSON]
    assert [dict(a.descriptor.annotations).get(PREDICATE) for a in read.artifacts] == [None, "p"]
    assert len(read.artifact_blobs) == 6  # each: its manifest, the empty config, the document


def test_an_artifact_of_another_image_is_refused(tmp_path):
    def elsewhere(entries: list[dict], store: BlobStore, image: Descriptor) -> list[Descriptor]:
        config = json.loads(store.read_bytes(image.digest))["config"]
        other = replace(image, digest=config["digest"], size=config["size"])  # not the image
        index, artifacts = store_attested_index(store, other, DOCUMENTS[:1])
        entries[1] = json.loads(store.read_bytes(index.digest, index.size))["manifests"][1]
        return artifacts

    rock, _ = attested_rock(tmp_path, elsewhere)
    with pytest.raises(RockArchiveError, match="refers to"):
        read_rock(rock)


def test_two_images_are_refused(tmp_path):
    def second_image(entries: list[dict], store: BlobStore, image: Descriptor) -> list:
        entries[1]["platform"] = {"architecture": "arm64", "os": "linux"}
        return []

    rock, _ = attested_rock(tmp_path, second_image)
    with pytest.raises(RockArchiveError, match="lists 2 images"):
        read_rock(rock)
