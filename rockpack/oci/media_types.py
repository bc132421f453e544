"""The media types rockpack reads, and the layer types a runtime unpacks as it does."""

from __future__ import annotations

from rockpack.errors import LayerError

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
CONFIG_TYPES = (
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
)

# Layer media type -> compression ("" for a plain tar): what a runtime unpacks.
LAYER_TYPES = {
    "application/vnd.oci.image.layer.v1.tar": "",
    "application/vnd.oci.image.layer.v1.tar+gzip": "gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd": "zstd",
    "application/vnd.docker.image.rootfs.diff.tar": "",
    "application/vnd.docker.image.rootfs.diff.tar.gzip": "gzip",
    "application/vnd.docker.image.rootfs.diff.tar.zstd": "zstd",
}
_FOREIGN = (
    "application/vnd.oci.image.layer.nondistributable.",
    "application/vnd.docker.image.rootfs.foreign.",
)


class LayerTypeError(LayerError):
    """A base layer whose media type rockpack cannot (or may not) unpack."""


def layer_compression(media_type: str, label: str) -> str:
    """'gzip', 'zstd' or '' for ``media_type``; refuse a type no runtime here unpacks."""
    if media_type in LAYER_TYPES:
        return LAYER_TYPES[media_type]
    if media_type.startswith(_FOREIGN):
        raise LayerTypeError(
            f"Layer {label} is a foreign (non-distributable) layer ({media_type}).",
            details="Its content is not in the registry (Windows bases ship such layers); "
            "a rock cannot include or redistribute it.",
            resolution="Use a Linux base image whose layers are all distributable.",
        )
    raise LayerTypeError(
        f"Layer {label} has the media type {media_type!r}, which is not a container image layer.",
        details="Accepted: " + ", ".join(sorted(LAYER_TYPES)) + ".",
        resolution="Use a base image made of OCI or Docker tar layers (plain, gzip or zstd).",
    )
