"""Serialise decided entries into a gzip-compressed tar layer, in one pass.

Each file is read once: the tar stream feeds the diff_id hash and the compressor, and
the compressor's output feeds the blob digest. The gzip header carries no name and
mtime 0, and tar headers carry numeric owners only, so the same entries always give
the same bytes.
"""

from __future__ import annotations

import functools
import hashlib
import os
import stat
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from rockpack.errors import LayerError
from rockpack.oci.blobs import BlobStore, Descriptor
from rockpack.oci.compress import DEFAULT, Compression, compressor
from rockpack.oci.entries import Entry, Kind
from rockpack.oci.tar_stream import TarStream

MEDIA_TYPE_LAYER_GZIP = DEFAULT.media_type

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


def write_layer(
    entries: Iterable[Entry], store: BlobStore, *, compression: Compression = DEFAULT
) -> Layer:
    """Write ``entries`` (sorted, hardlink leaders decided) as one layer blob."""
    diff_hash = hashlib.sha256()
    with store.ingest() as blob:
        stream = compressor(compression, blob.write, observe=diff_hash.update)
        try:
            tar = TarStream(stream.write)
            seen: set[str] = set()
            for entry in entries:
                if entry.path in seen:
                    raise LayerError(f"Two layer entries for one path: {entry.path!r}.")
                seen.add(entry.path)
                _add(tar, entry)
            tar.close()
            stream.finish()
        except BaseException:
            stream.abandon()
            raise
    descriptor = Descriptor(compression.media_type, blob.digest, blob.size)
    return Layer(descriptor=descriptor, diff_id=f"sha256:{diff_hash.hexdigest()}")


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


def _add(tar: TarStream, entry: Entry) -> None:
    info = tar_info(entry)
    if entry.kind != Kind.FILE:
        tar.add(info)
    elif entry.content is not None:
        tar.add(info, BytesIO(entry.content).read)
    elif entry.source is None:
        raise LayerError(f"No content for file entry {entry.path!r}.")
    else:
        fd = _open_regular(entry.source, entry.size)
        try:
            tar.add(info, functools.partial(os.read, fd))
        finally:
            os.close(fd)


def _open_regular(path: str | Path, size: int) -> int:
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
    return fd
