"""Turn a prime directory into layer entries.

Decides, for each primed path: its kind, mode (with restored setuid/setgid bits),
numeric owner, clamped mtime and xattrs; and, for paths that share an inode, which
one is stored as the file and which become hardlinks to it.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from craft_cli import emit

from rockpack.errors import LayerError
from rockpack.oci.entries import Entry, Kind, sort_entries

# Host-specific labels, and the bookkeeping of overlayfs and fuse-overlayfs in the
# overlay step's upper directory: none of them belong in an image.
EXCLUDED_XATTRS = frozenset({"security.selinux"})
EXCLUDED_XATTR_PREFIXES = ("trusted.overlay.", "user.overlay.", "user.fuseoverlayfs.")


@dataclass(frozen=True)
class MetadataOverride:
    """Mode and owner a path should have in the layer, whatever the file on disk says."""

    mode: int
    uid: int
    gid: int
    expected_mode: int  # apply only if the file's mode is still this one
    size: int  # apply only if the file's size is this one


@dataclass(frozen=True)
class ScanOptions:
    """How metadata on disk maps to metadata in the layer."""

    epoch: int | None = None  # SOURCE_DATE_EPOCH: clamp mtimes to it
    owner_map: Mapping[tuple[int, int], tuple[int, int]] | None = None  # (uid, gid) rewrites
    overrides: Mapping[str, MetadataOverride] | None = None


def default_owner_map() -> dict[tuple[int, int], tuple[int, int]]:
    """Files a non-root user builds are theirs only because they could not be root's."""
    uid, gid = os.geteuid(), os.getegid()
    return {} if uid == 0 else {(uid, gid): (0, 0)}


def scan_tree(root: Path, options: ScanOptions | None = None) -> list[Entry]:
    """Every path below ``root`` (not ``root`` itself) as sorted layer entries."""
    options = options or ScanOptions()
    entries: list[Entry] = []
    top = os.path.normpath(root)
    # Plain strings, not Path objects: this loop runs once per file of the rock.
    for dirpath, dirnames, filenames in os.walk(top, onerror=_walk_error):
        dirnames.sort()
        prefix = dirpath[len(top) + 1 :] + "/" if dirpath != top else ""
        for name in sorted(dirnames) + sorted(filenames):
            full = os.path.join(dirpath, name)  # noqa: PTH118
            entry = _entry_for(full, prefix + name, options)
            if entry is not None:
                entries.append(entry)
    return elect_hardlink_leaders(sort_entries(entries))


def elect_hardlink_leaders(entries: list[Entry]) -> list[Entry]:
    """Store each inode's data once: its first path is the file, later paths link to it.

    ``entries`` must be sorted; so the leader is always earlier in the same layer, which
    is what readers require. Works on any subset (after pruning) as well.
    """
    leaders: dict[tuple[int, int], str] = {}
    result: list[Entry] = []
    for entry in entries:
        if entry.kind not in (Kind.FILE, Kind.HARDLINK) or entry.inode is None:
            result.append(entry)
            continue
        leader = leaders.get(entry.inode)
        if leader is None:
            leaders[entry.inode] = entry.path
            result.append(_as_kind(entry, Kind.FILE, ""))
        else:
            result.append(_as_kind(entry, Kind.HARDLINK, leader))
    return result


def _as_kind(entry: Entry, kind: Kind, target: str) -> Entry:
    if entry.kind == kind and entry.link_target == target:
        return entry
    return Entry(
        path=entry.path,
        kind=kind,
        mode=entry.mode,
        uid=entry.uid,
        gid=entry.gid,
        mtime=entry.mtime,
        size=entry.size,  # the inode's size: a link may become the leader later
        link_target=target,
        source=entry.source,
        xattrs=entry.xattrs,
        inode=entry.inode,
        stamp=entry.stamp,
    )


def _entry_for(full: str, rel: str, options: ScanOptions) -> Entry | None:
    st = os.lstat(full)
    kind = _kind_of(st.st_mode)
    if kind is None:
        emit.progress(f"Skipping {rel}: a socket cannot be stored in a layer", permanent=True)
        return None
    mode = stat.S_IMODE(st.st_mode)
    uid, gid = st.st_uid, st.st_gid
    if options.owner_map:
        uid, gid = options.owner_map.get((uid, gid), (uid, gid))
    override = (options.overrides or {}).get(rel)
    if (
        override
        and kind == Kind.FILE
        and mode == override.expected_mode
        and st.st_size == override.size
    ):
        mode, uid, gid = override.mode, override.uid, override.gid
    mtime = int(st.st_mtime)
    if options.epoch is not None:
        mtime = min(mtime, options.epoch)
    return Entry(
        path=rel,
        kind=kind,
        mode=mode,
        uid=uid,
        gid=gid,
        mtime=max(mtime, 0),
        size=st.st_size if kind == Kind.FILE else 0,
        link_target=os.readlink(full) if kind == Kind.SYMLINK else "",
        source=full if kind == Kind.FILE else None,
        xattrs=read_xattrs(full),
        device=(os.major(st.st_rdev), os.minor(st.st_rdev))
        if kind in (Kind.CHAR, Kind.BLOCK)
        else (0, 0),
        inode=(st.st_dev, st.st_ino) if kind == Kind.FILE and st.st_nlink > 1 else None,
        stamp=(st.st_ino, st.st_mtime_ns, st.st_ctime_ns) if kind == Kind.FILE else None,
    )


def _kind_of(st_mode: int) -> Kind | None:
    checks = (
        (stat.S_ISREG, Kind.FILE),
        (stat.S_ISDIR, Kind.DIR),
        (stat.S_ISLNK, Kind.SYMLINK),
        (stat.S_ISFIFO, Kind.FIFO),
        (stat.S_ISCHR, Kind.CHAR),
        (stat.S_ISBLK, Kind.BLOCK),
    )
    for test, kind in checks:
        if test(st_mode):
            return kind
    return None


def read_xattrs(path: str | Path) -> tuple[tuple[str, bytes], ...]:
    """Extended attributes of ``path`` itself (never of a symlink's target), sorted."""
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as err:
        if err.errno in (errno.ENOTSUP, errno.EPERM):
            return ()
        raise
    values = []
    for name in sorted(names):
        if name in EXCLUDED_XATTRS or name.startswith(EXCLUDED_XATTR_PREFIXES):
            continue
        try:
            values.append((name, os.getxattr(path, name, follow_symlinks=False)))
        except OSError as err:
            if err.errno not in (errno.ENODATA, errno.ENOTSUP, errno.EPERM):
                raise
    return tuple(values)


def _walk_error(err: OSError) -> None:
    raise LayerError(
        f"Cannot read {err.filename}: {err.strerror}.",
        resolution="Check the permissions of the prime directory.",
    )
