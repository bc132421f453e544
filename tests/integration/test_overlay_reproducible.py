"""A rock with overlay-packages is reproducible: apt's logs and caches stay out of it."""

from __future__ import annotations

import time

import pytest

from tests.conftest import run_rockpack, write_project
from tests.integration.oci_tools import part_members

pytestmark = pytest.mark.integration

PROJECT = """
    name: overlay-repro
    version: "1"
    summary: overlay-packages, packed twice
    description: The same inputs, packed at two times in two directories.
    base: debian@12
    platforms:
      amd64:
    entrypoint-command: /usr/bin/hello
    parts:
      ov:
        plugin: nil
        overlay-packages: [hello]
"""


def test_overlay_packages_give_the_same_rock_twice(tmp_path, base_env):
    rocks = []
    for name in ("first", "second"):
        project = tmp_path / name
        write_project(project, PROJECT)
        result = run_rockpack(
            "pack",
            "--destructive-mode",
            "--project-dir",
            project,
            env={**base_env, "SOURCE_DATE_EPOCH": "1700000000"},
        )
        assert result.returncode == 0, result.stderr[-4000:]
        rocks.append(project / "overlay-repro_1_amd64.rock")
        time.sleep(1.1)  # apt's logs carry the second they were written
    members = part_members(rocks[0])
    assert "usr/bin/hello" in members and "var/lib/dpkg/status" in members
    assert not [n for n in members if n.startswith(("var/log/apt/", "var/cache/apt/archives/"))]
    assert "var/cache/apt/pkgcache.bin" not in members
    assert rocks[0].read_bytes() == rocks[1].read_bytes()
