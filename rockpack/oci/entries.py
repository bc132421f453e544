"""The decided contents of a layer: one Entry per path, in layer order.

Everything that decides *what* goes into a layer (pruning, hardlink leaders, owners,
modes, mtimes) produces Entries; the layer writer only serialises them.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass, field
from pathlib import Path


class Kind(enum.Enum):
    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"  # another name of an earlier FILE entry in the same layer
    FIFO = "fifo"
    CHAR = "char"
    BLOCK = "block"


@dataclass(frozen=True)
class Entry:
    """One path of a layer. ``path`` is relative, '/'-separated, with no leading './'."""

    path: str
    kind: Kind
    mode: int  # permission bits with setuid, setgid and sticky (0o7777)
    uid: int = 0
    gid: int = 0
    mtime: int = 0
    size: int = 0  # FILE and HARDLINK: the content's size (a hardlink header stores 0)
    link_target: str = ""  # SYMLINK: as stored; HARDLINK: path of the leader entry
    source: str | Path | None = None  # FILE: the file the content is read from ...
    content: bytes | None = None  # ... or the content itself, for generated files
    xattrs: tuple[tuple[str, bytes], ...] = ()
    device: tuple[int, int] = (0, 0)  # CHAR/BLOCK: (major, minor)
    inode: tuple[int, int] | None = field(default=None, compare=False)  # (st_dev, st_ino)
    # FILE read from disk: (st_ino, st_mtime_ns, st_ctime_ns), so a layer cache can tell the
    # file unchanged without reading it (ctime moves on any change and cannot be set back).
    stamp: tuple[int, int, int] | None = field(default=None, compare=False)


def sort_key(path: str) -> tuple[bytes, ...]:
    """Layer order: by path components as bytes, so a parent precedes its children."""
    return tuple(os.fsencode(part) for part in path.split("/"))


def sort_entries(entries: list[Entry]) -> list[Entry]:
    return sorted(entries, key=lambda e: sort_key(e.path))
