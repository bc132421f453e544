"""Serialise decided entries into a gzip-compressed tar layer, in one pass.

Each file is read once: the tar stream feeds the diff_id hash and the compressor, and
the compressor's output feeds the blob digest. The gzip header carries no name and
mtime 0, and tar headers carry numeric owners only, so the same entries always give
the same bytes.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

from rockpack.errors import LayerError
from rockpack.oci.blobs import BlobStore, BlobWriter, Descriptor
from rockpack.oci.compress import DEFAULT, Compression, compressor
from rockpack.oci.entries import Entry, Kind

MEDIA_TYPE_LAYER_GZIP = DEFAULT.media_type
_CHUNK = 1 << 20

_TAR_TYPES = {
    Kind.FILE: tarfile.REGTYPE,
    Kind.DIR: tarfile.DIRTYPE,
    Kind.SYMLINK: tarfile.SYMTYPE,
    Kind.HARDLINK: tarfile.LNKTYPE,
    Kind.FIFO: tarfile.FIFOTYPE,
    Kind.CHAR: tarfile.CHRTYPE,
    Kind.BLOCK: tarfile.BLKTYPE,
}


@dataclass(frozen=True)
class Layer:
    """A written layer: its blob descriptor and its uncompressed digest."""

    descriptor: Descriptor
    diff_id: str


class _LayerTee:
    """File-like sink for tarfile: hashes the tar stream and compresses it into a blob."""

    def __init__(self, blob: BlobWriter, compression: Compression) -> None:
        self._diff_hash = hashlib.sha256()
        self._offset = 0
        self._compressor = compressor(compression, blob.write)

    def write(self, data: bytes) -> int:
        self._diff_hash.update(data)
        self._offset += len(data)
        self._compressor.write(bytes(data))
        return len(data)

    def tell(self) -> int:
        return self._offset

    def finish(self) -> str:
        self._compressor.finish()
        return f"sha256:{self._diff_hash.hexdigest()}"

    def abandon(self) -> None:
        self._compressor.abandon()


def write_layer(
    entries: Iterable[Entry], store: BlobStore, *, compression: Compression = DEFAULT
) -> Layer:
    """Write ``entries`` (sorted, hardlink leaders decided) as one layer blob."""
    with store.ingest() as blob:
        sink = _LayerTee(blob, compression)
        try:
            archive = tarfile.TarFile(
                fileobj=sink,  # type: ignore[arg-type]
                mode="w",
                format=tarfile.PAX_FORMAT,
                encoding="utf-8",
                errors="surrogateescape",
            )
            seen: set[str] = set()
            for entry in entries:
                if entry.path in seen:
                    raise LayerError(f"Two layer entries for one path: {entry.path!r}.")
                seen.add(entry.path)
                _add(archive, entry)
            archive.close()
            diff_id = sink.finish()
        except BaseException:
            sink.abandon()
            raise
    descriptor = Descriptor(compression.media_type, blob.digest, blob.size)
    return Layer(descriptor=descriptor, diff_id=diff_id)


def tar_info(entry: Entry) -> tarfile.TarInfo:
    """The tar header of one entry."""
    info = tarfile.TarInfo(entry.path + ("/" if entry.kind == Kind.DIR else ""))
    info.type = _TAR_TYPES[entry.kind]
    info.mode = entry.mode & 0o7777
    info.uid, info.gid = entry.uid, entry.gid
    info.uname = info.gname = ""
    info.mtime = entry.mtime
    info.size = entry.size if entry.kind == Kind.FILE else 0
    info.linkname = entry.link_target
    info.devmajor, info.devminor = entry.device
    if entry.xattrs:
        info.pax_headers = {
            f"SCHILY.xattr.{name}": value.decode("utf-8", "surrogateescape")
            for name, value in entry.xattrs
        }
    return info


def _add(archive: tarfile.TarFile, entry: Entry) -> None:
    info = tar_info(entry)
    if entry.kind != Kind.FILE:
        archive.addfile(info)
        return
    if entry.content is not None:
        archive.addfile(info, BytesIO(entry.content))
        return
    if entry.source is None:
        raise LayerError(f"No content for file entry {entry.path!r}.")
    with _open_regular(entry.source, entry.size) as handle:
        archive.addfile(info, handle)


def _open_regular(path: Path, size: int) -> BinaryIO:
    """Open a regular file without following a symlink put in its place since scanning."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as err:
        raise LayerError(
            f"Cannot read {path}: {err.strerror}.",
            resolution="Something changed the prime directory while packing; pack again.",
        ) from err
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_size != size:
        os.close(fd)
        raise LayerError(
            f"{path} changed while packing.",
            resolution="Let the build finish before packing, then pack again.",
        )
    return os.fdopen(fd, "rb", buffering=_CHUNK)
