"""A pack with nothing changed answered before the project is loaded: only the same
request over the same trees is answered; anything else takes the normal path."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from craft_cli import emit

from rockpack.build import fingerprint, noop_request
from rockpack.build.fingerprint import skip_when_unchanged
from rockpack.build.noop_request import PackRequest, answer_unchanged
from tests.unit.build.test_fingerprint import FakeLoaded, Options, Packer

# The flags of `rockpack pack --destructive-mode`, as the command line parses them.
FLAGS: dict[str, Any] = {
    "destructive_mode": True,
    "use_lxd": False,
    "platform": None,
    "build_for": None,
    "shell": False,
    "shell_after": False,
    "debug": False,
    "refresh_base": False,
    "apply_package_repositories": False,
    "output": None,
    "compression": "gzip:1",
    "layers": None,
    "no_attestations": False,
    "index": False,
}


@pytest.fixture
def said(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    messages: list[str] = []
    monkeypatch.setattr(emit, "message", messages.append)
    return messages


def flags(project: FakeLoaded, **changed: Any) -> dict[str, Any]:
    return {"project_dir": project.project_dir, **FLAGS, **changed}


def run(packer: Packer, project: FakeLoaded, **changed: Any) -> PackRequest:
    """What `rockpack pack` does: answer the request early, or load and pack."""
    request = answer_unchanged(project.project_dir, flags(project, **changed), os.environ)
    if not request.answered:
        skip_when_unchanged(packer)(project, Options(), None, request=request.digest)
    return request


def test_the_same_request_is_answered_without_loading_or_packing(project, said):
    packer = Packer()
    assert not run(packer, project).answered
    said.clear()
    assert run(packer, project).answered
    assert run(packer, project).answered
    assert packer.calls == 1
    rock = project.project_dir.resolve() / "app_1.0_amd64.rock"
    message = f"Packed {rock} (sha256:{'ab' * 32}): nothing changed since the last pack"
    assert said == [message, message]


def test_the_last_packs_warnings_are_repeated(project, said):
    project.warnings.append("'base: ubuntu:22.04' is deprecated; write 'ubuntu@22.04'.")
    run(Packer(), project)
    said.clear()
    assert run(Packer(), project).answered
    assert said[0] == "Warning: 'base: ubuntu:22.04' is deprecated; write 'ubuntu@22.04'."


def test_a_changed_project_file_is_not_answered(project, said):
    packer = Packer()
    run(packer, project)
    project.path.write_text("name: apq\n")  # same size, other bytes
    assert not run(packer, project).answered
    assert packer.calls == 2


def test_a_changed_source_is_not_answered(project, said):
    packer = Packer()
    run(packer, project)
    (project.project_dir / "src/app.txt").write_text("hello, again\n")
    assert not run(packer, project).answered
    assert packer.calls == 2


def test_a_changed_prime_dir_is_not_answered(project, said):
    packer = Packer()
    run(packer, project)
    (project.project_dir / ".rockpack/work/amd64/prime/new").write_text("new\n")
    assert not run(packer, project).answered


@pytest.mark.parametrize(
    "changed",
    [
        {"compression": "zstd:3"},
        {"layers": "single"},
        {"no_attestations": True},
        {"platform": "amd64"},
        {"output": Path("out")},
        {"apply_package_repositories": True},
        {"a_future_flag": "x"},
    ],
    ids=lambda changed: next(iter(changed)),
)
def test_any_other_flag_is_another_request(project, said, changed):
    run(Packer(), project)
    assert not run(Packer(), project, **changed).answered


@pytest.mark.parametrize(
    "changed",
    [
        {"destructive_mode": False},
        {"refresh_base": True},
        {"shell": True},
        {"shell_after": True},
        {"debug": True},
        {"index": True},
    ],
    ids=lambda changed: next(iter(changed)),
)
def test_some_requests_always_take_the_normal_path(project, said, changed):
    run(Packer(), project)
    assert run(Packer(), project, **changed) == PackRequest(None)
    assert noop_request.request_digest(project.project_dir, flags(project, **changed), {}) is None


@pytest.mark.parametrize(
    "name",
    ["SOURCE_DATE_EPOCH", "ROCKPACK_LOG", "ROCKCRAFT_ENABLE_EXPERIMENTAL_EXTENSIONS", "PATH"],
)
def test_a_changed_env_var_that_matters_is_not_answered(project, said, monkeypatch, name):
    run(Packer(), project)
    monkeypatch.setenv(name, "1700000001")
    assert not run(Packer(), project).answered


def test_inside_a_clean_build_instance_nothing_is_answered(project, said, monkeypatch):
    run(Packer(), project)
    monkeypatch.setenv("ROCKPACK_MANAGED", "1")
    assert run(Packer(), project) == PackRequest(None)


def test_a_pack_recorded_without_a_request_is_not_answered(project, said):
    packer = Packer()
    skip_when_unchanged(packer)(project, Options(), None)
    assert not run(packer, project).answered
    assert packer.calls == 1  # the normal path's own check still skips the pack


def test_a_moved_symlink_on_the_way_to_an_outside_source_is_not_answered(project, said, tmp_path):
    for version in ("v1", "v2"):
        (tmp_path / version / "src").mkdir(parents=True)
        (tmp_path / version / "src/lib.txt").write_text("lib\n")
    (tmp_path / "current").symlink_to(tmp_path / "v1")
    project.project.parts["lib"] = {"plugin": "dump", "source": "../current/src"}
    run(Packer(), project)
    recorded = json.loads(fingerprint.fingerprint_path(project.project_dir).read_text())
    assert [resolved for _, resolved in recorded["outside"]] == [str(tmp_path / "v1/src")]
    assert run(Packer(), project).answered
    (tmp_path / "current").unlink()
    (tmp_path / "current").symlink_to(tmp_path / "v2")  # v1 itself is untouched
    assert not run(Packer(), project).answered


def test_a_changed_outside_source_is_not_answered(project, said, tmp_path):
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared/lib.txt").write_text("lib\n")
    project.project.parts["lib"] = {"plugin": "dump", "source": "../shared"}
    run(Packer(), project)
    (tmp_path / "shared/lib.txt").write_text("lib, changed\n")
    assert not run(Packer(), project).answered


def test_a_changed_rock_is_not_answered(project, said):
    run(Packer(), project)
    rock = project.project_dir / "app_1.0_amd64.rock"
    shutil.copyfile(rock, project.project_dir / "copy")
    (project.project_dir / "copy").replace(rock)  # the same bytes, another inode
    assert not run(Packer(), project).answered


@pytest.mark.parametrize("content", ["{not json", "[]", '{"format": 2}', "null"])
def test_a_damaged_fingerprint_is_not_answered(project, said, content):
    run(Packer(), project)
    fingerprint.fingerprint_path(project.project_dir).write_text(content)
    assert not run(Packer(), project).answered


def test_a_missing_project_file_is_left_to_the_normal_path(project, said):
    project.path.unlink()
    assert answer_unchanged(project.project_dir, flags(project), os.environ) == PackRequest(None)


def test_the_cli_answers_before_it_loads_the_project(project, said, monkeypatch):
    """rockpack.cli's pack command: an answered request neither loads nor packs."""
    from rockpack import cli

    answered = PackRequest("digest", answered=True)
    monkeypatch.setattr(noop_request, "answer_unchanged", lambda *args: answered)
    monkeypatch.setattr(cli, "_load", lambda parsed: pytest.fail("the project was loaded"))
    parsed = type("Parsed", (), flags(project))()
    assert cli.PackCommand(None).run(parsed) == 0


