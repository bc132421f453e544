"""Read a layer blob as a stream of checked members.

Every name is normalised and checked before anyone sees it: absolute paths, '..'
components and hardlinks that leave the layer's tree are refused. Corrupt or truncated
compression and tar data end in one LayerError naming the layer.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zlib
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import zstandard

from rockpack.errors import LayerError
from rockpack.oci.blobs import Descriptor, Readable, VerifiedReader
from rockpack.oci.entries import Kind
from rockpack.oci.media_types import layer_compression

MAX_EXTENDED_HEADER = 1024 * 1024  # a PAX or GNU long-name header, read into memory
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


def iter_layer(
    source: Path | Readable, label: str, blob: Descriptor | None = None
) -> Iterator[tuple[Member, _Checked | None]]:
    """Members of a layer blob (a file, or a stream), each with its content if a file.

    With ``blob``, its media type must be a layer type a runtime unpacks, and the bytes
    are verified against its digest and size as they are read (when the members are
    read to the end). A content stream is valid only until the next member is taken.
    """
    if blob is not None:
        layer_compression(blob.media_type, label)
    with ExitStack() as stack:
        raw: Any = (
            stack.enter_context(source.open("rb", buffering=0))
            if isinstance(source, Path)
            else source
        )
        if blob is not None:
            raw = VerifiedReader(
                raw.read,
                blob.digest,
                blob.size,
                source=f"layer {label}",
                resolution="Delete it from the cache (or refresh the base) and try again.",
            )
            if isinstance(source, Path):
                raw.check_stored_size(source.stat().st_size)
        buffered = io.BufferedReader(raw, 1 << 20)
        try:
            with (
                _decompressed(buffered) as stream,
                tarfile.open(
                    fileobj=stream,
                    mode="r|",
                    encoding="utf-8",
                    errors="surrogateescape",
                    tarinfo=BoundedTarInfo,
                ) as archive,
            ):
                for info in archive:
                    member = _member(info, label)
                    if member is None:
                        continue
                    stream = archive.extractfile(info) if member.kind == Kind.FILE else None
                    yield member, (_Checked(stream, label) if stream else None)
            while buffered.read(1 << 20):
                pass  # the rest of the blob, so that its digest is checked
        except _HeaderTooLarge as err:
            raise LayerError(
                f"Layer {label} has a tar extended header of {err.size} bytes; rockpack "
                f"reads at most {MAX_EXTENDED_HEADER // 1024} KiB of one.",
                resolution="Do not use this image; its layers are malformed or hostile.",
            ) from err
        except _DAMAGE as err:
            raise _damaged(label, err) from err


class _HeaderTooLarge(tarfile.TarError):
    def __init__(self, size: int) -> None:
        super().__init__(f"extended header of {size} bytes")
        self.size = size


class BoundedTarInfo(tarfile.TarInfo):
    """A tar header whose PAX or GNU long-name data is read only within a bound."""

    def _proc_member(self, tarfile: tarfile.TarFile) -> Any:
        if self.type in _EXTENDED and self.size > MAX_EXTENDED_HEADER:
            raise _HeaderTooLarge(self.size)
        return super()._proc_member(tarfile)  # type: ignore[misc]


_EXTENDED = (
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
)
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


def _decompressed(raw: io.BufferedReader[Any]) -> Any:
    """The tar stream inside: gzip and zstd are recognised by their magic, as runtimes do."""
    magic = raw.peek(4)[:4]
    if magic.startswith(_GZIP_MAGIC):
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if magic == _ZSTD_MAGIC:
        return zstandard.ZstdDecompressor().stream_reader(
            raw, read_across_frames=True, closefd=False
        )
    return _Unclosed(raw)


class _Unclosed(io.RawIOBase):
    """A plain tar read straight from ``raw``, leaving it open for the digest check."""

    def __init__(self, raw: io.BufferedReader[Any]) -> None:
        super().__init__()
        self._raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._raw.readinto(buffer)


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
