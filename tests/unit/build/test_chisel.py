"""chisel for slices: this environment's chisel, else the chisel snap through snapd, else
one clear error before building; chisel cuts Ubuntu releases only."""

from __future__ import annotations

import os
import stat
import textwrap
from pathlib import Path

import pytest

from rockpack.build.chisel import (
    CHISEL_SNAP,
    check_chisel,
    check_slices_build_base,
    chisel_snap_uses,
    slices_of,
)
from rockpack.build.snaps import Snapd
from rockpack.errors import ProviderError
from rockpack.project.model import validate_project
from rockpack.project.yaml_source import parse_yaml

SLICES = {"hello": {"plugin": "nil", "stage-packages": ["base-files_base", "libc6_libs"]}}


@pytest.fixture
def no_chisel(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))


@pytest.fixture
def host_chisel(tmp_path, monkeypatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    chisel = bin_dir / "chisel"
    chisel.write_text("#!/bin/sh\n")
    chisel.chmod(chisel.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return chisel


def test_slices_are_found_in_each_key():
    parts = {
        "a": {"stage-packages": ["hello", "libc6_libs"]},
        "b": {"stage-slices": ["bash_bins"]},
        "c": {"stage-packages": ["hello"]},
    }
    assert slices_of(parts) == {"a": ["libc6_libs"], "b": ["bash_bins"]}


def test_slices_need_an_ubuntu_build_base():
    with pytest.raises(ProviderError) as info:
        check_slices_build_base(SLICES, "debian@12")
    assert info.value.brief == (
        "The parts use chisel slices (part 'hello': base-files_base, libc6_libs), which chisel "
        "cuts from an Ubuntu release; this project builds on debian@12."
    )
    check_slices_build_base(SLICES, "ubuntu@24.04")
    check_slices_build_base({"a": {"stage-packages": ["hello"]}}, "debian@12")


def test_a_chisel_on_path_is_used_and_no_chisel_snap_is_installed(host_chisel, tmp_path):
    check_chisel(SLICES, "ubuntu@24.04", managed=False, snapd=Snapd(tmp_path / "none"))
    assert chisel_snap_uses(SLICES) == []


def test_with_no_chisel_snapd_installs_the_chisel_snap(no_chisel, tmp_path):
    assert [u.spec for u in chisel_snap_uses(SLICES)] == [CHISEL_SNAP]
    declared = {"hello": {**SLICES["hello"], "build-snaps": ["chisel/latest/candidate"]}}
    assert chisel_snap_uses(declared) == []  # the part's own chisel snap, installed as asked


def test_with_no_chisel_and_no_snapd_one_error_says_so_before_building(no_chisel, tmp_path):
    with pytest.raises(ProviderError) as info:
        check_chisel(SLICES, "ubuntu@24.04", managed=False, snapd=Snapd(tmp_path / "none"))
    assert info.value.brief.startswith(
        "The parts use chisel slices (part 'hello': base-files_base, libc6_libs), and there "
        "is no chisel on this host: no 'chisel' on PATH, and no snapd to install the chisel "
        "snap"
    )
    assert "snap install chisel" in info.value.resolution
    assert "clean LXD instance" in info.value.resolution


def test_lifecycle_uses_the_chisel_on_path_instead_of_the_snap(host_chisel, tmp_path, monkeypatch):
    """craft-parts adds the chisel snap for slices; with a chisel on PATH it is dropped."""
    from rockpack.build.lifecycle import Lifecycle

    text = textwrap.dedent("""\
        name: slices
        version: "1.0"
        summary: s
        description: s
        base: bare
        build-base: ubuntu@24.04
        platforms:
          amd64:
        entrypoint-command: /bin/true
        parts:
          hello:
            plugin: nil
            stage-packages: [base-files_base]
        """)
    project = validate_project(parse_yaml(Path("rockpack.yaml"), text)).project

    def lifecycle() -> Lifecycle:
        return Lifecycle(
            project,
            project_dir=tmp_path,
            work_dir=tmp_path / "work",
            cache_dir=tmp_path / "cache",
            build_for="amd64",
        )

    assert lifecycle()._extra_snaps == []
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert lifecycle()._extra_snaps == [CHISEL_SNAP]
