"""The multi-platform rock: one image index over the images of single-platform rocks.

It is made from the rocks themselves, each read and verified, so it holds exactly their
images, byte for byte: ``pack --index`` writes it after packing (and the host after a
clean build). Its index.json names one blob, the image index, as buildx and skopeo lay a
multi-platform image out; ``push`` sends that index as it is, so the registry's digest
is the rock's. Its files' dates are the newest image's ``created``: the rock is a pure
function of the rocks it indexes. Rocks packed with ``attestations: in-index`` bring
their attestation artifacts along, listed under unknown/unknown as in their own index.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from io import BytesIO
from pathlib import Path

from rockpack.errors import PackError
from rockpack.oci.archive import write_oci_archive
from rockpack.oci.blobs import Descriptor, Digester, VerifiedReader
from rockpack.oci.documents import parse_object
from rockpack.oci.image import MEDIA_TYPE_INDEX, index_json
from rockpack.oci.index import ImageIndexError, config_platform, image_index, index_entry
from rockpack.oci.rock_archive import RockImage, open_blob, read_blob, read_rock


def index_rock_name(name: str, version: str) -> str:
    return f"{name}_{version}.rock"


def index_rock_directory(output: Path | None, project_dir: Path) -> Path:
    """Where the index rock goes: beside the platforms' rocks, so never a .rock file."""
    if output is None:
        return project_dir
    if output.suffix == ".rock":
        raise PackError(
            f"An index writes one rock per platform and one index rock, so the output "
            f"must be a directory, not {output}.",
            resolution="Pass --output DIRECTORY (or no --output) with --index.",
        )
    return output


def image_entries(images: Sequence[RockImage]) -> tuple[list[Descriptor], int]:
    """Each image's index entry (platform from its config), and the newest ``created``."""
    entries, dates = [], [0]
    for image in images:
        what = f"{image.path}: its image config"
        config = parse_object(read_blob(image, image.config), what)
        entries.append(index_entry(image.manifest, config_platform(config, what)))
        dates.append(_epoch(config.get("created")))
    return entries, max(dates)


def write_index_rock(rocks: Sequence[Path], directory: Path, name: str) -> Path:
    """Write ``<name>_<version>.rock`` in ``directory``: an index of ``rocks``' images."""
    images = [read_rock(path) for path in rocks]
    versions = sorted({image.ref_name for image in images})
    if len(versions) != 1:
        raise ImageIndexError(
            f"The rocks to index have {len(versions)} versions ({', '.join(versions)}), "
            "and one index names one version.",
            resolution="Give every platform the same version.",
        )
    entries, created = image_entries(images)
    raw = image_index(entries, [a for image in images for a in image.artifacts])
    seen = Digester()
    seen.update(raw)
    index = Descriptor(MEDIA_TYPE_INDEX, seen.digest, seen.size)
    destination = directory / index_rock_name(name, versions[0])
    blobs = [index, *(b for image in images for b in image_blobs(image))]
    source = RockBlobs(images, {index.digest: raw})
    write_oci_archive(
        destination, [source], index_json([(index, versions[0])]), blobs, mtime=created
    )
    return destination


def image_blobs(image: RockImage) -> list[Descriptor]:
    """Every blob of an image in a rock, its attestation artifacts' too."""
    return [image.manifest, *image.blobs, *image.artifact_blobs]


class RockBlobs:
    """The blobs of read rocks (and a few in memory), as a source for an archive."""

    def __init__(self, images: Sequence[RockImage], extra: dict[str, bytes]) -> None:
        self._images = list(images)
        self._extra = extra

    def has(self, digest: str) -> bool:
        return digest in self._extra or any(digest in i.members for i in self._images)

    @contextmanager
    def open_verified(self, digest: str, size: int, *, purpose: str) -> Iterator[VerifiedReader]:
        if digest in self._extra:
            yield VerifiedReader(
                BytesIO(self._extra[digest]).read,
                digest,
                size,
                source="the image index",
                resolution="Report this: rockpack's own index did not match its digest.",
            )
            return
        image = next(i for i in self._images if digest in i.members)
        with open_blob(image, Descriptor("application/octet-stream", digest, size)) as content:
            yield content


def _epoch(created: object) -> int:
    """An RFC 3339 UTC date (as rockpack writes ``created``) as seconds; 0 if it is not."""
    if not isinstance(created, str):
        return 0
    try:
        return int(datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0
