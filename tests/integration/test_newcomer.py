"""What a newcomer meets first: the README's commands, help, version, clean, logs."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from tests.conftest import MINIMAL, REPO, run_rockpack, write_project

pytestmark = pytest.mark.integration

README = (REPO / "README.md").read_text()


def readme_run_lines() -> list[tuple[str, str]]:
    """(command, the output its comment promises) from the README's run-it block."""
    block = README[README.index("prints how to run it") :].split("\n\n", 2)[1]
    lines = []
    for line in block.splitlines():
        command, _, comment = line.strip().partition("#")
        lines.append((command.strip(), comment.strip()))
    return lines


def test_pack_example_prints_what_the_readme_shows():
    script = (REPO / "scripts/pack-example").read_text()
    for command, _ in readme_run_lines():
        assert command.replace("amd64", "${arch}") in script


def test_the_readme_run_lines_work_on_the_example_rock(example_rock, podman_env, tmp_path):
    shutil.copy(example_rock, tmp_path / example_rock.name)
    env = {**os.environ, **podman_env}
    for command, comment in readme_run_lines():
        words = shlex.split(command.replace("amd64", example_rock.name.split("_")[2][:-5]))
        if words[0] == ".venv/bin/rockpack":
            words = [sys.executable, "-m", "rockpack", *words[1:]]
        result = subprocess.run(
            words, cwd=tmp_path, env=env, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr
        expected = comment.removeprefix("prints: ")
        if comment.startswith("prints: "):
            assert expected in result.stdout


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_flag_prints_the_version(flag):
    from rockpack import __version__

    result = run_rockpack(flag)
    assert result.returncode == 0, result.stderr
    assert f"rockpack {__version__}" in result.stdout + result.stderr


def test_help_has_no_empty_heading_and_load_names_its_choices():
    general = run_rockpack("help")
    text = general.stdout + general.stderr
    starter = text[text.index("Starter commands:") :].split("\n\n")[0].splitlines()
    assert len(starter) > 1 and "pack:" in "".join(starter)
    load = run_rockpack("help", "load")
    assert "'podman' or 'docker'" in load.stdout + load.stderr


def test_clean_removes_the_lock_and_the_state_dir(tmp_path):
    write_project(tmp_path, MINIMAL)
    assert run_rockpack("prime", "--destructive-mode", "--project-dir", tmp_path).returncode == 0
    assert (tmp_path / ".rockpack/lock").exists()
    result = run_rockpack("clean", "--project-dir", tmp_path, env={"LXD_DIR": str(tmp_path / "x")})
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / ".rockpack").exists()


def test_logs_are_kept_where_the_readme_says(tmp_path):
    match = re.search(r"A log of each of the last (\d+) runs is kept under\s+`([^`]+)`", README)
    assert match, "the README says where logs are kept"
    state = tmp_path / "state"
    result = run_rockpack("version", env={"XDG_STATE_HOME": str(state)})
    assert result.returncode == 0
    logs = list((state / "rockpack/log").glob("rockpack-*.log"))
    assert len(logs) == 1
    assert match.group(2) == "~/.local/state/rockpack/log/"
    for _ in range(int(match.group(1)) + 2):
        run_rockpack("version", env={"XDG_STATE_HOME": str(state)})
    assert len(list((state / "rockpack/log").glob("rockpack-*.log"))) == int(match.group(1))


@pytest.mark.parametrize("command", ["pack", "clean"])
def test_a_symlinked_state_dir_is_never_followed(tmp_path, command):
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    write_project(project, MINIMAL)
    elsewhere.mkdir()
    (elsewhere / "precious").write_text("keep me")
    (project / ".rockpack").symlink_to(elsewhere)
    args = [command, "--project-dir", project]
    if command == "pack":
        args.append("--destructive-mode")
    result = run_rockpack(*args, env={"LXD_DIR": str(tmp_path / "no-lxd")})
    assert result.returncode == 1
    assert ".rockpack is a symlink" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in elsewhere.iterdir()) == ["precious"]
    assert not list(project.glob("*.rock"))


def test_a_symlink_inside_the_state_dir_is_never_followed(tmp_path):
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    write_project(project, MINIMAL)
    elsewhere.mkdir()
    (project / ".rockpack").mkdir()
    (project / ".rockpack/oci").symlink_to(elsewhere)
    result = run_rockpack("pack", "--destructive-mode", "--project-dir", project)
    assert result.returncode == 1
    assert "oci is a symlink" in result.stderr
    assert list(elsewhere.iterdir()) == []


def test_init_refuses_a_name_it_cannot_use(tmp_path):
    project = tmp_path / "p1"
    result = run_rockpack("init", "--project-dir", project)
    assert result.returncode == 1
    assert "--name" in result.stderr
    assert not (project / "rockpack.yaml").exists()


def test_a_full_disk_is_named_with_a_fix(tmp_path):
    """A tiny tmpfs as the output: the pack fails clearly and leaves nothing behind."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    write_project(
        tmp_path / "project", MINIMAL.replace("plugin: nil", "plugin: dump\n        source: big")
    )
    big = tmp_path / "project/big"
    big.mkdir()
    (big / "blob").write_bytes(os.urandom(3 << 20))
    full = tmp_path / "full"
    full.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(full)], check=True)
    try:
        result = run_rockpack(
            "pack", "--destructive-mode", "--project-dir", tmp_path / "project", "--output", full
        )
        assert result.returncode == 1
        assert "internal error" not in result.stderr
        assert "No space left on device" in result.stderr
        assert list(full.iterdir()) == []
    finally:
        subprocess.run(["umount", str(full)], check=False)


def test_a_bad_cached_test_base_is_never_trusted(tmp_path, debian_rootfs):
    """What mmdebstrap wrote under a wrong name (a directory), or a truncated tar, is rebuilt."""
    from tests.integration.conftest import _is_rootfs_tar

    assert _is_rootfs_tar(debian_rootfs)
    directory = tmp_path / "as-directory.tar"
    directory.mkdir()
    assert not _is_rootfs_tar(directory)
    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(debian_rootfs.read_bytes()[: 1 << 20])
    assert not _is_rootfs_tar(truncated)
