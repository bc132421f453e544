"""craft-parts' ``migratable_filesets`` with strings instead of ``pathlib`` objects.

Replaces ``craft_parts.executor.filesets.migratable_filesets`` (craft-parts 2.37). Stage,
prime and the stage collision check each call it for every part, and upstream builds a
``PurePath`` for every file of the tree, ``stat``s each one twice to tell directories
from files, and resolves every path with ``os.path.relpath`` and a fresh ``Path``: for
100,000 files, 29 of 74 profiled seconds of a pack from clean. This version does the
same steps on normalized relative strings: the walk itself tells real directories from
files and symlinks (``DirEntry`` type, no extra ``stat``), each parent directory is
resolved once (as upstream's cache does), and only the results become ``Path``s.

The include and exclude patterns go through upstream's own code (``Path.glob``, its
hidden-file rule), so fileset semantics cannot drift; anything unusual in a path (``..``,
a parent that resolves outside the tree) is handed to upstream's resolver. The results
are the same sets, as ``tests/unit/build/test_patch_filesets.py`` checks on awkward
trees. Suitable for upstream as is.
"""

# Paths as strings and os.path on purpose: pathlib objects are the cost this removes.
# ruff: noqa: PTH100, PTH118, PTH120, PTH206

from __future__ import annotations

import errno
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path, PurePath

from craft_parts.executor import filesets

# Upstream's function, as imported before any patch (for the tests, and for comparison).
upstream_migratable_filesets = filesets.migratable_filesets

# Errors ``Path.is_dir()`` and ``Path.is_symlink()`` treat as "no".
_IGNORED_ERRNOS = {errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP}


def migratable_filesets(
    fileset: filesets.Fileset,
    srcdir: Path,
    default_partition: str,
    partition: str | None = None,
) -> tuple[set[Path], set[Path]]:
    """The files and directories to migrate from ``srcdir``: upstream's result."""
    includes, excludes = filesets._get_file_list(fileset, partition, default_partition)
    # Upstream clears these per scan; other callers of them rely on that.
    filesets._get_resolved_parent.cache_clear()
    filesets._get_resolved_base.cache_clear()

    include_files, real_dirs, unknown = _include_set(srcdir, includes)
    exclude_files, exclude_dirs = filesets._generate_exclude_set(srcdir, excludes)

    files = include_files - {str(path) for path in exclude_files}
    for exclude_dir in {str(path) for path in exclude_dirs}:
        files = {name for name in files if not _relative_to(name, exclude_dir)}

    base = str(srcdir)
    dirs = {
        name
        for name in files
        if name in real_dirs or (name in unknown and _is_real_dir(f"{base}/{name}"))
    }
    files -= dirs

    resolve = _Resolver(srcdir)
    resolved_files = {resolve(name) for name in files}
    # Each selected file's parent directories (resolved), as upstream adds them.
    ancestors: set[str] = set()
    for name in resolved_files:
        parent = os.path.dirname(name)
        while parent not in ("", ".") and parent not in ancestors:
            ancestors.add(parent)
            parent = os.path.dirname(parent)
    dirs |= ancestors
    resolved_dirs = {resolve(name) for name in dirs}
    return {_path(name) for name in resolved_files}, {_path(name) for name in resolved_dirs}


def _include_set(directory: Path, includes: list[str]) -> tuple[set[str], set[str], set[str]]:
    """Upstream's ``_generate_include_set`` as strings, with what its walk learnt.

    Returns the relative paths to include, those known to be real directories (not
    symlinks), and those the walk did not see (their type is looked up later).
    """
    include_files: set[Path] = set()
    for include in includes:  # upstream's own pattern handling, verbatim
        if "*" in include:
            matches = directory.glob(include)
            include_files |= set(matches)
            if not include.startswith("."):
                hidden = directory.glob(f".{include}")
                for hidden_file in hidden:
                    include_files -= {hidden_file, *hidden_file.glob(include)}
        else:
            include_files |= {directory / include}

    include_dirs = [x for x in include_files if x.is_dir() and not x.is_symlink()]
    base_str = str(directory)
    base_str = base_str if base_str.endswith(os.sep) else base_str + os.sep
    relative = {str(PurePath(filesets._strip_base(base_str, str(x)))) for x in include_files}
    unknown = set(relative)
    real_dirs: set[str] = set()
    for include_dir in include_dirs:
        top = str(include_dir)
        real_dirs.add(str(PurePath(filesets._strip_base(base_str, top))))
        prefix = filesets._strip_base(base_str, top + os.sep)
        _walk(top, prefix, relative, real_dirs)
    unknown -= real_dirs
    return relative, real_dirs, unknown


