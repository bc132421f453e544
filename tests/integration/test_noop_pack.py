"""A pack with nothing changed returns the last rock at once; any change rebuilds it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from rockpack.oci.rock_archive import read_rock
from tests.conftest import MINIMAL, report_summary, run_rockpack, write_project

pytestmark = pytest.mark.integration

ROCK = "hello_1.0_amd64.rock"
SKIPPED = "nothing changed since the last pack"
ENV = {"SOURCE_DATE_EPOCH": "1700000000"}


def new_project(directory: Path) -> Path:
    write_project(directory, MINIMAL.replace("plugin: nil", "plugin: dump\n        source: files"))
    (directory / "files/usr/share/hello").mkdir(parents=True)
    (directory / "files/usr/share/hello/greeting").write_text("hello\n")
    return directory


def pack(project: Path, *extra: str, env: dict[str, str] | None = None) -> tuple[bool, str]:
    """(whether the pack was skipped, the rock's sha256)."""
    result = run_rockpack(
        "pack", "--destructive-mode", "--project-dir", project, *extra, env={**ENV, **(env or {})}
    )
    assert result.returncode == 0, result.stderr[-4000:]
    rock = project / ROCK
    read_rock(rock)  # a valid OCI archive, every time
    return SKIPPED in result.stdout + result.stderr, hashlib.sha256(rock.read_bytes()).hexdigest()


@pytest.fixture
def packed(tmp_path: Path) -> tuple[Path, str]:
    project = new_project(tmp_path / "project")
    skipped, digest = pack(project)
    assert not skipped
    return project, digest


def test_nothing_changed_gives_the_same_rock_without_packing(packed):
    project, digest = packed
    assert pack(project) == (True, digest)
    assert pack(project) == (True, digest)


def test_a_changed_source_file_rebuilds(packed):
    project, digest = packed
    (project / "files/usr/share/hello/greeting").write_text("hello, again\n")
    skipped, changed = pack(project)
    assert not skipped
    assert changed != digest
    assert pack(project) == (True, changed)


def test_a_changed_project_file_rebuilds(packed):
    project, digest = packed
    path = project / "rockpack.yaml"
    path.write_text(path.read_text().replace("A test rock", "A changed test rock"))
    skipped, changed = pack(project)
    assert not skipped
    assert changed != digest


@pytest.mark.parametrize(
    "env",
    [{"SOURCE_DATE_EPOCH": "1700000001"}, {"ROCKPACK_SOMETHING": "1"}],
    ids=["SOURCE_DATE_EPOCH", "ROCKPACK_"],
)
def test_a_changed_env_var_that_matters_rebuilds(packed, env):
    project, _ = packed
    skipped, _ = pack(project, env=env)
    assert not skipped


def test_a_deleted_or_modified_rock_is_rebuilt(packed):
    project, digest = packed
    (project / ROCK).unlink()
    assert pack(project) == (False, digest)
    with (project / ROCK).open("r+b") as rock:
        rock.seek(100)
        rock.write(b"\0")
    assert pack(project) == (False, digest)
    assert pack(project) == (True, digest)


@pytest.mark.parametrize(
    "extra",
    [("--refresh-base",), ("--compression", "gzip:6"), ("--layers", "single")],
    ids=["refresh-base", "compression", "layers"],
)
def test_flags_that_change_the_rock_rebuild(packed, extra):
    project, digest = packed
    skipped, _ = pack(project, *extra)
    assert not skipped
    if extra != ("--refresh-base",):
        assert pack(project, *extra)[0]  # the same flags again: nothing changed
    assert not pack(project)[0]  # back to the defaults: packed again
    assert pack(project) == (True, digest)


def test_after_prime_with_a_change_the_pack_rebuilds(packed):
    project, _ = packed
    (project / "files/usr/share/hello/new").write_text("new\n")
    result = run_rockpack("prime", "--destructive-mode", "--project-dir", project, env=ENV)
    assert result.returncode == 0, result.stderr[-4000:]
    assert not pack(project)[0]
    report_summary("no-op pack: skipped when nothing changed, rebuilt on every change tested")
