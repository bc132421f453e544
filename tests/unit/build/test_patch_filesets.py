"""migratable_filesets on strings: upstream's sets (and errors), on awkward trees."""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePath

import pytest
from craft_parts.executor.filesets import Fileset

from rockpack.build import patch_filesets
from tests.unit.build.awkward_tree import NON_UTF8, make_awkward_tree

UPSTREAM = patch_filesets.upstream_migratable_filesets
PATCHED = patch_filesets.migratable_filesets

FILESETS = [
    ["*"],
    [],
    ["-foo/*"],
    ["-foo"],
    ["*", "-usr/share/doc"],
    ["usr", "-usr/share/*"],
    ["usr/bin/*", "etc"],
    ["lib/*"],  # through a symlink to a directory
    ["bin/tool"],  # a file under a symlinked parent
    ["lib"],
    ["**/*.pc"],
    ["usr/**"],
    ["*.txt"],
    [".hidden", ".hdir"],
    ["a b/*"],
    ["deep"],
    ["usr/lib/../bin/tool"],
    ["missing-file", "missing-dir/*"],
    ["glob[[]chars]/*"],
    ["-*"],
    ["-usr/lib/*.so*", "-dangling", "-a-fifo"],
    ["empty-dir", "empty-parent"],
    ["\\-leading-dash"],
    ["outside-dir-link/*"],  # leaves the tree: upstream raises
    ["ünïcödé/*", os.fsdecode(NON_UTF8) + "/*"],
]


def _result(function, fileset: list[str], srcdir: Path) -> object:
    try:
        files, dirs = function(Fileset(fileset, name="stage"), srcdir, "default")
    except Exception as err:  # the same error, type and message, is the same result
        # Of several paths outside the tree, upstream names one in set order (which
        # varies from run to run with the hash seed): any one of them will do.
        return ("raised", type(err), re.sub(r"^'[^']*' not in", "'...' not in", str(err)))
    assert all(type(path) is type(Path()) for path in files | dirs)
    return (sorted(map(str, files)), sorted(map(str, dirs)))


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    return make_awkward_tree(tmp_path_factory.mktemp("filesets") / "install")


@pytest.mark.parametrize("fileset", FILESETS, ids=lambda f: " ".join(f) or "empty")
def test_the_same_files_and_directories_as_upstream(tree, fileset):
    assert _result(PATCHED, fileset, tree) == _result(UPSTREAM, fileset, tree)


def test_a_tree_reached_through_a_symlink_and_a_relative_path(tree, tmp_path, monkeypatch):
    (tmp_path / "alias").symlink_to(tree)
    monkeypatch.chdir(tmp_path)
    for srcdir in (tmp_path / "alias", Path("alias"), Path("alias/../alias")):
        for fileset in (["*"], ["usr/*", "-usr/lib"], ["lib/*"]):
            assert _result(PATCHED, fileset, srcdir) == _result(UPSTREAM, fileset, srcdir)


def test_a_missing_source_directory(tmp_path):
    for fileset in (["*"], ["x"]):
        missing = tmp_path / "nothing"
        assert _result(PATCHED, fileset, missing) == _result(UPSTREAM, fileset, missing)


def test_many_files_in_many_directories(tmp_path):
    for index in range(3000):
        path = tmp_path / f"d{index // 100:02d}" / f"s{index % 7}" / f"f{index}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(str(index))
    for fileset in (["*"], ["*", "-d01/*", "-d02"], ["d0*/s1"]):
        assert _result(PATCHED, fileset, tmp_path) == _result(UPSTREAM, fileset, tmp_path)


def test_paths_are_built_as_pathlib_builds_them():
    for name in ["a", "a/b", "a b/c d", "../x", ".hidden/x", "."]:
        made = patch_filesets._path(name)
        assert made == Path(name)
        assert (str(made), made.parts, hash(made)) == (
            str(Path(name)),
            Path(name).parts,
            hash(Path(name)),
        )
        assert made.parent == Path(name).parent


def test_the_resolver_hands_odd_paths_to_upstream(tree):
    resolve = patch_filesets._Resolver(tree)
    assert resolve("plain.txt") == "plain.txt"
    assert resolve("lib/libx.so.1") == "usr/lib/libx.so.1"  # the parent resolved
    assert resolve("lib/libx.so") == "usr/lib/libx.so"  # the name itself is not
    for odd in ("usr/lib/..", "usr/./lib", "..", "bin/..", "a b/."):
        upstream = patch_filesets.filesets._get_resolved_relative_path(PurePath(odd), tree)
        assert resolve(odd) == str(upstream)
    with pytest.raises(ValueError, match="not in the subpath"):
        resolve("outside-dir-link/doc")