def _walk(top: str, prefix: str, found: set[str], real_dirs: set[str]) -> None:
    """Every entry under ``top`` as ``prefix + relative path``, like ``os.walk``.

    ``os.walk`` (topdown, no ``followlinks``, errors ignored) lists symlinks to
    directories without entering them; so does this walk. ``prefix`` is ``top``
    relative to the source dir, with a trailing separator (or empty).
    """
    stack = [(top, prefix)]
    while stack:
        path, rel = stack.pop()
        try:
            with os.scandir(path) as entries:
                for entry in entries:
                    name = rel + entry.name
                    found.add(name)
                    try:
                        is_real_dir = entry.is_dir(follow_symlinks=False)
                    except OSError:
                        is_real_dir = False
                    if is_real_dir:
                        real_dirs.add(name)
                        stack.append((entry.path, name + os.sep))
        except OSError:
            continue


def _relative_to(name: str, directory: str) -> bool:
    """``PurePath(name).is_relative_to(directory)`` for normalized relative paths."""
    return directory == "." or name == directory or name.startswith(directory + os.sep)


def _is_real_dir(path: str) -> bool:
    """``Path(path).is_dir() and not Path(path).is_symlink()``, with one ``lstat``."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError as err:
        if err.errno in _IGNORED_ERRNOS:
            return False
        raise


def _parsed_path(name: str) -> Path:
    """``Path(name)`` for a normalized relative path, without parsing it again.

    CPython 3.11's pathlib builds a path from its parts list this way; ``Path()``
    spends four times as long re-parsing a string that is already normal.
    """
    if name == ".":  # the one normal path whose parts are not its components
        return Path(name)
    return _FROM_PARTS("", "", name.split(os.sep))  # type: ignore[misc]


def _fast_path_maker() -> Callable[..., Path] | None:
    """pathlib's private constructor from parts, if it is the one ``_parsed_path`` knows."""
    concrete = type(Path())  # PosixPath: the class Path() makes here
    maker = getattr(concrete, "_from_parsed_parts", None)
    if sys.version_info[:2] != (3, 11) or maker is None:
        return None
    try:
        sample = maker("", "", ["a b", "c"])
        same = (
            type(sample) is concrete
            and sample == Path("a b/c")
            and str(sample) == "a b/c"
            and sample.parts == ("a b", "c")
            and hash(sample) == hash(Path("a b/c"))
        )
    except Exception:  # any surprise means: not the pathlib this knows
        return None
    return maker if same else None


_FROM_PARTS = _fast_path_maker()
# Results are Paths (upstream's type); the plain constructor wherever the fast one is not
# known to be right.
_path = _parsed_path if _FROM_PARTS is not None else Path


class _Resolver:
    """Upstream's ``_get_resolved_relative_path`` for one base directory, on strings.

    A path's parent is resolved (symlinks followed) once per parent; the name itself is
    not. Anything that is not a plain name under a parent inside the tree goes to
    upstream's function, which resolves it or raises its own error.
    """

    def __init__(self, base: Path) -> None:
        self._base = base
        base_key = os.path.abspath(str(base))
        self._base_key = base_key
        self._real_base = os.path.realpath(base_key)
        self._prefixes: dict[str, str | None] = {}

    def __call__(self, relative: str) -> str:
        parent, name = os.path.split(relative)
        if name in ("", ".", ".."):
            return self._upstream(relative)
        if parent in ("", "."):
            return name
        try:
            prefix = self._prefixes[parent]
        except KeyError:
            prefix = self._prefixes[parent] = self._prefix(parent)
        if prefix is None:
            return self._upstream(relative)
        return prefix + name

    def _prefix(self, parent: str) -> str | None:
        """The resolved parent, relative to the resolved base, with a separator."""
        real_parent = os.path.realpath(os.path.join(self._base_key, parent))
        real_base = self._real_base
        if real_base == os.sep:
            return None
        if real_parent == real_base:
            return ""
        if real_parent.startswith(real_base + os.sep):
            return real_parent[len(real_base) + 1 :] + os.sep
        return None

    def _upstream(self, relative: str) -> str:
        return str(filesets._get_resolved_relative_path(PurePath(relative), self._base))
