"""A content-addressed blob store laid out as an OCI image layout's ``blobs/`` dir.

Writes go to a temporary file beside the final one and are renamed to their digest,
so a blob either exists whole under its digest or not at all. Reads are verified.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from rockpack.errors import LayerError

ALGORITHM = "sha256"


@dataclass(frozen=True)
class Descriptor:
    """An OCI content descriptor."""

    media_type: str
    digest: str
    size: int
    annotations: tuple[tuple[str, str], ...] = ()
    platform: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Descriptor:
        """A descriptor as a manifest or index writes it (annotations aside)."""
        return cls(media_type=doc["mediaType"], digest=doc["digest"], size=int(doc["size"]))

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


class BlobWriter:
    """A blob being written: hashes what it is given; committed under its digest."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self._handle.write(data)
        self._hash.update(data)
        self.size += len(data)

    @property
    def digest(self) -> str:
        return f"{ALGORITHM}:{self._hash.hexdigest()}"


class BlobStore:
    """Blobs under ``root/blobs/sha256/<hex>``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._dir = root / "blobs" / ALGORITHM

    def path(self, digest: str) -> Path:
        algorithm, _, hexdigest = digest.partition(":")
        if algorithm != ALGORITHM or len(hexdigest) != 64 or not _is_hex(hexdigest):
            raise LayerError(f"Unsupported or malformed digest {digest!r}.")
        return self._dir / hexdigest

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    @contextmanager
    def ingest(
        self, expected: str | None = None, size: int | None = None, source: str = ""
    ) -> Iterator[BlobWriter]:
        """Write a new blob; it lands under its digest only if the block completes.

        With ``expected`` (and ``size``), content that does not match is refused and
        nothing is stored.
        """
        self._dir.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".ingest-", dir=self._dir)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as handle:
                writer = BlobWriter(handle)
                yield writer
                handle.flush()
            if expected is not None and (
                writer.digest != expected or (size is not None and writer.size != size)
            ):
                raise LayerError(
                    f"Blob {expected}{' from ' + source if source else ''} does not match its "
                    f"digest: got {writer.size} bytes hashing to {writer.digest}"
                    + (f" (expected {size} bytes)." if size is not None else "."),
                    resolution="The source sent corrupt or tampered data; try again, or "
                    "check the registry or mirror serving it.",
                )
            tmp.chmod(0o644)
            tmp.replace(self.path(writer.digest))
        finally:
            tmp.unlink(missing_ok=True)

    def put_bytes(self, data: bytes, media_type: str) -> Descriptor:
        with self.ingest() as writer:
            writer.write(data)
        return Descriptor(media_type=media_type, digest=writer.digest, size=writer.size)

    def read_bytes(self, digest: str) -> bytes:
        """The blob's content, checked against its digest."""
        data = self.path(digest).read_bytes()
        actual = f"{ALGORITHM}:{hashlib.sha256(data).hexdigest()}"
        if actual != digest:
            raise LayerError(
                f"Blob {digest} is corrupt (its content hashes to {actual}).",
                resolution=f"Delete {self.path(digest)} and pack again.",
            )
        return data


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)
