"""Hard links without the ``stat``s and ``Path`` objects around each one.

Replaces two craft-parts 2.37 functions, for the case that is nearly every file: a
regular file hard-linked to a name that does not exist yet.

- ``craft_parts.executor.migration.migrate_files`` (stage and prime). Upstream checks
  each file with ``exists``, ``is_symlink``, ``exists`` again, then ``link_or_copy``
  checks ``exists`` twice and ``is_symlink`` and the parent's ``exists`` before the
  ``os.link``: nine system calls and a dozen ``Path`` objects a file, 300,000 times for
  a 100,000-file part from clean.
- ``craft_parts.utils.file_utils.link_or_copy_tree`` (the pull of a local source, the
  unpacking of stage packages, ``organize``): three ``Path`` objects a file and the same
  ``link_or_copy``.

Here a file gets one ``lstat`` and one ``os.link``. When the source is anything but a
regular file, or the link fails for any reason (the name exists, a parent is missing,
another file system), upstream's own code runs for that file from the start: a failed
``link`` changes nothing, so its outcome, errors included, is upstream's. Directories,
symlinks, whiteouts, ``permissions`` and ``follow_symlinks`` always take upstream's
path. Suitable for upstream as is.
"""

# Paths as strings and os.path on purpose: pathlib objects are the cost this removes.
# ruff: noqa: PTH118, PTH119

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from craft_parts import errors, overlays
from craft_parts.executor import migration
from craft_parts.permissions import Permissions, filter_permissions
from craft_parts.utils import file_utils

# Upstream's functions, as imported before any patch.
upstream_migrate_files = migration.migrate_files
upstream_link_or_copy_tree = file_utils.link_or_copy_tree
_upstream_link_or_copy = file_utils.link_or_copy

# Stage's fixup rewrites pkg-config files and returns at once for any other name
# (after an is_symlink() that changes nothing): it need not be called for those.
_PKGCONFIG_FIXUP = "StepHandler._builtin_stage.<locals>.pkgconfig_fixup"


def _no_fixup(*_args: object) -> None:
    return None


def migrate_files(
    *,
    files: set[Path],
    dirs: set[Path],
    srcdir: Path,
    destdir: Path,
    missing_ok: bool = False,
    follow_symlinks: bool = False,
    oci_translation: bool = False,
    fixup_func: Callable[..., None] = _no_fixup,
    permissions: list[Permissions] | None = None,
) -> tuple[set[Path], set[Path]]:
    """Upstream's ``migrate_files``, with a fast path for a new hard link."""
    migrated_files: set[Path] = set()
    migrated_dirs: set[Path] = set()
    permissions = permissions or []

    # Directories: upstream's loop, verbatim (few, and each needs its metadata copied).
    for dirname in sorted(dirs):
        src = srcdir / dirname
        dst = destdir / dirname
        if not src.exists() and overlays.oci_whiteout(src).exists():
            src = overlays.oci_whiteout(src)
            dst = overlays.oci_whiteout(dst)
        file_utils.create_similar_directory(src, dst, filter_permissions(dirname, permissions))
        migrated_dirs.add(dirname)
        if oci_translation and migration._is_opaque_dir(src):
            oci_opaque_marker = overlays.oci_opaque_dir(dirname)
            oci_dst = destdir / oci_opaque_marker
            migration.logger.debug("create OCI opaque dir marker '%s'", oci_dst)
            oci_dst.touch()
            migrated_files.add(oci_opaque_marker)

    fast = not follow_symlinks
    fixup_every_file = fixup_func is not _no_fixup and not _is_pkgconfig_fixup(fixup_func)
    src_base, dst_base = str(srcdir), str(destdir)
    # Upstream's order (Path order is the order of the parts lists).
    for filename in sorted(files, key=_path_order):
        name = str(filename)
        if (
            fast
            and name != "."
            and not (permissions and filter_permissions(filename, permissions))
            and not (oci_translation and os.path.basename(name).startswith(".wh."))
            and _link_regular_file(f"{src_base}/{name}", f"{dst_base}/{name}")
        ):
            if fixup_every_file or name.endswith(".pc"):
                fixup_func(destdir / filename)
            migrated_files.add(filename)
            continue
        _migrate_file(
            filename,
            srcdir,
            destdir,
            migrated_files,
            missing_ok=missing_ok,
            follow_symlinks=follow_symlinks,
            oci_translation=oci_translation,
            fixup_func=fixup_func,
            permissions=permissions,
        )
    return migrated_files, migrated_dirs


