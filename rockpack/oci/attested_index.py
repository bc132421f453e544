"""A rock whose index lists its attestations beside its image (``attestations: in-index``).

By default a ``.rock``'s ``index.json`` names its image manifest and nothing else, the
layout every reader takes without being told which image to use. A project that wants
the SBOM and provenance in the archive's own index gets the layout BuildKit writes for
an attested image: ``index.json`` names one image index (tagged with the version) that
lists the image under its platform and each attestation artifact (see ``artifacts``)
under the platform ``unknown/unknown``, so a reader choosing by platform never takes
one for the image. skopeo and podman read such a rock unchanged; umoci needs it copied
to a layout first (``skopeo copy oci-archive:ROCK oci:DIR:TAG``), as for any index.

The artifacts are the very bytes ``push`` sends as referrers, made from the same
documents and the image's creation time; the index is annotated so rockpack reads the
rock back as the one image it is, not as a multi-platform rock.
"""

from __future__ import annotations

from rockpack.oci.artifacts import (
    CREATED,
    EMPTY,
    Attachment,
    Referrer,
    artifact_manifest,
    empty_descriptor,
)
from rockpack.oci.blobs import BlobStore, Descriptor
from rockpack.oci.documents import parse_object
from rockpack.oci.image import MEDIA_TYPE_INDEX
from rockpack.oci.index import ATTESTED_IMAGE, KIND_ANNOTATION, ArtifactEntry, image_index


def attested_index(image: Descriptor, referrers: list[Referrer]) -> bytes:
    """The image index listing ``image`` (with its platform) and its ``referrers``."""
    artifacts = [ArtifactEntry(r.entry_descriptor, r.artifact_type) for r in referrers]
    return image_index([image], artifacts, {KIND_ANNOTATION: ATTESTED_IMAGE})


def store_attested_index(
    store: BlobStore, image: Descriptor, documents: list[Attachment]
) -> tuple[Descriptor, list[Descriptor]]:
    """Put the artifacts and the index listing them into ``store``: the index's descriptor
    and the blobs beyond the image's that the archive must hold."""
    raw = store.read_bytes(image.digest, image.size)
    annotations = parse_object(raw, f"manifest {image.digest}").get("annotations") or {}
    created = str(annotations.get(CREATED, "")) if isinstance(annotations, dict) else ""
    referrers = [artifact_manifest(image, d, created) for d in sorted(documents, key=_path)]
    blobs = [store.put_bytes(EMPTY, empty_descriptor().media_type)] if referrers else []
    for referrer in referrers:
        blobs.append(store.put_bytes(referrer.document.content, referrer.document.media_type))
        blobs.append(store.put_bytes(referrer.raw, referrer.descriptor.media_type))
    index = store.put_bytes(attested_index(image, referrers), MEDIA_TYPE_INDEX)
    return index, blobs


def _path(document: Attachment) -> str:
    return document.path  # the order rock_attachments reads them back in
