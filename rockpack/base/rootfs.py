"""Extract a base image into a directory, for craft-parts' overlay step.

Only the overlay step needs a real tree; packing works from the base's index. The
extraction never writes outside its target: names are checked by the layer reader,
no path is written through a symlink, hardlinks must name a file already extracted,
and device nodes are refused unless running as root.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from rockpack.base.index import OPAQUE, WHITEOUT_PREFIX
from rockpack.base.resolve import BaseImage
from rockpack.errors import LayerError
from rockpack.oci.blobs import BlobStore
from rockpack.oci.entries import Kind
from rockpack.oci.layer_reader import Member, iter_layer

_COMPLETE = ".rockpack-complete"
# Mount points the overlay step's chroot binds (apt, for one, needs /dev/null). Images
# usually ship them empty; a base built without them gets them here. They live in the
# lower layer, so they never reach the rock's own layer.
MOUNT_POINTS = ("dev", "proc", "sys", "run", "tmp")


def extracted_base(base: BaseImage, store: BlobStore, cache_dir: Path) -> Path:
    """The base's root filesystem, extracted once per manifest digest and reused."""
    target = cache_dir / base.manifest_digest.partition(":")[2]
    if (target.parent / (target.name + _COMPLETE)).exists():
        return target
    partial = target.with_name(target.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    for number, layer in enumerate(base.layers, start=1):
        extract_layer(store.path(layer.digest), partial, f"{number} of {base.reference}")
    for name in MOUNT_POINTS:
        mount_point = partial / name
        if not mount_point.exists() and not mount_point.is_symlink():
            mount_point.mkdir(mode=0o1777 if name == "tmp" else 0o755)
    if target.exists():
        shutil.rmtree(target)
    partial.rename(target)
    (target.parent / (target.name + _COMPLETE)).touch()
    return target


def extract_layer(layer: Path, root: Path, label: str) -> None:
    """Apply one layer onto ``root`` (layers must be applied oldest first)."""
    privileged = os.geteuid() == 0
    added: set[str] = set()
    directory_modes: list[tuple[Path, Member]] = []
    for member, content in iter_layer(layer, label):
        parent, _, name = member.path.rpartition("/")
        parent_dir = _safe_parent(root, parent, member.path, label)
        if name == OPAQUE:
            _clear(parent_dir, keep={p for p in added if p.startswith(parent + "/")}, root=root)
            continue
        if name.startswith(WHITEOUT_PREFIX):
            _remove(parent_dir / name[len(WHITEOUT_PREFIX) :])
            continue
        target = parent_dir / name
        if member.kind != Kind.DIR or not (target.is_dir() and not target.is_symlink()):
            _remove(target)
        if member.kind == Kind.DIR:
            target.mkdir(exist_ok=True)
            directory_modes.append((target, member))
        elif member.kind == Kind.FILE:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            fd = os.open(target, flags, 0o600)
            with os.fdopen(fd, "wb") as out:
                while content is not None and (chunk := content.read(1 << 20)):
                    out.write(chunk)
        elif member.kind == Kind.SYMLINK:
            target.symlink_to(member.link)
        elif member.kind == Kind.HARDLINK:
            source = _safe_parent(root, member.link.rpartition("/")[0], member.link, label)
            source = source / member.link.rpartition("/")[2]
            if not source.is_file() or source.is_symlink():
                raise LayerError(
                    f"Layer {label}: hardlink {member.path!r} names {member.link!r}, which is "
                    "not a file extracted before it.",
                    resolution="Do not use this image; its layers are malformed.",
                )
            os.link(source, target, follow_symlinks=False)
            added.add(member.path)
            continue
        else:
            _make_special(target, member, privileged, label)
        if member.kind != Kind.DIR:
            _apply_metadata(target, member, privileged)
        added.add(member.path)
    for directory, member in reversed(directory_modes):  # children first, then the parent
        _apply_metadata(directory, member, privileged)


def _safe_parent(root: Path, parent: str, path: str, label: str) -> Path:
    """``root/parent``, refusing any component that is a symlink or not a directory."""
    current = root
    for part in parent.split("/") if parent else []:
        current = current / part
        try:
            st = current.lstat()
        except FileNotFoundError:
            current.mkdir(mode=0o755)
            continue
        if stat.S_ISLNK(st.st_mode):
            raise LayerError(
                f"Layer {label} writes {path!r} through the symlink "
                f"{str(current.relative_to(root))!r}.",
                details="Writing through a symlink could put files outside the target directory.",
                resolution="Do not use this image; build the base from a trusted source.",
            )
        if not stat.S_ISDIR(st.st_mode):
            raise LayerError(f"Layer {label} puts {path!r} under a file, not a directory.")
    return current


def _remove(path: Path) -> None:
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def _clear(directory: Path, *, keep: set[str], root: Path) -> None:
    for child in list(directory.iterdir()) if directory.is_dir() else []:
        if str(child.relative_to(root)) not in keep:
            _remove(child)


def _make_special(target: Path, member: Member, privileged: bool, label: str) -> None:
    if member.kind == Kind.FIFO:
        os.mkfifo(target, 0o600)
        return
    if not privileged:
        raise LayerError(
            f"Layer {label} has the device node {member.path!r}, which only root may create.",
            resolution="Run as root, or use a base image without device nodes.",
        )
    kind = stat.S_IFCHR if member.kind == Kind.CHAR else stat.S_IFBLK
    os.mknod(target, kind | 0o600, os.makedev(*member.device))


def _apply_metadata(target: Path, member: Member, privileged: bool) -> None:
    if member.kind == Kind.SYMLINK:
        if privileged:
            os.chown(target, member.uid, member.gid, follow_symlinks=False)
        return
    if privileged:
        os.chown(target, member.uid, member.gid, follow_symlinks=False)
    target.chmod(member.mode)  # after chown, which clears setuid bits
    for name, value in member.xattrs:
        try:
            os.setxattr(target, name, value, follow_symlinks=False)
        except OSError:
            continue  # e.g. trusted.* without privileges: the tree is for building only
    os.utime(target, (member.mtime, member.mtime), follow_symlinks=False)
