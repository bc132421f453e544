"""Read a .rock (an oci-archive), verified before anything is taken from it.

``read_rock`` reads the archive once, front to back: every member must have a safe
name (no absolute path, no '..'), be a file or a directory (no links, no devices),
appear once, and sit where an OCI layout puts it; every blob is hashed as it passes
and must match the digest it is named by. Then the layout is checked: ``oci-layout``,
``index.json`` naming one image manifest, and every blob that manifest references
present with its size. A bad rock is refused here, saying what is wrong, before a
registry or podman sees a byte of it.

A multi-platform rock (``pack --index``) names one image index instead, held as a blob:
``read_rock_contents`` reads it and each image it lists by the same checks, and also
checks that each image's config declares the platform the index gives it. A rock of one
platform whose index also lists its attestations (``attestations: in-index``) is read
as its image, each artifact checked to refer to that image with its blobs present.
"""

from __future__ import annotations

import re
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rockpack.errors import RockpackError
from rockpack.oci.blobs import Descriptor, Digester, VerifiedReader
from rockpack.oci.documents import (
    MAX_DOCUMENT_BYTES,
    field_list,
    field_strings,
    parse_object,
)
from rockpack.oci.image import MEDIA_TYPE_INDEX, REF_NAME, ManifestView, manifest_blobs
from rockpack.oci.index import (
    ArtifactEntry,
    Platform,
    config_platform,
    declared_platform,
    index_manifests,
    is_attestation_entry,
    is_attested_image,
    platform_text,
)
from rockpack.oci.layer_reader import BoundedTarInfo
from rockpack.oci.media_types import MANIFEST_TYPES

MAX_MEMBERS = 10_000
_BLOB_NAME = re.compile(r"^blobs/sha256/([0-9a-f]{64})$")
_DIRECTORIES = {"blobs", "blobs/sha256"}
_DOCUMENTS = {"oci-layout", "index.json"}
_FIX = "Pass a .rock written by 'rockpack pack' (or pack it again)."


class RockArchiveError(RockpackError):
    """A file that is not a readable, intact rock."""


def _invalid(path: Path, problem: str, *, details: str | None = None) -> RockArchiveError:
    return RockArchiveError(
        f"{path} is not a valid rock: {problem}.", details=details, resolution=_FIX
    )


@dataclass(frozen=True)
class _Member:
    offset: int  # of the data in the archive
    size: int


@dataclass(frozen=True)
class RockImage(ManifestView):
    """The image in a rock, as read (and verified) from its archive."""

    path: Path
    manifest: Descriptor
    raw: bytes  # the manifest's exact bytes
    ref_name: str  # the tag the index gives it (the rock's version)
    members: dict[str, _Member] = field(default_factory=dict, compare=False, repr=False)
    # The attestation artifacts the rock's index lists beside the image (``in-index``),
    # and every blob they need: their manifests, the empty config, the documents.
    artifacts: tuple[ArtifactEntry, ...] = ()
    artifact_blobs: tuple[Descriptor, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.path}: its manifest"

    @property
    def blobs(self) -> list[Descriptor]:
        """Layers then config: the order a registry push needs before the manifest."""
        return [*self.layers, self.config]


@dataclass(frozen=True)
class RockIndex:
    """The image index of a multi-platform rock and its images, as read (and verified)."""

    path: Path
    descriptor: Descriptor  # of the index blob, as index.json names it
    raw: bytes  # the index's exact bytes
    ref_name: str
    images: tuple[RockImage, ...]
    platforms: tuple[Platform, ...]  # of each image, in order

    def image_for(self, platform: Platform) -> RockImage | None:
        """The image for ``platform`` (os/architecture, and variant when both name one)."""
        wanted = dict(platform)
        for image, declared in zip(self.images, self.platforms, strict=True):
            fields = dict(declared)
            same = all(fields.get(k) == wanted.get(k) for k in ("os", "architecture"))
            variant = wanted.get("variant")
            if same and (not variant or fields.get("variant") == variant):
                return image
        return None


def read_rock(path: Path) -> RockImage:
    """Open ``path`` and check that it holds exactly one OCI image, intact."""
    contents = read_rock_contents(path)
    if isinstance(contents, RockIndex):
        raise RockArchiveError(
            f"{path} is a multi-platform rock (an index of "
            f"{', '.join(map(platform_text, contents.platforms))}); this command takes a rock "
            "of one platform.",
            resolution="Use one platform's rock (<name>_<version>_<platform>.rock, which "
            "'rockpack pack --index' writes beside it).",
        )
    return contents


