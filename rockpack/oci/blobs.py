"""A content-addressed blob store laid out as an OCI image layout's ``blobs/`` dir.

Writes go to a locked temporary file beside the final one and are renamed to their
digest, so a blob either exists whole under its digest or not at all; the temporary
files of a killed run are removed by the next. Every read is verified, by one
``Digester``: a blob whose bytes no longer match its digest is dropped from the store
and reported, so the next run fetches or rebuilds it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from rockpack.errors import LayerError
from rockpack.oci.disk import DiskWriteError
from rockpack.oci.documents import (
    MAX_DOCUMENT_BYTES,
    MalformedDocumentError,
    check_digest,
    field_dict,
    field_int,
    field_str,
    field_strings,
)
from rockpack.oci.tempfiles import locked_temp_file, sweep
from rockpack.oci.verified import (
    ALGORITHM,
    BlobMismatchError,
    Digester,
    Readable,
    VerifiedReader,
)

__all__ = [
    "ALGORITHM",
    "BlobMismatchError",
    "BlobMissingError",
    "BlobStore",
    "BlobWriter",
    "Descriptor",
    "Digester",
    "Readable",
    "VerifiedReader",
]
_TEMP_PREFIX = ".ingest-"
_CHUNK = 1 << 20
_swept: set[Path] = set()


@dataclass(frozen=True)
class Descriptor:
    """An OCI content descriptor."""

    media_type: str
    digest: str
    size: int
    annotations: tuple[tuple[str, str], ...] = ()
    platform: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_json(cls, doc: Any, what: str = "a descriptor") -> Descriptor:
        """A descriptor as a manifest or index writes it, checked field by field."""
        if not isinstance(doc, dict):
            raise MalformedDocumentError(what, "it is not a JSON object")
        platform = field_dict(doc, "platform", what)  # may hold lists (os.features)
        return cls(
            media_type=field_str(doc, "mediaType", what),
            digest=check_digest(field_str(doc, "digest", what), what),
            size=field_int(doc, "size", what),
            annotations=tuple(sorted(field_strings(doc, "annotations", what).items())),
            platform=tuple(sorted((k, v) for k, v in platform.items() if isinstance(v, str))),
        )

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if self.platform:
            out["platform"] = dict(self.platform)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


class BlobMissingError(LayerError):
    """A blob a document names is not in the store."""

    def __init__(self, digest: str, root: Path) -> None:
        self.digest = digest
        super().__init__(
            f"Blob {digest} is missing from rockpack's store {root}.",
            resolution="Run the command again: rockpack fetches or rebuilds missing blobs.",
        )


class BlobWriter:
    """A blob being written: hashes what it is given; committed under its digest."""

    def __init__(self, handle: BinaryIO, directory: Path) -> None:
        self._handle = handle
        self._directory = directory
        self.seen = Digester()

    def write(self, data: bytes) -> None:
        try:
            self._handle.write(data)
        except OSError as err:
            raise DiskWriteError(self._directory, err) from err
        self.seen.update(data)

    @property
    def size(self) -> int:
        return self.seen.size

    @property
    def digest(self) -> str:
        return self.seen.digest


class BlobStore:
    """Blobs under ``root/blobs/sha256/<hex>``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._dir = root / "blobs" / ALGORITHM

    def path(self, digest: str) -> Path:
        algorithm, _, hexdigest = digest.partition(":")
        if algorithm != ALGORITHM or len(hexdigest) != 64 or not _is_hex(hexdigest):
            raise LayerError(
                f"Unsupported or malformed digest {digest[:100]!r}.",
                resolution="rockpack stores sha256 digests only; the image naming it is malformed.",
            )
        return self._dir / hexdigest

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def discard(self, digest: str) -> None:
        """Drop a (damaged) blob; the next run fetches or rebuilds it."""
        with suppress(OSError):  # read-only: the damaged blob is still refused by every read
            self.path(digest).unlink(missing_ok=True)

    @contextmanager
    def ingest(
        self, expected: str | None = None, size: int | None = None, source: str = ""
    ) -> Iterator[BlobWriter]:
        """Write a new blob; it lands under its digest only if the block completes.

        With ``expected`` (and ``size``), content that does not match is refused and
        nothing is stored.
        """
        with ExitStack() as stack:
            try:
                self._dir.mkdir(parents=True, exist_ok=True)
                self._sweep_once()
                temp = stack.enter_context(locked_temp_file(self._dir, _TEMP_PREFIX))
            except OSError as err:
                raise DiskWriteError(self._dir, err) from err
            writer = BlobWriter(temp.handle, self._dir)
            yield writer
            if expected is not None and not writer.seen.matches(expected, size):
                raise BlobMismatchError(
                    expected,
                    size,
                    writer.seen,
                    source=source or "its source",
                    resolution="The source sent corrupt or tampered data; try again, or "
                    "check the registry or mirror serving it.",
                )
            try:
                temp.handle.flush()
                os.fchmod(temp.handle.fileno(), 0o644)
                temp.path.replace(self.path(writer.digest))
            except OSError as err:
                raise DiskWriteError(self._dir, err) from err

    def put_bytes(self, data: bytes, media_type: str) -> Descriptor:
        with self.ingest() as writer:
            writer.write(data)
        return Descriptor(media_type=media_type, digest=writer.digest, size=writer.size)

    @contextmanager
    def open_verified(self, digest: str, size: int, *, purpose: str) -> Iterator[VerifiedReader]:
        """The blob's bytes, checked while read; a mismatch drops it from the store."""
        path = self.path(digest)
        try:
            handle = path.open("rb", buffering=0)
        except FileNotFoundError as err:
            raise BlobMissingError(digest, self.root) from err
        resolution = (
            f"rockpack removed the damaged copy from {self.root}; run the command again and "
            f"it {purpose} the blob anew."
        )
        with handle:
            reader = VerifiedReader(
                handle.read,
                digest,
                size,
                source=f"rockpack's store {self.root}",
                resolution=resolution,
                on_mismatch=lambda: self.discard(digest),
            )
            reader.check_stored_size(os.fstat(handle.fileno()).st_size)
            yield reader

    def read_bytes(
        self, digest: str, size: int | None = None, *, limit: int = MAX_DOCUMENT_BYTES
    ) -> bytes:
        """A small blob's content (a manifest, a config), checked against its digest
        (and size, when given); more than ``limit`` bytes are refused unread."""
        try:
            actual = self.path(digest).stat().st_size
        except OSError as err:
            raise BlobMissingError(digest, self.root) from err
        if max(actual, size or 0) > limit:
            raise LayerError(
                f"Blob {digest} is larger than the {limit // 1024} KiB rockpack reads into "
                "memory for an image document.",
                resolution="The image is malformed or hostile; use another one.",
            )
        with self.open_verified(
            digest, actual if size is None else size, purpose="rebuilds or fetches"
        ) as reader:
            return reader.readall()

    def verify(self, digest: str, size: int) -> bool:
        """Whether the store holds this blob intact; a damaged copy is dropped."""
        try:
            with self.open_verified(digest, size, purpose="fetches") as reader:
                while reader.read(_CHUNK):
                    pass
        except (LayerError, OSError):
            return False
        return True

    def _sweep_once(self) -> None:
        if self._dir not in _swept:
            _swept.add(self._dir)
            sweep(self._dir, _TEMP_PREFIX)


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)
