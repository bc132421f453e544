"""Image reference parsing."""

from __future__ import annotations

import pytest

from rockpack.errors import RockpackError
from rockpack.oci.reference import parse_reference

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("debian", "docker.io", "library/debian", "latest", None),
        ("debian:bookworm", "docker.io", "library/debian", "bookworm", None),
        ("docker.io/library/debian:bookworm", "docker.io", "library/debian", "bookworm", None),
        ("public.ecr.aws/ubuntu/ubuntu:24.04", "public.ecr.aws", "ubuntu/ubuntu", "24.04", None),
        (
            "127.0.0.1:5000/library/debian:bookworm",
            "127.0.0.1:5000",
            "library/debian",
            "bookworm",
            None,
        ),
        ("localhost/x/y", "localhost", "x/y", "latest", None),
        (f"ghcr.io/a/b@{DIGEST}", "ghcr.io", "a/b", None, DIGEST),
        (f"ghcr.io/a/b:1@{DIGEST}", "ghcr.io", "a/b", "1", DIGEST),
    ],
)
def test_parse(text, registry, repository, tag, digest):
    ref = parse_reference(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (
        registry,
        repository,
        tag,
        digest,
    )


def test_docker_hub_api_host_and_mirror():
    ref = parse_reference("docker.io/library/debian:bookworm")
    assert ref.api_host == "registry-1.docker.io"
    mirrored = ref.with_registry("127.0.0.1:5000")
    assert str(mirrored) == "127.0.0.1:5000/library/debian:bookworm"
    assert mirrored.api_host == "127.0.0.1:5000"


@pytest.mark.parametrize("text", ["UPPER/case", "a/b@sha256:short", "a/b:bad tag", "a//b"])
def test_invalid_references(text):
    with pytest.raises(RockpackError, match="Invalid image reference"):
        parse_reference(text)
