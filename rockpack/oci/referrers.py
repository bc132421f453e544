"""The rock's attestation artifacts pushed to a registry, as referrers of its image.

An artifact manifest (see ``artifacts``) goes up by digest after the image. A registry
with the referrers API answers with ``OCI-Subject``; for one without, the image index
listing the image's referrers is kept under the tag-schema fallback tag
``sha256-<hex>``, merged with what that tag already lists (distribution-spec 1.1,
"Pushing Manifests with Subject").
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

from rockpack.oci.artifacts import (
    EMPTY,
    MEDIA_TYPES,
    Referrer,
    empty_descriptor,
    rock_referrers,
)
from rockpack.oci.documents import field_list, parse_object
from rockpack.oci.image import canonical_json
from rockpack.oci.index import ArtifactEntry
from rockpack.oci.media_types import OCI_INDEX, OCI_MANIFEST
from rockpack.oci.reference import Reference
from rockpack.oci.registry_client import RegistryClient
from rockpack.oci.registry_errors import RegistryError
from rockpack.oci.rock_archive import RockImage

MAX_REFERRERS_INDEX = 4 * 1024 * 1024
_TAG_UNSAFE = re.compile(r"[^a-zA-Z0-9_.-]")


def referrers_tag(digest: str) -> str:
    """The tag-schema fallback tag for ``digest``: ``sha256-<hex>``."""
    algorithm, _, encoded = digest.partition(":")
    return _TAG_UNSAFE.sub("-", f"{algorithm[:32]}-{encoded[:64]}")


def referrers_index(entries: list[dict[str, Any]]) -> bytes:
    """The image index listing referrers, as the fallback tag holds it."""
    return canonical_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})


@dataclass(frozen=True)
class AttachReport:
    attached: int
    fallback_tag: str  # '' when the registry's referrers API listed them

    def describe(self, digest: str) -> str:
        how = (
            f"listed under the tag {self.fallback_tag} (the registry has no referrers API)"
            if self.fallback_tag
            else "listed by the registry's referrers API"
        )
        noun = "artifact" if self.attached == 1 else "artifacts"
        return f"Attached {self.attached} {noun} (SBOM, provenance) to {digest}, {how}."


def push_referrers(client: RegistryClient, reference: Reference, image: RockImage) -> AttachReport:
    """Push the rock's attestations as artifacts after its image; list them under the
    fallback tag unless the registry says (``OCI-Subject``) it indexed them."""
    referrers = rock_referrers(image)
    if not referrers:
        return AttachReport(0, "")
    target = Reference(reference.registry, reference.repository)
    indexed = True
    for referrer in referrers:
        blobs = [
            (empty_descriptor(), EMPTY),
            (referrer.document.descriptor, referrer.document.content),
        ]
        for blob, content in blobs:
            if not client.blob_exists(target, blob.digest):
                client.upload_blob(target, blob, io.BytesIO(content))
        indexed = _put_referrer(client, target, referrer, image.manifest.digest) and indexed
    if indexed:
        return AttachReport(len(referrers), "")
    tag = referrers_tag(image.manifest.digest)
    _update_fallback_tag(client, target, tag, referrers)
    return AttachReport(len(referrers), tag)


def _put_referrer(
    client: RegistryClient, target: Reference, referrer: Referrer, subject: str
) -> bool:
    """Push one artifact manifest by digest; whether the registry indexed its subject."""
    transport = client.transport
    url = transport.url(target, f"manifests/{referrer.descriptor.digest}")
    headers = {"Content-Type": OCI_MANIFEST}
    with transport.exchange("PUT", target, url, headers=headers, body=referrer.raw) as answer:
        return answer.response.headers.get("OCI-Subject", "") == subject


def _update_fallback_tag(
    client: RegistryClient, target: Reference, tag: str, referrers: list[Referrer]
) -> None:
    """Add the referrers to the index under ``tag`` (made if missing), keeping its others."""
    transport = client.transport
    url = transport.url(target, f"manifests/{tag}")
    what = f"{target.registry}/{target.repository}:{tag}"
    existing: list[dict[str, Any]] = []
    raw = _get_index(client, target, f"manifests/{tag}", what)
    if raw is not None:
        document = parse_object(raw, what)
        if document.get("mediaType", OCI_INDEX) != OCI_INDEX or "manifests" not in document:
            raise RegistryError(
                f"The image was pushed, but {what} holds a {document.get('mediaType')!r}, "
                "not the list of its referrers, so its SBOM and provenance are not "
                "listed there.",
                resolution=f"Delete the tag {tag} (it is no referrers list) and push again.",
            )
        existing = [e for e in field_list(document, "manifests", what) if isinstance(e, dict)]
    known = {entry.get("digest") for entry in existing}
    added = [r.entry for r in referrers if r.descriptor.digest not in known]
    if not added:
        return
    body = referrers_index([*existing, *added])
    with transport.exchange("PUT", target, url, headers={"Content-Type": OCI_INDEX}, body=body):
        pass


def image_attestations(
    client: RegistryClient, reference: Reference, digest: str
) -> list[ArtifactEntry]:
    """The SBOM and provenance artifacts a registry lists as referrers of ``digest``: by
    its referrers API, else under the fallback tag; [] when it lists none."""
    target = Reference(reference.registry, reference.repository)
    what = f"the referrers of {target.registry}/{target.repository}@{digest}"
    raw = _get_index(client, target, f"referrers/{digest}", what)
    if raw is None:
        raw = _get_index(client, target, f"manifests/{referrers_tag(digest)}", what)
    if raw is None:
        return []
    wanted = set(MEDIA_TYPES.values())
    return [
        ArtifactEntry.from_json(entry, what)
        for entry in field_list(parse_object(raw, what), "manifests", what)
        if isinstance(entry, dict) and entry.get("artifactType") in wanted
    ]


def _get_index(client: RegistryClient, target: Reference, path: str, what: str) -> bytes | None:
    """An image index the registry serves at ``path``; None when it has none there."""
    transport = client.transport
    url = transport.url(target, path)
    with transport.exchange(
        "GET", target, url, headers={"Accept": OCI_INDEX}, expected=(404,)
    ) as answer:
        if answer.response.status_code == 404:
            return None
        return answer.read_all(MAX_REFERRERS_INDEX, what)
