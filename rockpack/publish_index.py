"""Multi-platform images in a registry: rocks pushed under one index, and an index made
of images already pushed (``rockpack index``), without pulling a layer.

Each image manifest is pushed by digest and the index under the tag, last, so the tag
never names an index whose images are missing. Assembling reads only manifests and
image configs (small documents, each verified against its digest). A source in another
repository of the same registry is linked in by blob mounts and its manifest pushed by
digest, its exact bytes; a source in another registry would need its layers pulled
through this machine, and is refused.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from craft_cli import emit

from rockpack.errors import RockpackError
from rockpack.oci.blobs import BlobStore, Descriptor
from rockpack.oci.documents import field_list, parse_object
from rockpack.oci.image import MEDIA_TYPE_INDEX
from rockpack.oci.index import (
    ArtifactEntry,
    config_platform,
    declared_platform,
    image_index,
    index_entry,
    index_manifests,
    is_attestation_entry,
    platform_text,
)
from rockpack.oci.index_rock import image_entries
from rockpack.oci.media_types import INDEX_TYPES, MANIFEST_TYPES
from rockpack.oci.reference import Reference, names_tag, parse_reference
from rockpack.oci.referrers import image_attestations, push_referrers
from rockpack.oci.registry_client import Manifest, RegistryClient
from rockpack.oci.rock_archive import RockImage, RockIndex
from rockpack.publish import BlobCounts, PushReport, note_docker_hub, push_blobs, push_reference


def push_images(
    contents: Sequence[RockImage | RockIndex], destination: str, client: RegistryClient
) -> PushReport:
    """Push every image of the rocks by digest, then their index under the tag.

    A single multi-platform rock's index is pushed as it is (its digest is the rock's);
    several rocks get the index ``pack --index`` would have written for them.
    """
    images = [i for c in contents for i in (c.images if isinstance(c, RockIndex) else [c])]
    if len(contents) == 1 and isinstance(contents[0], RockIndex):
        raw = contents[0].raw
    else:
        raw = image_index(image_entries(images)[0], [a for i in images for a in i.artifacts])
    reference = push_reference(destination, _common_version(images, destination))
    note_docker_hub(destination, reference)
    counts = BlobCounts()
    for image in images:
        push_blobs(client, reference, image, counts)
        by_digest = Reference(reference.registry, reference.repository, None, image.manifest.digest)
        client.put_manifest(by_digest, image.manifest.media_type, image.raw)
        attached = push_referrers(client, reference, image)
        if attached.attached:
            emit.progress(attached.describe(image.manifest.digest), permanent=True)
    return _put_index(client, reference, raw, counts)


def _common_version(images: list[RockImage], destination: str) -> str:
    versions = sorted({image.ref_name for image in images})
    if len(versions) > 1 and not names_tag(destination):
        raise RockpackError(
            f"The rocks have {len(versions)} versions ({', '.join(versions)}), so none of them "
            "can tag their index.",
            resolution="Name the tag: REGISTRY/REPOSITORY:TAG.",
        )
    return versions[0]


def assemble(
    destination: str,
    sources: Sequence[str],
    client: RegistryClient,
    *,
    attestations: bool = False,
) -> PushReport:
    """Push, under ``destination``'s tag, an index of the images ``sources`` name; with
    ``attestations``, listing their SBOM and provenance artifacts too, as ``pack --index``
    does for rocks packed with ``attestations: in-index``."""
    target = parse_reference(destination)
    if target.digest or not names_tag(destination):
        raise RockpackError(
            f"'{destination}' names no tag to push the index under.",
            resolution="Name it as REGISTRY/REPOSITORY:TAG, e.g. ghcr.io/me/app:1.0.",
        )
    entries: list[Descriptor] = []
    artifacts: list[ArtifactEntry] = []
    counts = BlobCounts()
    with tempfile.TemporaryDirectory(prefix="rockpack-index-") as scratch:
        configs = BlobStore(Path(scratch))
        for text in sources:
            source = _source_reference(text, target)
            fetched = client.manifest(source, source.version)
            if fetched.media_type in INDEX_TYPES:
                images, listed = _index_source(client, fetched, target, counts)
            elif fetched.media_type in MANIFEST_TYPES:
                images = [_image_source(client, fetched, target, counts, configs)]
                listed = image_attestations(client, source, fetched.digest) if attestations else []
            else:
                raise RockpackError(f"{source} is a {fetched.media_type[:100]!r}, not an image.")
            entries += images
            if attestations:
                for artifact in listed:
                    if source.repository != target.repository:
                        linked = client.manifest(source, artifact.descriptor.digest)
                        _link(client, linked, target, counts)
                artifacts += listed
    return _put_index(client, target, image_index(entries, artifacts), counts)


def _index_source(
    client: RegistryClient, fetched: Manifest, target: Reference, counts: BlobCounts
) -> tuple[list[Descriptor], list[ArtifactEntry]]:
    """The images an index lists (linked into the target's repository) and the
    attestation artifacts it lists beside them."""
    source = fetched.reference
    what = f"The index {source}"
    images = []
    for entry in index_manifests(fetched.raw, what):
        if is_attestation_entry(entry):
            continue
        if source.repository != target.repository:
            _link(client, client.manifest(source, entry.digest), target, counts)
        images.append(index_entry(entry, declared_platform(entry)))
    listed = [
        ArtifactEntry.from_json(entry, what)
        for entry in field_list(parse_object(fetched.raw, what), "manifests", what)
        if isinstance(entry, dict) and (entry.get("platform") or {}).get("os") == "unknown"
    ]
    return images, listed


def _image_source(
    client: RegistryClient,
    fetched: Manifest,
    target: Reference,
    counts: BlobCounts,
    configs: BlobStore,
) -> Descriptor:
    """An image's index entry (its platform from its config), the image linked into the
    target's repository."""
    source = fetched.reference
    _link(client, fetched, target, counts)
    client.fetch_blob(source, fetched.config, configs)  # verified, small
    what = f"The config of {source}"
    config = parse_object(configs.read_bytes(fetched.config.digest), what)
    manifest = Descriptor(fetched.media_type, fetched.digest, len(fetched.raw))
    return index_entry(manifest, config_platform(config, what))


def _source_reference(text: str, target: Reference) -> Reference:
    """A source: a full reference, or ``sha256:...`` / ``@sha256:...`` in the target's
    repository."""
    if text.lstrip("@").startswith("sha256:"):
        text = f"{target.registry}/{target.repository}@{text.lstrip('@')}"
    source = parse_reference(text)
    if source.registry != target.registry:
        raise RockpackError(
            f"{source} is in another registry than {target.registry}, and an index "
            "references images of its own registry.",
            details="Copying it would pull its layers through this machine; rockpack index "
            "pulls none.",
            resolution=f"Push that rock to {target.registry} first ('rockpack push').",
        )
    return source


def _link(
    client: RegistryClient, manifest: Manifest, target: Reference, counts: BlobCounts
) -> None:
    """Make an image of another repository (same registry) an image of the target's:
    its blobs mounted (never downloaded), then its manifest pushed by digest."""
    source = manifest.reference
    if source.repository == target.repository:
        return
    for blob in (manifest.config, *manifest.layers):
        if client.blob_exists(target, blob.digest):
            counts.present += 1
            continue
        if not client.mount_blob(target, blob.digest, source.repository):
            raise RockpackError(
                f"{target.registry} would not mount {blob.digest} from {source.repository} "
                f"into {target.repository}.",
                details="rockpack index links images by mounting their blobs; it pulls none.",
                resolution=f"Push the rock to {target.registry}/{target.repository} by "
                "digest first, then name it by digest.",
            )
        counts.mounted += 1
    by_digest = Reference(target.registry, target.repository, None, manifest.digest)
    client.put_manifest(by_digest, manifest.media_type, manifest.raw)


def _put_index(
    client: RegistryClient, reference: Reference, raw: bytes, counts: BlobCounts
) -> PushReport:
    tagged = Reference(reference.registry, reference.repository, reference.tag)
    digest = client.put_manifest(tagged, MEDIA_TYPE_INDEX, raw)
    images = tuple(
        f"{platform_text(declared_platform(entry))} {entry.digest}"
        for entry in index_manifests(raw, "the index")
        if not is_attestation_entry(entry)
    )
    return PushReport(
        f"{tagged}@{digest}",
        digest,
        counts.uploaded,
        counts.uploaded_bytes,
        counts.present,
        counts.mounted,
        images,
    )