def read_rock_contents(path: Path) -> RockImage | RockIndex:
    """Open ``path`` and check that it holds one OCI image, or one index of images, intact."""
    members, documents = _scan(path)
    for name in sorted(_DOCUMENTS - set(documents)):
        raise _invalid(path, f"it has no {name}")
    layout = parse_object(documents["oci-layout"], f"{path}: oci-layout")
    if not isinstance(layout.get("imageLayoutVersion"), str):
        raise _invalid(path, "its oci-layout has no imageLayoutVersion")
    index = parse_object(documents["index.json"], f"{path}: index.json")
    entries = field_list(index, "manifests", f"{path}: index.json", required=True)
    if len(entries) != 1:
        raise _invalid(path, f"it holds {len(entries)} images, not one")
    top = Descriptor.from_json(entries[0], f"{path}: index.json, its manifest")
    ref_name = field_strings(entries[0], "annotations", f"{path}: index.json").get(REF_NAME, "")
    if top.media_type == MEDIA_TYPE_INDEX:
        if is_attested_image(_small_blob(path, members, top), f"{path}: its image index"):
            return _read_attested_image(path, members, top, ref_name)
        return _read_index(path, members, top, ref_name)
    if top.media_type not in MANIFEST_TYPES:
        raise _invalid(path, f"its index names a {top.media_type!r}, not an image")
    return _read_image(path, members, top, ref_name)[0]


def _read_image(
    path: Path, members: dict[str, _Member], manifest: Descriptor, ref_name: str
) -> tuple[RockImage, dict[str, Any]]:
    """The image a manifest names, its blobs present; and its config, parsed."""
    raw = _small_blob(path, members, manifest)
    image = RockImage(path, manifest, raw, ref_name, members)
    for blob in image.blobs:
        _present(path, members, blob)
    config = parse_object(read_blob(image, image.config), f"{path}: its image config")
    return image, config


def _read_platform_image(
    path: Path, members: dict[str, _Member], entry: Descriptor, ref_name: str
) -> tuple[RockImage, Platform]:
    """An image an index lists, and the platform its config declares, which must be the
    one the index gives it."""
    image, config = _read_image(path, members, entry, ref_name)
    declared = config_platform(config, f"{path}: the image config of {entry.digest}")
    if declared_platform(entry) != declared:
        raise _invalid(
            path,
            f"its index lists {entry.digest} for {platform_text(declared_platform(entry))}, "
            f"but that image's config says {platform_text(declared)}",
        )
    return image, declared


def _read_attested_image(
    path: Path, members: dict[str, _Member], descriptor: Descriptor, ref_name: str
) -> RockImage:
    """The one image of an index that also lists its attestations."""
    raw = _small_blob(path, members, descriptor)
    entries = index_manifests(raw, f"{path}: its index")
    images = [e for e in entries if not is_attestation_entry(e)]
    if len(images) != 1:
        raise _invalid(path, f"its index of one image and attestations lists {len(images)} images")
    image = _read_platform_image(path, members, images[0], ref_name)[0]
    return _with_artifacts([image], path, members, raw)[0]


def _with_artifacts(
    images: list[RockImage], path: Path, members: dict[str, _Member], index: bytes
) -> list[RockImage]:
    """``images``, each with the attestation artifacts ``index`` lists for it; every
    artifact must refer to one of them and have its blobs in the rock."""
    found: dict[str, list[tuple[ArtifactEntry, list[Descriptor]]]] = {}
    for entry in field_list(parse_object(index, f"{path}: its index"), "manifests", str(path)):
        if not isinstance(entry, dict) or (entry.get("platform") or {}).get("os") != "unknown":
            continue
        what = f"{path}: the artifact {str(entry.get('digest'))[:80]}"
        artifact = ArtifactEntry.from_json(entry, what)
        document = parse_object(_small_blob(path, members, artifact.descriptor), what)
        subject = Descriptor.from_json(document.get("subject"), f"{what}, its subject")
        config, layers = manifest_blobs(document, what)
        for blob in (config, *layers):
            _present(path, members, blob)
        found.setdefault(subject.digest, []).append(
            (artifact, [artifact.descriptor, config, *layers])
        )
    digests = {image.manifest.digest for image in images}
    for referred, artifacts in found.items():
        if referred not in digests:
            digest = artifacts[0][0].descriptor.digest
            raise _invalid(path, f"the artifact {digest} refers to {referred}, not to its image")
    return [
        replace(
            image,
            artifacts=tuple(a for a, _ in found.get(image.manifest.digest, [])),
            artifact_blobs=tuple(
                b for _, blobs in found.get(image.manifest.digest, []) for b in blobs
            ),
        )
        for image in images
    ]


def _read_index(
    path: Path, members: dict[str, _Member], descriptor: Descriptor, ref_name: str
) -> RockIndex:
    """The index blob and every image it lists, each checked as a single rock's is."""
    raw = _small_blob(path, members, descriptor)
    images, platforms = [], []
    for entry in index_manifests(raw, f"{path}: its image index"):
        if is_attestation_entry(entry):
            continue
        image, declared = _read_platform_image(path, members, entry, ref_name)
        if declared in platforms:
            raise _invalid(path, f"its index lists two images for {platform_text(declared)}")
        images.append(image)
        platforms.append(declared)
    if not images:
        raise _invalid(path, "its index lists attestations but no image")
    images = _with_artifacts(images, path, members, raw)
    return RockIndex(path, descriptor, raw, ref_name, tuple(images), tuple(platforms))


