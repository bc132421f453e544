"""A write-only tar stream with the bytes of ``tarfile``'s PAX format, made faster.

``tarfile.TarFile.addfile`` copies every header object, keeps every member in memory
and copies file data in 16 KiB pieces. A layer needs none of that: headers come from
the public ``TarInfo.tobuf``, data is copied in 1 MiB pieces, and nothing is kept, so
memory stays flat however many entries a layer has.
"""

from __future__ import annotations

import tarfile
from collections.abc import Callable

from rockpack.errors import LayerError

_COPY = 1 << 20
_NUL_BLOCK = bytes(tarfile.BLOCKSIZE)


class TarStream:
    """Writes tar members to ``sink`` as bytes; ``close`` ends the archive."""

    def __init__(self, sink: Callable[[bytes], object]) -> None:
        self._sink = sink
        self._offset = 0

    def add(self, info: tarfile.TarInfo, read: Callable[[int], bytes] | None = None) -> None:
        """One member; a regular file's ``info.size`` bytes come from ``read(n)`` calls."""
        self._write(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
        if not info.size:
            return
        if read is None:
            raise LayerError(f"No content for file entry {info.name!r}.")
        remaining = info.size
        while remaining:
            chunk = read(min(_COPY, remaining))
            if not chunk:
                raise LayerError(
                    f"{info.name} is shorter than when it was scanned.",
                    resolution="Something changed the prime directory while packing; pack again.",
                )
            self._write(chunk)
            remaining -= len(chunk)
        self._pad(tarfile.BLOCKSIZE)

    def close(self) -> None:
        """Two zero blocks, then zeros to a whole record, as ``tarfile`` ends an archive."""
        self._write(_NUL_BLOCK * 2)
        self._pad(tarfile.RECORDSIZE)

    def _pad(self, unit: int) -> None:
        remainder = self._offset % unit
        if remainder:
            self._write(bytes(unit - remainder))

    def _write(self, data: bytes) -> None:
        self._sink(data)
        self._offset += len(data)
