"""craft-parts patched by rockpack leaves what craft-parts as released leaves.

The same project is packed twice, in two directories: with rockpack's craft-parts
patches (``rockpack.build.craft_parts_patches``) and with
``ROCKPACK_UNPATCHED_CRAFT_PARTS=1``. The stage and prime trees (paths, types, modes,
owners, contents, link targets, hard links, mtimes), every step state file and the
rock's bytes must be the same, from clean, after sources change (re-staging, which the
migration states drive), and after one part is cleaned. A collision between parts must
fail the same way.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from rockpack.build.craft_parts_patches import UNPATCHED_ENV
from tests.conftest import run_rockpack, write_project
from tests.unit.build.awkward_tree import (
    assert_same_snapshots,
    make_awkward_tree,
    snapshot,
)

pytestmark = pytest.mark.integration

EPOCH = "1700000000"

PROJECT = """
    name: patched
    version: "1.0"
    summary: craft-parts patches
    description: The same trees with and without them.
    base: bare
    build-base: debian@12
    platforms:
      amd64:
    entrypoint-command: /bin/true
    parts:
      tree:
        plugin: dump
        source: tree
        organize:
          foo/sub/two: organized/two
          "a b": moved dir
          usr/bin/tool: usr/sbin/tool
        stage: ["*", "-foo/*", "-usr/share/doc", "-loop-*", "-a-fifo"]
        prime: ["-etc/*", "-deep"]
      again:
        plugin: dump
        source: again
        stage: ["usr/lib/*", "shared/*", "-shared/skip*"]
        after: [tree]
      nothing:
        plugin: nil
"""


MANY_FILES = """
    name: many
    version: "1.0"
    summary: many files
    description: Many files in one part.
    base: bare
    build-base: debian@12
    platforms:
      amd64:
    entrypoint-command: /bin/true
    parts:
      tree:
        plugin: dump
        source: tree
        stage: ["*", "-d01/s1"]
"""


def make_project(directory: Path, *, non_utf8: bool = True) -> Path:
    write_project(directory, PROJECT)
    make_awkward_tree(directory / "tree", non_utf8=non_utf8)
    again = directory / "again"
    (again / "usr/lib").mkdir(parents=True)
    (again / "usr/lib/libx.so.1").write_text("lib\n")  # the same bytes as tree's: no collision
    (again / "usr/lib/libx.so").symlink_to("libx.so.1")  # the same symlink as tree's
    (again / "shared/deeper").mkdir(parents=True)
    (again / "shared/own file").write_text("own\n")
    (again / "shared/skipped").write_text("skip\n")
    (again / "shared/deeper/x").write_text("x\n")
    for path in [again, *again.rglob("*")]:
        os.utime(path, (1_600_000_000, 1_600_000_000), follow_symlinks=False)
    return directory


def run(project: Path, patched: bool, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"SOURCE_DATE_EPOCH": EPOCH, UNPATCHED_ENV: "" if patched else "1"}
    if args[0] != "clean":
        args = (*args, "--destructive-mode")
    return run_rockpack(*args, "--project-dir", project, env=env)


def pack(project: Path, patched: bool, *args: str) -> None:
    result = run(project, patched, *args)
    assert result.returncode == 0, result.stderr


def outcome(project: Path) -> dict[str, object]:
    """What the lifecycle left behind: the trees, every state file, the rock."""
    work = project / ".rockpack/work/amd64"
    return {
        "stage": _with_fixed_pkgconfig_mtimes(snapshot(work / "stage")),
        "prime": _with_fixed_pkgconfig_mtimes(snapshot(work / "prime")),
        "states": {
            str(path.relative_to(work)): path.read_bytes()
            for path in sorted((work / "parts").glob("*/state/*"))
        },
        "rocks": {path.name: path.read_bytes() for path in project.glob("*.rock")},
    }


def _with_fixed_pkgconfig_mtimes(
    tree: dict[bytes, tuple[object, ...]],
) -> dict[bytes, tuple[object, ...]]:
    """Stage rewrites pkg-config files (their prefix) as it links them: their mtime is
    the clock's, with or without the patches."""
    return {
        name: (*facts[:6], None, facts[7]) if name.endswith(b".pc") else facts
        for name, facts in tree.items()
    }


def assert_same(first: list[dict[str, object]], second: list[dict[str, object]]) -> None:
    """The same outcomes, step by step; the trees and states first, for a useful diff."""
    assert len(first) == len(second)
    for one, other in zip(first, second, strict=True):
        for tree in ("stage", "prime"):
            assert_same_snapshots(one[tree], other[tree])  # type: ignore[arg-type]
        assert one["states"].keys() == other["states"].keys()  # type: ignore[attr-defined]
        for name, text in one["states"].items():  # type: ignore[attr-defined]
            assert text == other["states"][name], name  # type: ignore[index]
        assert one == other


