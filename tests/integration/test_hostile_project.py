"""Names a project or its parts make at build time never climb out of their places."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import MINIMAL, run_rockpack, write_project

pytestmark = pytest.mark.integration

ADOPTED = MINIMAL.replace('    version: "1.0"\n', "").replace(
    "    parts:\n      hello:\n        plugin: nil\n",
    "    adopt-info: hello\n    parts:\n      hello:\n        plugin: nil\n"
    "        override-build: craftctl set version={version}\n",
)


@pytest.mark.parametrize("version", ["../../../escaped", "a/b", "'1 0'", ".."])
def test_a_version_set_by_a_scriptlet_cannot_name_a_path(tmp_path, version):
    project = tmp_path / "deep/project"
    write_project(project, ADOPTED.format(version=version))
    result = run_rockpack("pack", "--destructive-mode", "--project-dir", project)
    assert result.returncode == 1, result.stderr
    assert "craftctl set version" in result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert not [p for p in tmp_path.rglob("*.rock*") if ".rockpack" not in p.parts]


def test_a_good_version_set_by_a_scriptlet_names_the_rock(tmp_path):
    write_project(tmp_path, ADOPTED.format(version="2.5-rc1"))
    result = run_rockpack("pack", "--destructive-mode", "--project-dir", tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "hello_2.5-rc1_amd64.rock").is_file()


def test_a_foreign_rock_is_never_packed_with_this_hosts_packages(tmp_path):
    """arm64 stage-packages on a host whose dpkg lacks arm64: refused before any part runs,
    with the command that fixes it, rather than a rock of x86-64 binaries labelled arm64."""
    if (
        "arm64"
        in subprocess.run(
            ["dpkg", "--print-foreign-architectures"], capture_output=True, text=True, check=True
        ).stdout.split()
    ):
        pytest.skip("this host's dpkg already has arm64")
    cross = MINIMAL.replace(
        "    platforms:\n      amd64:\n",
        "    platforms:\n      arm64:\n        build-on: [amd64]\n        build-for: [arm64]\n",
    ).replace(
        "        plugin: nil\n", "        plugin: nil\n        stage-packages: [busybox-static]\n"
    )
    write_project(tmp_path, cross)
    result = run_rockpack("pack", "--destructive-mode", "--project-dir", tmp_path)
    assert result.returncode != 0
    assert "dpkg --add-architecture arm64" in result.stderr
    assert not list(tmp_path.glob("*.rock"))
    assert not (tmp_path / ".rockpack/work").exists()  # refused before any part ran
