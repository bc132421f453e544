"""The project's own source date: git's last commit, else its newest file."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from rockpack.build import source_date
from rockpack.build.source_date import project_source_date
from tests.conftest import require_tool
from tests.unit.build.awkward_tree import make_awkward_tree


def walked_newest_mtime(project_dir: Path) -> int:
    """The walk as it was written first (os.walk, a Path.lstat per file): the contract."""
    newest = 0
    for dirpath, dirnames, filenames in os.walk(project_dir):
        dirnames[:] = [d for d in dirnames if d not in {".rockpack", ".git"}]
        for name in filenames:
            if name.endswith(".rock") or (name.startswith(".") and name.endswith(".tmp")):
                continue
            try:
                newest = max(newest, int(Path(dirpath, name).lstat().st_mtime))
            except OSError:
                continue
    return newest


def stamp(path: Path, seconds: float) -> None:
    os.utime(path, (seconds, seconds), follow_symlinks=False)


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(source_date, "_git_commit_time", lambda _: None)  # not a git tree
    project = make_awkward_tree(tmp_path / "project")
    stamp(project / "plain.txt", 1_650_000_000.9)  # the newest source file
    return project


def test_the_newest_file_is_the_date(project):
    assert project_source_date(project) == 1_650_000_000 == walked_newest_mtime(project)


@pytest.mark.parametrize(
    "name",
    [".rockpack/state", "sub/.rockpack/state", ".git/index", "deep/.git/x", "out.rock", ".x.tmp"],
)
def test_rockpacks_own_files_do_not_count(project, name):
    path = project / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("newer")
    stamp(path, 1_700_000_000)
    assert project_source_date(project) == 1_650_000_000 == walked_newest_mtime(project)


def test_a_symlink_counts_by_its_own_mtime_and_a_directory_does_not(project):
    stamp(project / "usr", 1_800_000_000)  # a directory: not a file
    stamp(project / "lib", 1_800_000_000)  # a symlink to a directory: not entered, not counted
    assert project_source_date(project) == 1_650_000_000 == walked_newest_mtime(project)
    stamp(project / "dangling", 1_750_000_000)  # a symlink to nothing: a file
    assert project_source_date(project) == 1_750_000_000 == walked_newest_mtime(project)


def test_files_under_symlinked_directories_are_not_walked(project, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "new").write_text("new")
    stamp(outside / "new", 1_900_000_000)
    (project / "link-out").symlink_to(outside)
    stamp(project / "link-out", 1_600_000_000)
    assert project_source_date(project) == 1_650_000_000 == walked_newest_mtime(project)


def test_an_empty_or_missing_project(tmp_path, monkeypatch):
    monkeypatch.setattr(source_date, "_git_commit_time", lambda _: None)
    assert project_source_date(tmp_path) == 0
    assert project_source_date(tmp_path / "missing") == 0


def test_an_unreadable_directory_is_skipped(project):
    hidden = project / "locked"
    hidden.mkdir()
    (hidden / "f").write_text("x")
    stamp(hidden / "f", 1_990_000_000)
    hidden.chmod(0)
    try:
        expected = walked_newest_mtime(project)
        assert project_source_date(project) == expected
    finally:
        hidden.chmod(0o755)


def test_git_gives_the_last_commit_time(tmp_path):
    require_tool("git")
    env = {
        **os.environ,
        "GIT_AUTHOR_DATE": "1600000000 +0000",
        "GIT_COMMITTER_DATE": "1600000123 +0000",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True, env=env)
    (tmp_path / "f").write_text("x")
    subprocess.run(["git", "-C", str(tmp_path), "add", "f"], check=True, env=env)
    subprocess.run(["git", "-C", str(tmp_path), "commit", "-qm", "x"], check=True, env=env)
    stamp(tmp_path / "f", 1_999_999_999)  # newer than the commit: git's date wins
    assert project_source_date(tmp_path) == 1_600_000_123
