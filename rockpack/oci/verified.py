"""The one check every blob read goes through: its bytes hashed as they pass, and
compared with the digest and size it is known by (a descriptor, a file name).

``VerifiedReader`` wraps any reader, so copying a blob into a rock, uploading it, or
reading a layer verifies it in the same single pass that uses it.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from typing import Any, Protocol

from rockpack.errors import LayerError

ALGORITHM = "sha256"


class Readable(Protocol):
    """Anything bytes are read from (a file, a verified blob, an HTTP body)."""

    def read(self, size: int = -1, /) -> bytes: ...


class BlobMismatchError(LayerError):
    """A blob's bytes do not hash to its digest, or are not its size."""

    def __init__(
        self,
        digest: str,
        size: int | None,
        got: Digester | int,
        *,
        source: str,
        resolution: str,
    ) -> None:
        self.digest = digest
        self.source = source
        expected = f" (expected {size} bytes)" if size is not None else ""
        found = (
            f"got {got.size} bytes hashing to {got.digest}"
            if isinstance(got, Digester)
            else f"it is {got} bytes"
        )
        super().__init__(
            f"Blob {digest} from {source} does not match its digest: {found}{expected}.",
            resolution=resolution,
        )


class Digester:
    """The sha256 and byte count of a stream: the one check every blob read goes through."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.size = 0

    def update(self, data: bytes) -> None:
        self._hash.update(data)
        self.size += len(data)

    @property
    def digest(self) -> str:
        return f"{ALGORITHM}:{self._hash.hexdigest()}"

    def matches(self, digest: str, size: int | None = None) -> bool:
        return self.digest == digest and (size is None or self.size == size)


class VerifiedReader(io.RawIOBase):
    """Exactly ``size`` bytes of a blob from ``read``, hashed as they pass.

    Reaching the end checks them: fewer bytes, or bytes that do not hash to ``digest``,
    raise ``BlobMismatchError`` (after ``on_mismatch``, e.g. dropping a cache entry).
    """

    def __init__(
        self,
        read: Callable[[int], bytes],
        digest: str,
        size: int,
        *,
        source: str,
        resolution: str,
        on_mismatch: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self._read = read
        self._digest, self._size = digest, size
        self._source, self._resolution = source, resolution
        self._on_mismatch = on_mismatch
        self._seen = Digester()
        self._checked = False

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return super().read(size) or b""

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        wanted = min(len(view), self._size - self._seen.size)
        chunk = self._read(wanted) if wanted > 0 else b""
        if chunk:
            self._seen.update(chunk)
            view[: len(chunk)] = chunk
        if self._seen.size >= self._size or not chunk:
            self.check()
        return len(chunk)

    def check_stored_size(self, stored: int) -> None:
        """Refuse at once a blob stored with the wrong number of bytes."""
        if stored != self._size:
            if self._on_mismatch is not None:
                self._on_mismatch()
            raise BlobMismatchError(
                self._digest,
                self._size,
                stored,
                source=self._source,
                resolution=self._resolution,
            )

    def check(self) -> None:
        """Raise unless everything was read and matched; idempotent."""
        if self._checked:
            return
        if not self._seen.matches(self._digest, self._size):
            if self._on_mismatch is not None:
                self._on_mismatch()
            raise BlobMismatchError(
                self._digest,
                self._size,
                self._seen,
                source=self._source,
                resolution=self._resolution,
            )
        self._checked = True
