"""Hard links with one lstat: upstream's trees, sets and errors, case by case."""

# Bytes paths (names that are not UTF-8): os functions on purpose.
# ruff: noqa: PTH118

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from craft_parts.permissions import Permissions
from craft_parts.utils import file_utils

from rockpack.build import patch_filesets, patch_migration
from tests.unit.build.awkward_tree import (
    NON_UTF8,
    assert_same_snapshots,
    make_awkward_tree,
    snapshot,
)

FILESETS = patch_filesets.upstream_migratable_filesets


def _shared_inodes(tree: Path, source: Path) -> set[bytes]:
    """Entries of ``tree`` that are hard links of the same entry of ``source``."""
    shared = set()
    top = os.fsencode(tree)
    for dirpath, dirnames, filenames in os.walk(top):
        for name in [*dirnames, *filenames]:
            full = os.path.join(dirpath, name)
            relative = os.path.relpath(full, top)
            try:
                if (
                    os.lstat(full).st_ino
                    == os.lstat(os.path.join(os.fsencode(source), relative)).st_ino
                ):
                    shared.add(relative)
            except OSError:  # not in the source
                continue
    return shared


def _run(function: Callable[..., object], **kwargs: object) -> object:
    try:
        return function(**kwargs)
    except Exception as err:
        return ("raised", type(err), str(err).replace(str(kwargs.get("destdir")), "<dest>"))


def _compare_migrations(tmp_path: Path, source: Path, prepare=None, **kwargs) -> None:
    """Upstream and the patch, each into its own copy of the destination."""
    results = []
    for label, function in (
        ("upstream", patch_migration.upstream_migrate_files),
        ("patched", patch_migration.migrate_files),
    ):
        destdir = tmp_path / label
        destdir.mkdir(parents=True)
        if prepare:
            prepare(destdir)
            _fix_mtimes(destdir)
        calls: list[str] = []
        result = _run(function, srcdir=source, destdir=destdir, fixup_func=calls.append, **kwargs)
        calls = [str(Path(path).relative_to(destdir)) for path in calls]
        tree = {
            # upstream touch()es OCI whiteouts and markers: their mtime is the clock's
            name: (*facts[:6], None, facts[7]) if b".wh." in name else facts
            for name, facts in snapshot(destdir).items()
        }
        results.append((result, sorted(calls), tree, _shared_inodes(destdir, source)))
    assert_same_snapshots(results[0][2], results[1][2])
    assert results[0] == results[1]


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return make_awkward_tree(tmp_path / "install")


@pytest.mark.parametrize(
    "fileset", [["*"], ["usr/*", "-usr/share/*"], ["lib/*", "bin/tool", "dangling"]]
)
def test_a_new_destination(tmp_path, source, fileset):
    files, dirs = FILESETS(_fileset(fileset), source, "default")
    _compare_migrations(tmp_path, source, files=files, dirs=dirs)


def test_a_destination_other_parts_and_earlier_runs_filled(tmp_path, source):
    files, dirs = FILESETS(_fileset(["*"]), source, "default")

    def prepare(destdir: Path) -> None:
        (destdir / "usr/lib").mkdir(parents=True)
        os.link(source / "usr/lib/libx.so.1", destdir / "usr/lib/libx.so.1")  # staged before
        (destdir / "plain.txt").write_text("another part's plain.txt\n")
        (destdir / "etc").mkdir()
        (destdir / "etc/x.conf").symlink_to("elsewhere")  # a symlink where a file goes
        (destdir / "a b").mkdir()
        os.symlink("/tmp", destdir / "a b/with spaces.txt")
        (destdir / "-leading-dash").symlink_to("-leading-dash")  # points at itself

    _compare_migrations(tmp_path, source, files=files, dirs=dirs, prepare=prepare)


def test_a_directory_where_a_file_goes_fails_the_same_way(tmp_path, source):
    files, dirs = FILESETS(_fileset(["*"]), source, "default")
    _compare_migrations(
        tmp_path,
        source,
        files=files,
        dirs=dirs,
        prepare=lambda destdir: (destdir / "plain.txt/inside").mkdir(parents=True),
    )


def test_a_symlink_where_a_directory_goes_fails_the_same_way(tmp_path, source):
    files, dirs = FILESETS(_fileset(["*"]), source, "default")

    def prepare(destdir: Path) -> None:
        (destdir / "usr").mkdir()
        (destdir / "usr/bin").symlink_to("/somewhere")

    _compare_migrations(tmp_path, source, files=files, dirs=dirs, prepare=prepare)


def _fix_mtimes(tree: Path) -> None:
    """What a test made before the run gets one mtime, whichever run it was made for."""
    for path in [tree, *tree.rglob("*")]:
        os.utime(path, (1_500_000_000, 1_500_000_000), follow_symlinks=False)


def test_missing_sources(tmp_path, source):
    files = {Path("plain.txt"), Path("gone"), Path("usr/gone"), Path("usr/lib/libx.so.1")}
    for missing_ok in (True, False):
        _compare_migrations(
            tmp_path / str(missing_ok),
            source,
            files=files,
            dirs={Path("usr")},
            missing_ok=missing_ok,
        )


def test_permissions_copy_the_files_they_change(tmp_path, source):
    files, dirs = FILESETS(_fileset(["*"]), source, "default")
    permissions = [
        Permissions(path="usr/bin/*", mode="700"),
        Permissions(path="etc/x.conf", owner=1234, group=5678),
        Permissions(path="a b/*", mode="0444"),
    ]
    _compare_migrations(tmp_path, source, files=files, dirs=dirs, permissions=permissions)


