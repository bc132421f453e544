"""Image indexes: one image manifest per platform, written and read by one set of rules.

An index rockpack writes is a pure function of its manifests: each entry is the
manifest's media type, digest, size and platform (taken from the image's config), the
entries sorted by platform, the document canonical JSON. So the same images give the
same index digest, whether ``pack --index``, ``push`` of several rocks or ``index`` in a
registry made it, and in whichever order the images came.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rockpack.errors import RockpackError
from rockpack.oci.blobs import Descriptor
from rockpack.oci.documents import (
    MalformedDocumentError,
    field_dict,
    field_list,
    field_str,
    field_strings,
    parse_object,
)
from rockpack.oci.image import MEDIA_TYPE_INDEX, canonical_json
from rockpack.oci.media_types import INDEX_TYPES, MANIFEST_TYPES

MAX_INDEX_ENTRIES = 64
PLATFORM_KEYS = ("os", "architecture", "variant")
Platform = tuple[tuple[str, str], ...]  # sorted (key, value) pairs, as Descriptor holds them
# An index of one image and its attestation artifacts (``attestations: in-index``): a rock
# of one platform, not a multi-platform rock. See ``rockpack.oci.attested_index``.
KIND_ANNOTATION = "io.rockpack.index"
ATTESTED_IMAGE = "image-and-attestations"
ATTESTATION_PLATFORM = (("architecture", "unknown"), ("os", "unknown"))


class ImageIndexError(RockpackError):
    """Images that cannot make one index (no platform, or two for one platform)."""


def config_platform(config: dict[str, Any], what: str) -> Platform:
    """The os, architecture and (when set) variant an image config declares."""
    fields = {
        "os": field_str(config, "os", what),
        "architecture": field_str(config, "architecture", what),
        "variant": field_str(config, "variant", what, required=False),
    }
    if not fields["os"] or not fields["architecture"]:
        raise MalformedDocumentError(what, "its os or architecture is empty")
    return tuple(sorted((k, v) for k, v in fields.items() if v))


def platform_text(platform: Platform) -> str:
    """``linux/arm64/v8``."""
    fields = dict(platform)
    return "/".join(fields[k] for k in PLATFORM_KEYS if fields.get(k))


def declared_platform(descriptor: Descriptor) -> Platform:
    """The os/architecture/variant of an index entry's platform (other keys dropped)."""
    return tuple(sorted((k, v) for k, v in descriptor.platform if k in PLATFORM_KEYS))


def index_entry(manifest: Descriptor, platform: Platform) -> Descriptor:
    """The entry an index holds for an image: no annotations, only its platform."""
    return Descriptor(manifest.media_type, manifest.digest, manifest.size, platform=platform)


def image_index(
    entries: Sequence[Descriptor],
    artifacts: Sequence[ArtifactEntry] = (),
    annotations: dict[str, str] | None = None,
) -> bytes:
    """The canonical index of ``entries`` (see ``index_entry``), sorted by platform, then
    of the images' attestation ``artifacts``, sorted by type and digest."""
    if not entries:
        raise ImageIndexError("An image index needs at least one image.")
    by_platform: dict[Platform, Descriptor] = {}
    for entry in entries:
        platform = declared_platform(entry)
        if not platform:
            raise ImageIndexError(f"The image {entry.digest} has no platform.")
        earlier = by_platform.get(platform)
        if earlier is not None and earlier.digest != entry.digest:
            raise ImageIndexError(
                f"Two images are for {platform_text(platform)}: {earlier.digest} and "
                f"{entry.digest}.",
                resolution="Give one image per platform.",
            )
        by_platform[platform] = index_entry(entry, platform)
    manifests = [by_platform[key].to_json() for key in sorted(by_platform, key=_order)]
    unique = {a.descriptor.digest: a for a in artifacts}.values()
    manifests += [
        a.to_json() for a in sorted(unique, key=lambda a: (a.artifact_type, a.descriptor.digest))
    ]
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE_INDEX,
        "manifests": manifests,
    }
    if annotations:
        document["annotations"] = dict(sorted(annotations.items()))
    return canonical_json(document)


def _order(platform: Platform) -> tuple[str, ...]:
    fields = dict(platform)
    return tuple(fields.get(k, "") for k in PLATFORM_KEYS)


@dataclass(frozen=True)
class ArtifactEntry:
    """An attestation artifact as an index lists it: its descriptor (annotations and all)
    and ``artifactType``, under the platform unknown/unknown."""

    descriptor: Descriptor
    artifact_type: str

    @classmethod
    def from_json(cls, entry: dict[str, Any], what: str) -> ArtifactEntry:
        descriptor = Descriptor.from_json(entry, what)
        return cls(replace_platform(descriptor, ()), field_str(entry, "artifactType", what))

    def to_json(self) -> dict[str, Any]:
        return {
            **self.descriptor.to_json(),
            "artifactType": self.artifact_type,
            "platform": dict(ATTESTATION_PLATFORM),
        }


def replace_platform(descriptor: Descriptor, platform: Platform) -> Descriptor:
    return Descriptor(
        descriptor.media_type, descriptor.digest, descriptor.size, descriptor.annotations, platform
    )


def is_attestation_entry(descriptor: Descriptor) -> bool:
    """An index entry for an artifact, not an image: its platform is unknown/unknown, as
    BuildKit lists attestations, so readers choosing by platform pass it by."""
    return dict(descriptor.platform).get("os") == "unknown"


def is_attested_image(raw: bytes, what: str) -> bool:
    """Whether an index is one image and its attestations (rockpack's annotation says so)."""
    annotations = field_strings(parse_object(raw, what), "annotations", what)
    return annotations.get(KIND_ANNOTATION) == ATTESTED_IMAGE


def index_manifests(raw: bytes, what: str) -> list[Descriptor]:
    """The image manifests an index lists, each with its platform, checked."""
    document = parse_object(raw, what)
    if document.get("schemaVersion") != 2:
        raise MalformedDocumentError(what, "its schemaVersion is not 2")
    media_type = document.get("mediaType", MEDIA_TYPE_INDEX)
    if media_type not in INDEX_TYPES:
        raise MalformedDocumentError(what, f"its mediaType is {str(media_type)[:100]!r}")
    entries = field_list(document, "manifests", what, required=True)
    if not entries or len(entries) > MAX_INDEX_ENTRIES:
        raise MalformedDocumentError(
            what, f"it lists {len(entries)} images (1 to {MAX_INDEX_ENTRIES} allowed)"
        )
    found = []
    for number, entry in enumerate(entries, start=1):
        label = f"{what}, entry {number}"
        descriptor = Descriptor.from_json(entry, label)
        field_dict(entry, "platform", label)
        if descriptor.media_type not in MANIFEST_TYPES:
            raise MalformedDocumentError(label, "it is not an image manifest")
        if not {"os", "architecture"} <= dict(descriptor.platform).keys():
            raise MalformedDocumentError(label, "it has no platform (os and architecture)")
        found.append(descriptor)
    return found
