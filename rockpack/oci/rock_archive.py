"""Read a .rock (an oci-archive): its single image's manifest, config and blobs."""

from __future__ import annotations

import hashlib
import json
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from rockpack.errors import RockpackError
from rockpack.oci.blobs import Descriptor
from rockpack.oci.image import ManifestView


class RockArchiveError(RockpackError):
    """A file that is not a readable rock."""


@dataclass(frozen=True)
class RockImage(ManifestView):
    """The image in a rock, as read from its archive."""

    path: Path
    manifest: Descriptor
    raw: bytes  # the manifest's exact bytes
    ref_name: str  # the tag the index gives it (the rock's version)

    @property
    def blobs(self) -> list[Descriptor]:
        """Layers then config: the order a registry push needs before the manifest."""
        return [*self.layers, self.config]


def read_rock(path: Path) -> RockImage:
    """Open ``path`` and check that it holds exactly one OCI image, intact."""
    try:
        with tarfile.open(path) as archive:
            index = json.loads(_member(archive, "index.json", path).read())
            manifests = index.get("manifests") or []
            if len(manifests) != 1:
                raise RockArchiveError(f"{path} holds {len(manifests)} images, not one.")
            manifest = Descriptor.from_json(manifests[0])
            raw = _blob(archive, manifest, path).read()
    except (tarfile.TarError, OSError, ValueError, KeyError) as err:
        raise RockArchiveError(
            f"{path} is not a readable rock ({type(err).__name__}: {err}).",
            resolution="Pass a .rock written by 'rockpack pack'.",
        ) from err
    if "sha256:" + hashlib.sha256(raw).hexdigest() != manifest.digest:
        raise RockArchiveError(f"{path}: its manifest does not match its digest.")
    ref_name = (manifests[0].get("annotations") or {}).get("org.opencontainers.image.ref.name", "")
    return RockImage(path=path, manifest=manifest, raw=raw, ref_name=ref_name)


@contextmanager
def open_blob(image: RockImage, blob: Descriptor) -> Iterator[IO[bytes]]:
    """A blob's content as stored in the rock."""
    with tarfile.open(image.path) as archive:
        yield _blob(archive, blob, image.path)


def _blob(archive: tarfile.TarFile, blob: Descriptor, path: Path) -> IO[bytes]:
    algorithm, _, hexdigest = blob.digest.partition(":")
    return _member(archive, f"blobs/{algorithm}/{hexdigest}", path)


def _member(archive: tarfile.TarFile, name: str, path: Path) -> IO[bytes]:
    try:
        handle = archive.extractfile(name)
    except KeyError:
        handle = None
    if handle is None:
        raise RockArchiveError(
            f"{path} has no {name}.", resolution="Pass a .rock written by 'rockpack pack'."
        )
    return handle
