"""Write an oci-archive (a tar of an OCI image layout) atomically and reproducibly.

The archive is written to a temporary name in the destination directory and renamed
into place only when complete, so an interrupted or failed write leaves no partial
file and an earlier archive under the same name intact.
"""

from __future__ import annotations

import os
import tarfile
import tempfile
from collections.abc import Sequence
from io import BytesIO
from pathlib import Path

from rockpack.errors import PackError
from rockpack.oci.blobs import BlobStore, Descriptor
from rockpack.oci.entries import Entry, Kind
from rockpack.oci.image import OCI_LAYOUT
from rockpack.oci.layer import tar_info
from rockpack.oci.tar_stream import TarStream


def write_oci_archive(
    destination: Path,
    stores: Sequence[BlobStore],
    index: bytes,
    blobs: list[Descriptor],
    *,
    mtime: int,
) -> None:
    """Write ``index`` and ``blobs`` as an oci-archive at ``destination``.

    Each blob is taken from the first of ``stores`` that has it (the project's own
    layers, then the shared cache holding the base's).
    """
    directory = destination.parent
    try:
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{destination.name}.", suffix=".tmp", dir=directory
        )
    except OSError as err:
        raise PackError(
            f"Cannot write to {directory}: {err.strerror}.",
            resolution="Choose a writable directory with --output, or fix its permissions.",
        ) from err
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            archive = TarStream(handle.write)
            _add_dir(archive, "blobs", mtime)
            _add_dir(archive, "blobs/sha256", mtime)
            seen: set[str] = set()
            for blob in sorted(blobs, key=lambda b: b.digest):
                if blob.digest in seen:
                    continue
                seen.add(blob.digest)
                hexdigest = blob.digest.partition(":")[2]
                path = _find(stores, blob.digest)
                info = _file(f"blobs/sha256/{hexdigest}", path.stat().st_size, mtime)
                with path.open("rb", buffering=0) as content:
                    archive.add(info, content.read)
            _add_bytes(archive, "index.json", index, mtime)
            _add_bytes(archive, "oci-layout", OCI_LAYOUT, mtime)
            archive.close()
            handle.flush()
            os.fsync(handle.fileno())
        tmp.chmod(0o644)
        tmp.replace(destination)
    except OSError as err:
        raise PackError(
            f"Cannot write {destination}: {err.strerror}.",
            resolution="Check free space and permissions of the output directory.",
        ) from err
    finally:
        tmp.unlink(missing_ok=True)


def _find(stores: Sequence[BlobStore], digest: str) -> Path:
    for store in stores:
        if store.has(digest):
            return store.path(digest)
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
