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
from rockpack.oci.referrers import push_referrers
from rockpack.oci.blobs import BlobStore, Descriptor
from rockpack.oci.documents import parse_object
from rockpack.oci.image import MEDIA_TYPE_INDEX
from rockpack.oci.index import (
    config_platform,
    declared_platform,
    image_index,
    index_entry,
    index_manifests,
    platform_text,
)
from rockpack.oci.index_rock import image_entries
from rockpack.oci.media_types import INDEX_TYPES, MANIFEST_TYPES
from rockpack.oci.reference import Reference, names_tag, parse_reference
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
        raw = image_index(image_entries(images)[0])
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


def assemble(destination: str, sources: Sequence[str], client: RegistryClient) -> PushReport:
    """Push, under ``destination``'s tag, an index of the images ``sources`` name."""
    target = parse_reference(destination)
    if target.digest or not names_tag(destination):
        raise RockpackError(
            f"'{destination}' names no tag to push the index under.",
            resolution="Name it as REGISTRY/REPOSITORY:TAG, e.g. ghcr.io/me/app:1.0.",
        )
    entries: list[Descriptor] = []
    counts = BlobCounts()
    with tempfile.TemporaryDirectory(prefix="rockpack-index-") as scratch:
        configs = BlobStore(Path(scratch))
        for text in sources:
            source = _source_reference(text, target)
            fetched = _manifest(client, source)
            if fetched.media_type in INDEX_TYPES:
                for entry in index_manifests(fetched.raw, f"The index {source}"):
                    if dict(entry.platform).get("os") == "unknown":
                        continue  # an attestation manifest (buildx), not an image
                    if source.repository != target.repository:
                        image = _manifest(client, source.with_digest(entry.digest))
                        _link(client, image, target, counts)
                    entries.append(index_entry(entry, declared_platform(entry)))
                continue
            if fetched.media_type not in MANIFEST_TYPES:
                raise RockpackError(f"{source} is a {fetched.media_type[:100]!r}, not an image.")
            _link(client, fetched, target, counts)
            client.fetch_blob(source, fetched.config, configs)  # verified, small
            what = f"The config of {source}"
            config = parse_object(configs.read_bytes(fetched.config.digest), what)
            manifest = Descriptor(fetched.media_type, fetched.digest, len(fetched.raw))
            entries.append(index_entry(manifest, config_platform(config, what)))
    return _put_index(client, target, image_index(entries), counts)


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


def _manifest(client: RegistryClient, reference: Reference) -> Manifest:
    """The manifest or index ``reference`` names, its digest checked (the client's one
    verified manifest read, without following an index to a platform)."""
    return client._get_manifest(reference, reference.version)


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
