"""Untrusted JSON documents: bounded, and every malformed field a clear error."""

from __future__ import annotations

import json

import pytest

from rockpack.oci.blobs import Descriptor
from rockpack.oci.documents import MAX_DEPTH, MalformedDocumentError, parse_json, parse_object
from rockpack.oci.image import check_config, manifest_blobs

DIGEST = "sha256:" + "a" * 64
GOOD = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": DIGEST, "size": 3}


def test_size_cap_is_checked_before_parsing():
    with pytest.raises(MalformedDocumentError, match="larger than the 1 MiB limit") as info:
        parse_json(b" " * (1024 * 1024 + 1), "the manifest", limit=1024 * 1024)
    assert info.value.brief.startswith("the manifest:")
    assert info.value.resolution


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 100_000])
def test_depth_is_bounded(depth):
    with pytest.raises(MalformedDocumentError, match=f"nested deeper than {MAX_DEPTH}"):
        parse_json(b"[" * depth + b"]" * depth, "x")


def test_moderate_depth_is_fine():
    assert parse_json(b"[" * 10 + b"]" * 10, "x") == [[[[[[[[[[]]]]]]]]]]


@pytest.mark.parametrize("raw", [b"<html>", b"\xff\xfe", b"1" * 5000, b'{"a":'])
def test_not_json(raw):
    with pytest.raises(MalformedDocumentError, match="is not JSON"):
        parse_json(raw, "x")


def test_not_an_object():
    with pytest.raises(MalformedDocumentError, match="not a JSON object"):
        parse_object(b"[1]", "x")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"mediaType": None}, "'mediaType' is missing, not a string"),
        ({"mediaType": 7}, "'mediaType' is a number, not a string"),
        ({"digest": "sha256:abc"}, "is not a sha256 digest"),
        ({"digest": "sha512:" + "a" * 128}, "is not a sha256 digest"),
        ({"digest": "sha256:../../etc/passwd" + "a" * 46}, "is not a sha256 digest"),
        ({"size": "3"}, "'size' is a string, not a size in bytes"),
        ({"size": -1}, "'size' is a number, not a size in bytes"),
        ({"size": True}, "'size' is a boolean"),
        ({"annotations": []}, "'annotations' is a list, not an object"),
        ({"annotations": {"a": 1}}, "'annotations' holds values that are not strings"),
    ],
)
def test_malformed_descriptors(change, message):
    doc = {**GOOD, **change}
    doc = {k: v for k, v in doc.items() if v is not None}
    with pytest.raises(MalformedDocumentError, match=message):
        Descriptor.from_json(doc, "layer 1")


def test_descriptor_that_is_not_an_object():
    with pytest.raises(MalformedDocumentError, match="layer 1: it is not a JSON object"):
        Descriptor.from_json("sha256:x", "layer 1")


def test_platform_with_lists_keeps_its_strings():
    doc = {**GOOD, "platform": {"os": "linux", "architecture": "amd64", "os.features": ["x"]}}
    assert dict(Descriptor.from_json(doc).platform) == {"os": "linux", "architecture": "amd64"}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"schemaVersion": 1}, "schemaVersion is not 2"),
        ({"schemaVersion": 2}, "no config descriptor"),
        ({"schemaVersion": 2, "config": GOOD, "layers": {}}, "'layers' is an object"),
        ({"schemaVersion": 2, "config": GOOD, "layers": [{"size": 1}]}, "layer 1"),
    ],
)
def test_malformed_manifests(document, message):
    with pytest.raises(MalformedDocumentError, match=message):
        manifest_blobs(document, "m")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "'diff_ids' is missing"),
        ({"rootfs": []}, "'rootfs' is a list"),
        ({"rootfs": {"diff_ids": ["nope"]}}, "is not a sha256 digest"),
        ({"rootfs": {"diff_ids": [DIGEST, DIGEST]}}, "2 diff_ids for an image of 1 layers"),
        ({"rootfs": {"diff_ids": [DIGEST]}, "config": []}, "'config' is a list"),
        ({"rootfs": {"diff_ids": [DIGEST]}, "config": {"Env": [1]}}, "Env holds items"),
        ({"rootfs": {"diff_ids": [DIGEST]}, "config": {"Labels": {"a": 1}}}, "'Labels' holds"),
        ({"rootfs": {"diff_ids": [DIGEST]}, "history": ["x"]}, "history holds items"),
    ],
)
def test_malformed_configs(config, message):
    with pytest.raises(MalformedDocumentError, match=message):
        check_config(config, 1, "The config of x")


def test_docker_style_nulls_are_accepted():
    config = {"rootfs": {"diff_ids": [DIGEST]}, "config": {"Env": None, "Labels": None}}
    assert check_config(json.loads(json.dumps(config)), 1, "c") == [DIGEST]
