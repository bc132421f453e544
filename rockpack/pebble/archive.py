"""Take the file ``pebble`` out of a tar archive, bounded, into a temporary file.

A release archive has ``pebble`` at its root; an archive given by the user may have it
anywhere. Only a regular file is taken (never a link), no bigger than a limit, and the
archive is read once, as a stream, stopping at the binary.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

MAX_BINARY = 64 * 1024 * 1024
MAX_SKIPPED = 256 * 1024 * 1024  # bytes of other members read through before the binary
MAX_MEMBERS = 10_000
_CHUNK = 1 << 20


class ExtractError(ValueError):
    """An unreadable archive, no acceptable file named pebble in it, or a binary too big."""


@dataclass(frozen=True)
class Extracted:
    path: Path  # temporary; the caller renames or deletes it
    sha256: str
    size: int


def is_archive(path: Path) -> bool:
    try:
        return tarfile.is_tarfile(path)
    except OSError:
        return False


def extract_pebble(archive: Path, directory: Path, *, at_root: bool) -> Extracted:
    """The member named ``pebble`` (at the root only, with ``at_root``), copied out."""
    try:
        with tarfile.open(archive, mode="r|*") as tar:
            skipped = 0
            for count, member in enumerate(tar):
                if count >= MAX_MEMBERS:
                    raise ExtractError(f"more than {MAX_MEMBERS} members")
                name = member.name.removeprefix("./")
                if name == "pebble" or (not at_root and name.rpartition("/")[2] == "pebble"):
                    return _take(tar, member, directory)
                skipped += max(member.size, 0)
                if skipped > MAX_SKIPPED:
                    raise ExtractError(f"no pebble in its first {MAX_SKIPPED} bytes")
    except (tarfile.TarError, EOFError, OSError) as err:
        raise ExtractError(f"it cannot be read as a tar archive ({err})") from err
    where = "at its root" if at_root else "in it"
    raise ExtractError(f"there is no file named 'pebble' {where}")


def _take(tar: tarfile.TarFile, member: tarfile.TarInfo, directory: Path) -> Extracted:
    if not member.isreg():
        raise ExtractError(f"its '{member.name}' is a link or a directory, not a file")
    if member.size > MAX_BINARY:
        raise ExtractError(f"its '{member.name}' is over {MAX_BINARY} bytes")
    source = tar.extractfile(member)
    if source is None:  # pragma: no cover - isreg() members always have data
        raise ExtractError(f"its '{member.name}' has no data")
    return copy_hashed(source, directory, limit=MAX_BINARY)


def copy_hashed(source: IO[bytes], directory: Path, *, limit: int) -> Extracted:
    """Copy ``source`` into a new executable temporary file in ``directory``, hashing it."""
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=directory, prefix=".pebble-", suffix=".partial")
    hasher = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := source.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise ExtractError(f"the binary is over {limit} bytes")
                hasher.update(chunk)
                out.write(chunk)
        Path(name).chmod(0o755)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Extracted(Path(name), hasher.hexdigest(), size)
