"""Extract a base image into a directory, for craft-parts' overlay step.

Only the overlay step needs a real tree; packing works from the base's index. The
extraction never writes outside its target: names are checked by the layer reader,
no path is written through a symlink, hardlinks must name a file already extracted,
and device nodes are refused unless running as root.

Runs sharing the cache take turns: a base is extracted under a lock per manifest
digest, into a temporary directory renamed into place, then marked complete; a run
that waited finds it done, and what a killed run left is removed by the next.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rockpack.base.index import OPAQUE, WHITEOUT_PREFIX
from rockpack.base.resolve import BaseImage
from rockpack.errors import LayerError
from rockpack.oci.blobs import BlobStore, Descriptor
from rockpack.oci.disk import DiskWriteError
from rockpack.oci.entries import Kind
from rockpack.oci.layer_reader import Member, iter_layer

_COMPLETE = ".rockpack-complete"
# Mount points the overlay step's chroot binds (apt, for one, needs /dev/null). Images
# usually ship them empty; a base built without them gets them here. They live in the
# lower layer, so they never reach the rock's own layer.
MOUNT_POINTS = ("dev", "proc", "sys", "run", "tmp")


def extracted_base(base: BaseImage, store: BlobStore, cache_dir: Path) -> Path:
    """The base's root filesystem, extracted once per manifest digest and reused."""
    name = base.manifest_digest.partition(":")[2]
    target = cache_dir / name
    complete = cache_dir / (name + _COMPLETE)
    if complete.exists():
        return target
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with _locked(cache_dir / f".{name}.lock"):
            if complete.exists():
                return target  # another run extracted it while we waited
            _remove_leftovers(cache_dir, name)
            partial = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".partial", dir=cache_dir))
            try:
                partial.chmod(0o755)  # the image's root, which every user must traverse
                _extract_all(base, store, partial)
                _remove(target)  # a killed run's, renamed but never marked complete
                partial.rename(target)
                complete.touch()
            finally:
                if partial.exists():
                    shutil.rmtree(partial, ignore_errors=True)
    except OSError as err:
        raise DiskWriteError(cache_dir, err) from err
    return target


def _extract_all(base: BaseImage, store: BlobStore, root: Path) -> None:
    for number, layer in enumerate(base.layers, start=1):
        extract_layer(store.path(layer.digest), root, f"{number} of {base.reference}", layer)
    for name in MOUNT_POINTS:
        mount_point = root / name
        if not mount_point.exists() and not mount_point.is_symlink():
            mount_point.mkdir(mode=0o1777 if name == "tmp" else 0o755)


@contextmanager
def _locked(lock_file: Path, *, wait: bool = True) -> Iterator[bool]:
    """Hold ``lock_file``'s lock (yield False at once if not ``wait`` and it is held)."""
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def _remove_leftovers(cache_dir: Path, name: str) -> None:
    """Partial trees of killed runs: this base's (its lock is ours), and any other base's
    whose lock no run holds."""
    for entry in cache_dir.iterdir():
        if not entry.name.endswith(".partial") or entry.is_symlink():
            continue
        digest = entry.name.lstrip(".").split(".")[0]
        if digest == name:
            shutil.rmtree(entry, ignore_errors=True)
            continue
        with _locked(cache_dir / f".{digest}.lock", wait=False) as free:
            if free:
                shutil.rmtree(entry, ignore_errors=True)


def extract_layer(layer: Path, root: Path, label: str, blob: Descriptor | None = None) -> None:
    """Apply one layer onto ``root`` (layers must be applied oldest first); with ``blob``,
    its media type is checked and its bytes verified as they are read."""
    privileged = os.geteuid() == 0
    added: set[str] = set()
    directory_modes: list[tuple[Path, Member]] = []
    for member, content in iter_layer(layer, label, blob):
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
