"""The rock's attestations (SBOM, provenance) as OCI artifacts referring to its image.

A rock carries its attestations as files in a layer of their own, under ``/.rock/``
(the layer annotated ``io.rockpack.layer.origin: attestations``), so that a scanner of
the filesystem finds them and the ``.rock`` stays an archive of exactly one image,
which skopeo, podman and umoci read without being told which. Each file becomes an
artifact manifest (image-spec 1.1): ``artifactType`` is the document's media type,
``config`` the empty descriptor, the one layer the document's bytes, ``subject`` the
image manifest. The artifacts are made from the rock alone, so they are the same
bytes each time: their creation time is the image's.

Pushed, an artifact manifest goes up by digest after the image. A registry with the
referrers API answers with ``OCI-Subject``; for one without, the image index listing
the image's referrers is kept under the tag-schema fallback tag ``sha256-<hex>``,
merged with what that tag already lists (distribution-spec 1.1, "Pushing Manifests
with Subject").
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from typing import Any

from rockpack.oci.blobs import Descriptor, Digester
from rockpack.oci.documents import field_list, parse_object
from rockpack.oci.image import canonical_json
from rockpack.oci.inspect_rock import ORIGIN_ANNOTATION
from rockpack.oci.layer_reader import iter_layer
from rockpack.oci.media_types import OCI_INDEX, OCI_MANIFEST
from rockpack.oci.reference import Reference
from rockpack.oci.registry_client import RegistryClient
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
MAX_REFERRERS_INDEX = 4 * 1024 * 1024
_TAG_UNSAFE = re.compile(r"[^a-zA-Z0-9_.-]")


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


def referrers_tag(digest: str) -> str:
    """The tag-schema fallback tag for ``digest``: ``sha256-<hex>``."""
    algorithm, _, encoded = digest.partition(":")
    return _TAG_UNSAFE.sub("-", f"{algorithm[:32]}-{encoded[:64]}")


def referrers_index(entries: list[dict[str, Any]]) -> bytes:
    """The image index listing referrers, as the fallback tag holds it."""
    return canonical_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})


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
    with transport.exchange(
        "GET", target, url, headers={"Accept": OCI_INDEX}, expected=(404,)
    ) as answer:
        if answer.response.status_code != 404:
            document = parse_object(answer.read_all(MAX_REFERRERS_INDEX, what), what)
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
