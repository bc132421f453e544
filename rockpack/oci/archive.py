"""Write an oci-archive (a tar of an OCI image layout) atomically and reproducibly.

The archive is written to a temporary name in the destination directory and renamed
into place only when complete, so an interrupted or failed write leaves no partial
file and an earlier archive under the same name intact; the next write removes the
temporary file of a killed one. Every blob is verified (digest and size) as it is
copied in: nothing corrupt is ever packed.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Sequence
from contextlib import AbstractContextManager, ExitStack
from io import BytesIO
from pathlib import Path
from typing import Protocol

from rockpack.errors import PackError
from rockpack.oci.blobs import Descriptor, VerifiedReader
from rockpack.oci.disk import DiskWriteError
from rockpack.oci.entries import Entry, Kind
from rockpack.oci.image import OCI_LAYOUT
from rockpack.oci.layer import tar_info
from rockpack.oci.tar_stream import TarStream
from rockpack.oci.tempfiles import locked_temp_file, sweep


class BlobSource(Protocol):
    """Where an archive's blobs come from: a ``BlobStore``, or the blobs of other rocks."""

    def has(self, digest: str) -> bool: ...

    def open_verified(
        self, digest: str, size: int, *, purpose: str
    ) -> AbstractContextManager[VerifiedReader]: ...


def write_oci_archive(
    destination: Path,
    stores: Sequence[BlobSource],
    index: bytes,
    blobs: list[Descriptor],
    *,
    mtime: int,
) -> None:
    """Write ``index`` and ``blobs`` as an oci-archive at ``destination``.

    Each blob is taken from the first of ``stores`` that has it (the project's own
    layers, then the shared cache holding the base's) and verified while it is copied:
    a blob whose bytes no longer match its digest is dropped from its store and the
    write fails, leaving any earlier archive in place.
    """
    directory = destination.parent
    prefix = f".{destination.name}."
    with ExitStack() as stack:
        try:
            sweep(directory, prefix)  # what a killed run left
            temp = stack.enter_context(locked_temp_file(directory, prefix, suffix=".tmp"))
        except OSError as err:
            raise PackError(
                f"Cannot write to {directory}: {err.strerror}.",
                resolution="Choose a writable directory with --output, or fix its permissions.",
            ) from err
        try:
            archive = TarStream(temp.handle.write)
            _add_dir(archive, "blobs", mtime)
            _add_dir(archive, "blobs/sha256", mtime)
            for blob in _unique(blobs):
                store = _find(stores, blob.digest)
                info = _file(f"blobs/sha256/{blob.digest.partition(':')[2]}", blob.size, mtime)
                with store.open_verified(blob.digest, blob.size, purpose=_PURPOSE) as content:
                    archive.add(info, content.read)
                    content.check()
            _add_bytes(archive, "index.json", index, mtime)
            _add_bytes(archive, "oci-layout", OCI_LAYOUT, mtime)
            archive.close()
            temp.handle.flush()
            os.fsync(temp.handle.fileno())
            os.fchmod(temp.handle.fileno(), 0o644)
            temp.path.replace(destination)
        except OSError as err:
            raise DiskWriteError(directory, err, what="the rock") from err


_PURPOSE = "fetches (or rebuilds)"


def _unique(blobs: list[Descriptor]) -> list[Descriptor]:
    by_digest = {blob.digest: blob for blob in blobs}
    return [by_digest[digest] for digest in sorted(by_digest)]


def _find(stores: Sequence[BlobSource], digest: str) -> BlobSource:
    for store in stores:
        if store.has(digest):
            return store
    raise PackError(
        f"Blob {digest} is missing from rockpack's stores.",
        resolution="Run 'rockpack clean' and pack again.",
    )


def _file(name: str, size: int, mtime: int) -> tarfile.TarInfo:
    return tar_info(Entry(name, Kind.FILE, 0o644, mtime=mtime, size=size))


def _add_dir(archive: TarStream, name: str, mtime: int) -> None:
    archive.add(tar_info(Entry(name, Kind.DIR, 0o755, mtime=mtime)))


def _add_bytes(archive: TarStream, name: str, data: bytes, mtime: int) -> None:
    archive.add(_file(name, len(data), mtime), BytesIO(data).read)