def test_a_symlink_out_of_the_project_dir_means_the_normal_path(project, said, tmp_path):
    """An extension may read a file through it: the walk sees the link, not its target."""
    (tmp_path / "requirements.txt").write_text("flask\n")
    (project.project_dir / "requirements.txt").symlink_to(tmp_path / "requirements.txt")
    packer = Packer()
    run(packer, project)
    assert not run(packer, project).answered
    assert packer.calls == 1  # the normal path, with the validated model, still skips


def test_symlinks_within_the_project_dir_are_answered(project, said):
    (project.project_dir / "src/link.txt").symlink_to("app.txt")
    (project.project_dir / "loop").symlink_to("loop")
    run(Packer(), project)
    assert run(Packer(), project).answered


def test_a_symlinked_project_file_is_answered(project, said, tmp_path):
    elsewhere = tmp_path / "shared.yaml"
    elsewhere.write_text("name: app\n")
    project.path.unlink()
    project.path.symlink_to(elsewhere)
    run(Packer(), project)
    assert run(Packer(), project).answered
    elsewhere.write_text("name: apq\n")  # its bytes are read on every check
    assert not run(Packer(), project).answered


def test_a_symlink_loop_on_the_way_to_a_source_is_no_error(project, said, tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    project.project.parts["lib"] = {"plugin": "dump", "source": "../a"}
    run(Packer(), project)
    assert run(Packer(), project).answered


def test_a_project_file_in_a_symlink_loop_is_left_to_the_normal_path(project, said):
    project.path.unlink()
    project.path.symlink_to(project.path)
    assert answer_unchanged(project.project_dir, flags(project), os.environ) == PackRequest(None)