def _migrate_file(  # upstream's loop body, verbatim
    filename: Path,
    srcdir: Path,
    destdir: Path,
    migrated_files: set[Path],
    *,
    missing_ok: bool,
    follow_symlinks: bool,
    oci_translation: bool,
    fixup_func: Callable[..., None],
    permissions: list[Permissions],
) -> None:
    src = srcdir / filename
    dst = destdir / filename
    if not src.exists():
        if overlays.oci_whiteout(src).exists():
            src = overlays.oci_whiteout(src)
            dst = overlays.oci_whiteout(dst)
        elif missing_ok:
            return
    if dst.is_symlink():
        return
    if dst.exists():
        dst.unlink()
    if oci_translation and migration._is_whiteout_file(src):
        oci_whiteout = overlays.oci_whiteout(filename)
        oci_dst = destdir / oci_whiteout
        migration.logger.debug("create OCI whiteout file '%s'", oci_dst)
        oci_dst.touch()
        migrated_files.add(oci_whiteout)
    else:
        file_utils.link_or_copy(
            src,
            dst,
            follow_symlinks=follow_symlinks,
            permissions=filter_permissions(filename, permissions),
        )
        fixup_func(dst)
        migrated_files.add(filename)


def link_or_copy_tree(
    source_tree: Path,
    destination_tree: Path,
    ignore: Callable[[str, list[str]], list[str]] | None = None,
    copy_function: Callable[..., None] = _upstream_link_or_copy,
    *,
    overwrite_metadata: bool = True,
) -> None:
    """Upstream's ``link_or_copy_tree``, with a fast path for a new hard link."""
    if copy_function is not _upstream_link_or_copy:  # someone else's copy: upstream's code
        upstream_link_or_copy_tree(
            source_tree,
            destination_tree,
            ignore,
            copy_function,
            overwrite_metadata=overwrite_metadata,
        )
        return
    if not source_tree.is_dir():
        raise errors.CopyTreeError(f"{source_tree.as_posix()!r} is not a directory")
    if not destination_tree.is_dir() and (
        destination_tree.exists() or destination_tree.is_symlink()
    ):
        raise errors.CopyTreeError(
            f"cannot overwrite non-directory {destination_tree.as_posix()!r} with "
            f"directory {source_tree.as_posix()!r}"
        )
    file_utils.create_similar_directory(
        source_tree, destination_tree, overwrite_metadata=overwrite_metadata
    )
    destination_basename = destination_tree.name
    for root, directories, files in os.walk(source_tree, topdown=True):
        ignored: set[str] = set()
        if ignore is not None:
            ignored = set(ignore(root, directories + files))
        if os.path.relpath(destination_tree, root) == destination_basename:
            ignored.add(destination_basename)
        if ignored:
            directories[:] = [d for d in directories if d not in ignored]
        for directory in directories:
            source = Path(root, directory)
            if source.is_symlink():  # a symlink to a directory is copied as a file
                files.append(directory)
                continue
            destination = Path(destination_tree, source.relative_to(source_tree))
            file_utils.create_similar_directory(
                source, destination, overwrite_metadata=overwrite_metadata
            )
        destination_root = str(Path(destination_tree, Path(root).relative_to(source_tree)))
        for file_name in set(files) - ignored:
            if not _link_regular_file(
                os.path.join(root, file_name), os.path.join(destination_root, file_name)
            ):
                source = Path(root, file_name)
                copy_function(source, Path(destination_tree, source.relative_to(source_tree)))


def _link_regular_file(source: str, destination: str) -> bool:
    """Hard-link a regular file to a new name; False (having done nothing) otherwise.

    Where upstream's ``link_or_copy`` would hard-link too: it copies symlinks (and other
    non-regular files take its other checks), and a link that fails is its business.
    """
    try:
        if not stat.S_ISREG(os.lstat(source).st_mode):
            return False
        os.link(source, destination, follow_symlinks=False)
    except OSError:
        return False
    return True


def _path_order(path: Path) -> list[str]:
    """The key ``Path`` sorts by (its parts), for a normalized relative path."""
    text = str(path)
    return [] if text == "." else text.split("/")


def _is_pkgconfig_fixup(func: Callable[..., None]) -> bool:
    return getattr(func, "__qualname__", "") == _PKGCONFIG_FIXUP
