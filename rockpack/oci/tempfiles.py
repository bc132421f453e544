"""Temporary files renamed into place, and the ones a killed run left behind.

A temporary file is made beside its final name and holds an exclusive ``flock`` from
creation until it has been renamed (the kernel drops the lock when its process dies).
``sweep`` removes the temporary files of a prefix whose lock it can take: their writer
is gone. Two live runs never remove each other's files.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO


@dataclass(frozen=True)
class TempFile:
    handle: BinaryIO
    path: Path


@contextmanager
def locked_temp_file(directory: Path, prefix: str, suffix: str = "") -> Iterator[TempFile]:
    """An open, locked temporary file in ``directory``, removed at the end unless renamed.

    Rename it (``temp.path.replace(final)``) inside the block: the lock lasts until the
    block ends.
    """
    while True:
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=directory)
        fcntl.flock(fd, fcntl.LOCK_EX)
        if os.fstat(fd).st_nlink:
            break
        os.close(fd)  # a sweep removed it between its creation and our lock: again
    path = Path(name)
    handle = os.fdopen(fd, "wb")
    try:
        yield TempFile(handle, path)
    finally:
        try:
            if _same_file(path, fd):
                with suppress(FileNotFoundError):
                    path.unlink()
        finally:
            with suppress(OSError):
                handle.close()


def sweep(directory: Path, prefix: str) -> list[Path]:
    """Remove files named ``prefix*`` in ``directory`` that no live run holds."""
    removed = []
    try:
        candidates = [e for e in os.scandir(directory) if e.name.startswith(prefix)]
    except OSError:
        return []
    for entry in candidates:
        path = Path(entry.path)
        try:
            fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue  # a live run is writing it
        try:
            if _same_file(path, fd):
                path.unlink()
                removed.append(path)
        except OSError:
            pass
        finally:
            os.close(fd)
    return removed


def _same_file(path: Path, fd: int) -> bool:
    """Whether ``path`` still names the file open as ``fd`` (not one made since)."""
    try:
        here, there = path.lstat(), os.fstat(fd)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)
