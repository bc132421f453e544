"""The rock's attestations (SBOM, provenance) as OCI artifacts referring to its image.

A rock carries its attestations as files in a layer of their own, under ``/.rock/``
(the layer annotated ``io.rockpack.layer.origin: attestations``), so that a scanner of
the filesystem finds them and the ``.rock`` stays an archive of exactly one image,
which skopeo, podman and umoci read without being told which. Each file becomes an
artifact manifest (image-spec 1.1): ``artifactType`` is the document's media type,
``config`` the empty descriptor, the one layer the document's bytes, ``subject`` the
image manifest. The artifacts are made from the rock alone, so they are the same
bytes each time: their creation time is the image's. ``referrers`` pushes them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rockpack.oci.blobs import Descriptor, Digester
from rockpack.oci.image import canonical_json
from rockpack.oci.inspect_rock import ORIGIN_ANNOTATION
from rockpack.oci.layer_reader import iter_layer
from rockpack.oci.media_types import OCI_MANIFEST
from rockpack.oci.registry_errors import RegistryError
from rockpack.oci.rock_archive import RockImage, open_blob

SPDX_JSON = "application/spdx+json"
IN_TOTO_JSON = "application/vnd.in-toto+json"
EMPTY_JSON = "application/vnd.oci.empty.v1+json"
EMPTY = b"{}"
PREDICATE_TYPE_ANNOTATION = "in-toto.io/predicate-type"
CREATED = "org.opencontainers.image.created"
ATTESTATION_ORIGIN = "attestations"  # the layer's origin annotation
SBOM_FILE = ".rock/sbom.spdx.json"
PROVENANCE_FILE = ".rock/provenance.intoto.json"
MEDIA_TYPES = {SBOM_FILE: SPDX_JSON, PROVENANCE_FILE: IN_TOTO_JSON}
MAX_ATTESTATION_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Attachment:
    """One attestation file of a rock."""

    path: str
    media_type: str
    content: bytes

    @property
    def annotations(self) -> dict[str, str]:
        """An in-toto statement's predicate type, as BuildKit and cosign label it."""
        if self.media_type != IN_TOTO_JSON:
            return {}
        try:
            predicate_type = json.loads(self.content).get("predicateType")
        except (ValueError, AttributeError, RecursionError):
            return {}
        return (
            {PREDICATE_TYPE_ANNOTATION: predicate_type} if isinstance(predicate_type, str) else {}
        )

    @property
    def descriptor(self) -> Descriptor:
        check = Digester()
        check.update(self.content)
        return Descriptor(self.media_type, check.digest, len(self.content))


@dataclass(frozen=True)
class Referrer:
    """An artifact manifest referring to an image, and the one document it carries."""

    raw: bytes
    descriptor: Descriptor
    artifact_type: str
    annotations: dict[str, str]
    document: Attachment

    @property
    def entry_descriptor(self) -> Descriptor:
        """Its descriptor with the manifest's annotations, as an index lists it."""
        return Descriptor(
            self.descriptor.media_type,
            self.descriptor.digest,
            self.descriptor.size,
            tuple(sorted(self.annotations.items())),
        )

    @property
    def entry(self) -> dict[str, Any]:
        """Its descriptor as a referrers list holds it: artifactType and annotations."""
        entry: dict[str, Any] = {**self.descriptor.to_json(), "artifactType": self.artifact_type}
        if self.annotations:
            entry["annotations"] = dict(sorted(self.annotations.items()))
        return entry


def empty_descriptor() -> Descriptor:
    return Attachment("", EMPTY_JSON, EMPTY).descriptor


def artifact_manifest(subject: Descriptor, document: Attachment, created: str) -> Referrer:
    """The artifact manifest carrying ``document`` and referring to ``subject``."""
    annotations = {**({CREATED: created} if created else {}), **document.annotations}
    layer = document.descriptor
    if document.annotations:
        layer = Descriptor(
            layer.media_type, layer.digest, layer.size, tuple(sorted(document.annotations.items()))
        )
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": document.media_type,
        "config": {**empty_descriptor().to_json(), "data": "e30="},
        "layers": [layer.to_json()],
        "subject": {
            "mediaType": subject.media_type,
            "digest": subject.digest,
            "size": subject.size,
        },
    }
    if annotations:
        manifest["annotations"] = dict(sorted(annotations.items()))
    raw = canonical_json(manifest)
    descriptor = Attachment("", OCI_MANIFEST, raw).descriptor
    return Referrer(raw, descriptor, document.media_type, annotations, document)


def rock_attachments(image: RockImage) -> list[Attachment]:
    """The attestation files of a rock, from its attestation layer; [] when it has none."""
    layers = [
        b for b in image.layers if dict(b.annotations).get(ORIGIN_ANNOTATION) == ATTESTATION_ORIGIN
    ]
    found = []
    for blob in layers[-1:]:
        with open_blob(image, blob) as stream:
            for member, content in iter_layer(stream, f"attestations of {image.path}", blob):
                media_type = MEDIA_TYPES.get(member.path)
                if media_type is None or content is None:
                    continue
                if member.size > MAX_ATTESTATION_BYTES:
                    raise RegistryError(
                        f"{image.path}: /{member.path} is {member.size} bytes; rockpack reads at "
                        f"most {MAX_ATTESTATION_BYTES // (1024 * 1024)} MiB of it.",
                        resolution="Pack the rock again with rockpack.",
                    )
                found.append(
                    Attachment(member.path, media_type, content.read(MAX_ATTESTATION_BYTES))
                )
    return sorted(found, key=lambda a: a.path)


def rock_referrers(image: RockImage) -> list[Referrer]:
    """The rock's attestations as artifacts referring to its image manifest."""
    created = str((image.document.get("annotations") or {}).get(CREATED, ""))
    return [artifact_manifest(image.manifest, a, created) for a in rock_attachments(image)]