def test_follow_symlinks(tmp_path, source):
    files = {Path("usr/lib/libx.so"), Path("plain.txt"), Path("hardlink-to-plain")}
    _compare_migrations(
        tmp_path, source, files=files, dirs={Path("usr"), Path("usr/lib")}, follow_symlinks=True
    )


def test_oci_whiteouts_and_opaque_directories(tmp_path, source):
    (source / ".wh.removed").write_text("")
    (source / "usr/.wh..wh..opq").write_text("")
    (source / "usr/lib/.wh.libold.so").write_text("")
    files = {
        Path(".wh.removed"),
        Path("usr/.wh..wh..opq"),
        Path("usr/lib/.wh.libold.so"),
        Path("plain.txt"),
    }
    dirs = {Path("usr"), Path("usr/lib")}
    for translation in (True, False):
        _compare_migrations(
            tmp_path / str(translation), source, files=files, dirs=dirs, oci_translation=translation
        )


def test_the_pkgconfig_fixup_is_skipped_only_where_it_does_nothing(tmp_path, source):
    seen: list[str] = []

    def pkgconfig_fixup(path: Path) -> None:
        seen.append(path.name)

    pkgconfig_fixup.__qualname__ = patch_migration._PKGCONFIG_FIXUP
    files, dirs = FILESETS(_fileset(["*"]), source, "default")
    (tmp_path / "out").mkdir()
    patch_migration.migrate_files(
        files=files, dirs=dirs, srcdir=source, destdir=tmp_path / "out", fixup_func=pkgconfig_fixup
    )
    # Regular files other than x.pc are linked without it; the rest take upstream's path.
    others = {
        path.name for path in files if not (source / path).is_file() or (source / path).is_symlink()
    }
    assert sorted(seen) == sorted({"x.pc", *others})
    assert "plain.txt" not in seen


def test_files_sort_in_upstream_order():
    names = ["a-b/c", "a/b", "a b", "a/b/c", "a.b", "a", "ab", "-x", "Z", "é"]
    paths = [Path(name) for name in names]
    assert sorted(paths, key=patch_migration._path_order) == sorted(paths)


def _ignore_like_local_sources(root: str, names: list[str]) -> list[str]:
    return [name for name in names if name.endswith(".rock") or name in (".git", "parts")]


def _compare_trees(
    tmp_path: Path,
    destination: Callable[[Path], Path],
    prepare=None,
    extra_source=None,
    **kwargs,
) -> None:
    results = []
    for label, function in (
        ("upstream", patch_migration.upstream_link_or_copy_tree),
        ("patched", patch_migration.link_or_copy_tree),
    ):
        root = tmp_path / label
        make_awkward_tree(root / "src")  # the same tree, for each run
        if extra_source:
            extra_source(root / "src")
        target = destination(root)
        if prepare:
            prepare(target)
        _fix_mtimes(root)
        try:
            function(root / "src", target, **kwargs)
            result: object = None
        except Exception as err:
            result = ("raised", type(err), str(err).replace(str(root), "<root>"))
        results.append(
            (
                result,
                snapshot(root),
                _shared_inodes(target, root / "src") if target.is_dir() else None,
            )
        )
    assert_same_snapshots(results[0][1], results[1][1])
    assert results[0] == results[1]


def test_a_local_source_pulled_into_a_new_directory(tmp_path):
    _compare_trees(tmp_path, lambda root: root / "parts/p/src")


def test_a_pull_over_an_earlier_one(tmp_path):
    def prepare(target: Path) -> None:
        make_awkward_tree(target)  # the same names, other inodes
        (target / "plain.txt").unlink()
        (target / "plain.txt").symlink_to("usr")
        (target / "usr/lib/libx.so.1").unlink()
        (target / "usr/lib/libx.so.1").symlink_to("libx.so.1")  # a loop where a file goes
        Path(
            os.fsdecode(os.fsencode(target) + b"/" + NON_UTF8 + b"/" + NON_UTF8 + b".txt")
        ).unlink()

    _compare_trees(tmp_path, lambda root: root / "dest", prepare=prepare)


def test_a_destination_inside_the_source_with_an_ignore_list(tmp_path):
    def extra_source(source: Path) -> None:
        (source / "x.rock").write_text("rock")
        (source / ".git").mkdir()
        (source / ".git/HEAD").write_text("ref")

    _compare_trees(
        tmp_path,
        lambda root: root / "src/parts/p/src",
        extra_source=extra_source,
        ignore=_ignore_like_local_sources,
    )


def test_another_copy_function_runs_upstream_code(tmp_path):
    _compare_trees(tmp_path, lambda root: root / "dest", copy_function=file_utils.copy)


def test_tree_errors_are_upstream_errors(tmp_path, source):
    _compare_trees(tmp_path, lambda root: root / "src/plain.txt")  # onto a file
    errors = []
    for function in (patch_migration.upstream_link_or_copy_tree, patch_migration.link_or_copy_tree):
        with pytest.raises(Exception) as raised:  # from a file
            function(source / "plain.txt", tmp_path / "dest")
        errors.append((type(raised.value), str(raised.value)))
    assert errors[0] == errors[1]


def _fileset(entries: list[str]):
    from craft_parts.executor.filesets import Fileset

    return Fileset(entries, name="stage")
