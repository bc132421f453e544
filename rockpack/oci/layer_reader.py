"""Read a layer blob as a stream of checked members.

Every name is normalised and checked before anyone sees it: absolute paths, '..'
components and hardlinks that leave the layer's tree are refused. Corrupt or truncated
compression and tar data end in one LayerError naming the layer.
"""

from __future__ import annotations

import gzip
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import zstandard

from rockpack.errors import LayerError
from rockpack.oci.entries import Kind

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_KINDS = {
    tarfile.REGTYPE: Kind.FILE,
    tarfile.AREGTYPE: Kind.FILE,
    tarfile.CONTTYPE: Kind.FILE,
    tarfile.DIRTYPE: Kind.DIR,
    tarfile.SYMTYPE: Kind.SYMLINK,
    tarfile.LNKTYPE: Kind.HARDLINK,
    tarfile.FIFOTYPE: Kind.FIFO,
    tarfile.CHRTYPE: Kind.CHAR,
    tarfile.BLKTYPE: Kind.BLOCK,
}


@dataclass(frozen=True)
class Member:
    """One checked layer entry. ``link`` is a symlink's target or a hardlink's path."""

    path: str
    kind: Kind
    mode: int
    uid: int
    gid: int
    size: int
    mtime: int
    link: str
    xattrs: tuple[tuple[str, bytes], ...]
    device: tuple[int, int]


def normalise(name: str, layer: str) -> str:
    """A tar name as a clean relative path ('' for the root); refuse escapes."""
    if name.startswith("/"):
        raise _hostile(layer, name, "is an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _hostile(layer, name, "contains '..'")
    return "/".join(parts)


def iter_layer(path: Path, label: str) -> Iterator[tuple[Member, _Checked | None]]:
    """Members of the layer blob at ``path``, each with its content stream if a file.

    A content stream is valid only until the next member is taken.
    """
    with path.open("rb") as raw:
        try:
            with (
                _decompressed(raw) as stream,
                tarfile.open(
                    fileobj=stream, mode="r|", encoding="utf-8", errors="surrogateescape"
                ) as archive,
            ):
                for info in archive:
                    member = _member(info, label)
                    if member is None:
                        continue
                    stream = archive.extractfile(info) if member.kind == Kind.FILE else None
                    yield member, (_Checked(stream, label) if stream else None)
        except _DAMAGE as err:
            raise _damaged(label, err) from err


_DAMAGE = (tarfile.TarError, EOFError, zlib.error, OSError, zstandard.ZstdError)


def _damaged(label: str, err: Exception) -> LayerError:
    return LayerError(
        f"Layer {label} is corrupt or truncated ({type(err).__name__}: {err}).",
        resolution="Delete it from the cache (or refresh the base) and try again; "
        "if it persists, the image itself is broken.",
    )


class _Checked:
    """A member's content; damage found while reading it is reported like any other."""

    def __init__(self, stream: IO[bytes], label: str) -> None:
        self._stream = stream
        self._label = label

    def read(self, size: int = -1) -> bytes:
        try:
            return self._stream.read(size)
        except _DAMAGE as err:
            raise _damaged(self._label, err) from err


def _decompressed(raw: IO[bytes]) -> Any:
    magic = raw.read(4)
    raw.seek(0)
    if magic.startswith(_GZIP_MAGIC):
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if magic == _ZSTD_MAGIC:
        return zstandard.ZstdDecompressor().stream_reader(raw)
    return raw


def _member(info: tarfile.TarInfo, label: str) -> Member | None:
    kind = _KINDS.get(info.type)
    if kind is None:
        if info.type in (tarfile.GNUTYPE_SPARSE,):
            kind = Kind.FILE
        else:
            return None  # PAX/GNU extension headers are folded in by tarfile already
    path = normalise(info.name, label)
    if not path:
        return None  # the root itself
    link = info.linkname
    if kind == Kind.HARDLINK:
        link = normalise(link, label)
        if not link:
            raise _hostile(label, info.name, "is a hardlink to the root")
    xattrs = tuple(
        sorted(
            (key.removeprefix("SCHILY.xattr."), value.encode("utf-8", "surrogateescape"))
            for key, value in info.pax_headers.items()
            if key.startswith("SCHILY.xattr.")
        )
    )
    return Member(
        path=path,
        kind=kind,
        mode=info.mode & 0o7777,
        uid=info.uid,
        gid=info.gid,
        size=info.size if kind == Kind.FILE else 0,
        mtime=int(info.mtime),
        link=link,
        xattrs=xattrs,
        device=(info.devmajor, info.devminor),
    )


def _hostile(layer: str, name: str, why: str) -> LayerError:
    return LayerError(
        f"Layer {layer} has an entry {name!r} that {why}.",
        details="An entry like this could write outside the image's root.",
        resolution="Do not use this image; build the base from a trusted source.",
    )