def change_sources(project: Path) -> None:
    """An edit, a new file, a removed file, a file that became a symlink."""
    tree = project / "tree"
    (tree / "plain.txt").write_text("plain, edited\n")
    (tree / "usr/lib/new.so").write_text("new\n")
    (tree / "usr/lib/pkgconfig/x.pc").unlink()
    (tree / "etc/x.conf").unlink()
    (tree / "etc/x.conf").symlink_to("../plain.txt")
    (tree / "ünïcödé/новый файл").write_text("new\n")
    for path in [tree, *tree.rglob("*")]:
        os.utime(path, (1_650_000_000, 1_650_000_000), follow_symlinks=False)
    # Newer than the last pack (a fixed time, so that both runs see the same one): how
    # craft-parts sees that a local source changed.
    os.utime(tree / "plain.txt", (2_000_000_000, 2_000_000_000))


def scenario(
    tmp_path: Path, steps: list[Callable[[Path, bool], None]], make=make_project
) -> list[dict[str, object]]:
    """Each step, patched and then as released, in the same directory (stage writes its
    path into pkg-config files): the outcomes of each, compared."""
    outcomes: dict[bool, list[dict[str, object]]] = {}
    for patched in (True, False):
        project = tmp_path / "project"
        shutil.rmtree(project, ignore_errors=True)
        make(project)
        outcomes[patched] = []
        for step in steps:
            step(project, patched)
            outcomes[patched].append(outcome(project))
    assert_same(outcomes[True], outcomes[False])
    return outcomes[True]


def step(*args: str, then: Callable[[Path], None] | None = None) -> Callable[[Path, bool], None]:
    def run_step(project: Path, patched: bool) -> None:
        if then is None:
            pack(project, patched, *args)
        else:
            then(project)
            pack(project, patched, *args)

    return run_step


def test_the_same_trees_states_and_rock_from_clean(tmp_path):
    (packed,) = scenario(tmp_path, [step("pack")])
    assert packed["rocks"], "no rock was written"
    assert b"caf\xe9" in packed["prime"], "no name that is not UTF-8 was primed"


def test_the_same_after_sources_change_and_a_part_is_cleaned(tmp_path):
    scenario(
        tmp_path,
        [
            step("pack"),
            step("pack", then=change_sources),  # re-stages: the states say what to remove
            step("clean", "again"),  # removes what again's states list
            step("prime"),
        ],
        make=lambda project: make_project(project, non_utf8=False),  # see the test below
    )


def test_a_second_run_reads_states_that_list_a_name_that_is_not_utf8(tmp_path):
    """craft-parts writes such a name as an escaped surrogate, which libyaml's loader
    refuses; the state reader falls back to PyYAML's own."""
    project = make_project(tmp_path / "project")
    pack(project, True, "pack")
    change_sources(project)
    pack(project, True, "pack")


def test_a_collision_between_parts_fails_with_the_same_message(tmp_path):
    messages = []
    for patched in (True, False):
        project = make_project(tmp_path / str(patched) / "project")
        (project / "again/usr/lib/libx.so.1").write_text("other bytes\n")
        (project / "again/usr/lib/libx.so").unlink()
        (project / "again/usr/lib/libx.so").symlink_to("elsewhere")
        result = run(project, patched, "pack")
        assert result.returncode != 0
        text = result.stderr.replace(str(project), "<project>")
        messages.append(text.split("Full execution log")[0])
    assert messages[0] == messages[1]
    assert (
        "list the following files, but with different contents or permissions:\n"
        + ("    usr/lib/libx.so\n    usr/lib/libx.so.1\n")
        in messages[0]
    )


def make_many_files(project: Path) -> None:
    """Enough files to cross every cache and batch size of the patched code."""
    write_project(project, MANY_FILES)
    for index in range(20_000):
        path = project / "tree" / f"d{index // 500:02d}" / f"s{index % 3}" / f"f{index}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(str(index))
    make_awkward_tree(project / "tree/awkward")
    for path in [project / "tree", *(project / "tree").rglob("*")]:
        os.utime(path, (1_600_000_000, 1_600_000_000), follow_symlinks=False)


def test_a_many_file_part_from_clean(tmp_path):
    scenario(tmp_path, [step("pack")], make=make_many_files)