@contextmanager
def open_blob(image: RockImage, blob: Descriptor) -> Iterator[VerifiedReader]:
    """A blob's content as stored in the rock, verified again while it is read."""
    member = _present(image.path, image.members, blob)
    with image.path.open("rb", buffering=0) as handle:
        handle.seek(member.offset)
        yield VerifiedReader(
            handle.read,
            blob.digest,
            blob.size,
            source=str(image.path),
            resolution=f"{image.path} changed while it was read; {_FIX}",
        )


def read_blob(image: RockImage, blob: Descriptor, limit: int = MAX_DOCUMENT_BYTES) -> bytes:
    """A small blob of the rock (its config), whole."""
    if blob.size > limit:
        raise _invalid(
            image.path, f"blob {blob.digest} is {blob.size} bytes, over the {limit} bytes allowed"
        )
    with open_blob(image, blob) as content:
        return content.read()


def _scan(path: Path) -> tuple[dict[str, _Member], dict[str, bytes]]:
    """One pass over the archive: names checked, blobs hashed, documents read."""
    members: dict[str, _Member] = {}
    documents: dict[str, bytes] = {}
    seen: set[str] = set()
    try:
        with tarfile.open(path, mode="r:", tarinfo=BoundedTarInfo) as archive:
            for count, info in enumerate(archive, start=1):
                if count > MAX_MEMBERS:
                    raise _invalid(path, f"it has more than {MAX_MEMBERS} members")
                name = _checked_name(path, info)
                if name in seen:
                    raise _invalid(path, f"{name!r} appears twice")
                seen.add(name)
                if info.isdir():
                    continue
                _read_member(path, archive, info, name, members, documents)
    except (tarfile.TarError, OSError, EOFError) as err:
        raise _invalid(
            path, "it is not a readable tar archive", details=f"{type(err).__name__}: {err}"
        ) from err
    return members, documents


def _checked_name(path: Path, info: tarfile.TarInfo) -> str:
    raw = info.name
    if raw.startswith("/") or ".." in raw.split("/"):
        raise _invalid(path, f"the member {raw[:200]!r} points outside the archive")
    name = "/".join(p for p in raw.split("/") if p not in ("", "."))
    if not (info.isfile() or info.isdir()):
        raise _invalid(
            path, f"the member {name[:200]!r} is a link or a device, which a rock never holds"
        )
    allowed = _DIRECTORIES if info.isdir() else _DOCUMENTS
    if name not in allowed and not (info.isdir() and name == "") and not _BLOB_NAME.match(name):
        problem = (
            "is not named by a sha256 digest"
            if name.startswith("blobs/")
            else "is not part of an OCI image layout"
        )
        raise _invalid(path, f"the member {name[:200]!r} {problem}")
    return name


def _read_member(
    path: Path,
    archive: tarfile.TarFile,
    info: tarfile.TarInfo,
    name: str,
    members: dict[str, _Member],
    documents: dict[str, bytes],
) -> None:
    content = archive.extractfile(info)
    assert content is not None  # a regular file
    if name in _DOCUMENTS:
        if info.size > MAX_DOCUMENT_BYTES:
            raise _invalid(path, f"its {name} is over {MAX_DOCUMENT_BYTES} bytes")
        documents[name] = content.read()
        return
    seen = Digester()
    while chunk := content.read(1 << 20):
        seen.update(chunk)
    digest = "sha256:" + name.rpartition("/")[2]
    if not seen.matches(digest, info.size):
        raise _invalid(
            path,
            f"blob {digest} does not match its digest (its {seen.size} bytes hash to "
            f"{seen.digest})",
        )
    members[digest] = _Member(info.offset_data, info.size)


def _present(path: Path, members: dict[str, _Member], blob: Descriptor) -> _Member:
    member = members.get(blob.digest)
    if member is None:
        raise _invalid(path, f"blob {blob.digest} ({blob.media_type}) is missing")
    if member.size != blob.size:
        raise _invalid(
            path, f"blob {blob.digest} is {member.size} bytes, but its descriptor says {blob.size}"
        )
    return member


def _small_blob(path: Path, members: dict[str, _Member], blob: Descriptor) -> bytes:
    member = _present(path, members, blob)
    if member.size > MAX_DOCUMENT_BYTES:
        raise _invalid(path, f"its manifest is over {MAX_DOCUMENT_BYTES} bytes")
    with path.open("rb") as handle:
        handle.seek(member.offset)
        data = handle.read(member.size)
    seen = Digester()
    seen.update(data)
    if not seen.matches(blob.digest, blob.size):
        raise _invalid(path, f"blob {blob.digest} changed while it was read")
    return data
