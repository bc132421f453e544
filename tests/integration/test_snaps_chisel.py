"""Snaps and chisel in the build environment.

A clean build of a project with snaps runs in an instance of an image with snapd, which
boots systemd. The snap store is not reachable from these machines, so there the
build-snaps install fails, and the message says why; a locally made snap shows that
snapd mounts and installs snaps in that instance. chisel: slices with no chisel anywhere
fail before anything is built.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from rockpack.lxd.clean_build import _instance_name
from tests.conftest import MINIMAL, report_summary, run_rockpack, write_project
from tests.integration.conftest import free_port

pytestmark = pytest.mark.integration

EPOCH = "1700000000"
SNAPS = MINIMAL.replace("name: hello", "name: snaps").replace(
    "plugin: nil",
    "plugin: nil\n        build-snaps: [go/1.22/stable]\n"
    "        override-build: touch $CRAFT_PART_INSTALL/built",
)
SLICES = MINIMAL.replace("name: hello", "name: slices").replace(
    "plugin: nil", "plugin: nil\n        stage-packages: [base-files_base, libc6_libs]"
)
TIMES: dict[str, float] = {}


def lxc(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["lxc", "--project", "rockpack", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=check,
    )


def wait_for_systemd(env: dict[str, str], instance: str) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        state = lxc(env, "exec", instance, "--", "systemctl", "is-system-running", check=False)
        if state.stdout.strip() in ("starting", "degraded", "running"):
            return state.stdout.strip()
        time.sleep(0.5)
    raise AssertionError(f"systemd did not come up in {instance}")


def make_base_snap(directory: Path) -> Path:
    """A tiny base snap (needs no store to install: no base of its own)."""
    tree = directory / "tree"
    (tree / "meta").mkdir(parents=True)
    (tree / "meta/snap.yaml").write_text(
        'name: rockpack-test-base\nversion: "1"\nsummary: t\ndescription: t\ntype: base\n'
    )
    snap = directory / "rockpack-test-base.snap"
    subprocess.run(
        ["mksquashfs", str(tree), str(snap), "-noappend", "-comp", "xz", "-all-root", "-quiet"],
        check=True,
        capture_output=True,
    )
    return snap


def test_a_clean_build_with_build_snaps_boots_systemd_and_says_the_store_is_unreachable(
    lxd, tmp_path
):
    project = tmp_path / "snaps"
    write_project(project, SNAPS)
    started = time.monotonic()
    result = run_rockpack(
        "pack", "--use-lxd", "--project-dir", project, env={**lxd, "SOURCE_DATE_EPOCH": EPOCH}
    )
    TIMES["clean build with build-snaps"] = time.monotonic() - started
    shown = result.stderr + result.stdout
    assert result.returncode != 0
    assert "Booting the build instance (systemd, for snapd): done in" in shown
    assert (
        "The snap store (api.snapcraft.io) cannot be reached from the build environment, so "
        "'go/1.22/stable' (build-snaps of part 'hello') cannot be installed." in result.stderr
    )
    assert "Building hello" not in shown  # said before any part ran
    assert "Traceback" not in result.stderr

    # The instance it ran in: systemd is its init and snapd answers (and installs snaps).
    instance = _instance_name("snaps", project)
    assert (
        json.loads(lxc(lxd, "list", instance, "--format", "json").stdout)[0]["config"].get(
            "raw.lxc", ""
        )
        == ""
    )  # no 'sleep' init
    lxc(lxd, "start", instance)
    try:
        wait_for_systemd(lxd, instance)
        assert lxc(lxd, "exec", instance, "--", "cat", "/proc/1/comm").stdout.strip() == "systemd"
        version = lxc(lxd, "exec", instance, "--", "snap", "version").stdout
        snapd_line = next(line for line in version.splitlines() if line.startswith("snapd"))
        assert "unavailable" not in snapd_line, version
        if shutil.which("mksquashfs"):
            snap = make_base_snap(tmp_path)
            lxc(lxd, "file", "push", str(snap), f"{instance}/root/{snap.name}")
            installed = lxc(
                lxd, "exec", instance, "--", "snap", "install", "--dangerous", f"/root/{snap.name}"
            )
            assert "rockpack-test-base 1 installed" in installed.stdout
    finally:
        lxc(lxd, "stop", "--force", instance, check=False)
    report_summary("snaps: " + ", ".join(f"{k} {v:.1f}s" for k, v in TIMES.items()))


def test_a_host_build_with_snaps_and_no_snapd_fails_before_any_part(tmp_path):
    if Path("/run/snapd.socket").exists():
        pytest.skip("this host runs snapd")
    project = tmp_path / "snaps"
    write_project(project, SNAPS)
    result = run_rockpack("pack", "--destructive-mode", "--project-dir", project)
    assert result.returncode == 1
    assert (
        "The parts need snaps ('go/1.22/stable' (build-snaps of part 'hello')), and this host "
        "has no snapd to install them." in result.stderr
    )
    assert "there is no /run/snapd.socket" in result.stderr
    assert "Pulling hello" not in result.stderr
    assert not (project / ".rockpack").exists() or not list(project.glob(".rockpack/**/built"))


def test_slices_with_no_chisel_anywhere_fail_before_building(lxd, tmp_path):
    if shutil.which("chisel"):
        pytest.skip("this host has chisel")
    project = tmp_path / "slices"
    write_project(project, SLICES.replace("build-base: debian@12", "build-base: ubuntu@24.04"))
    mirror = f"http://127.0.0.1:{free_port()}/chisel-releases"  # nothing listens there
    started = time.monotonic()
    result = run_rockpack(
        "pack",
        "--use-lxd",
        "--project-dir",
        project,
        env={**lxd, "ROCKPACK_CHISEL_RELEASES": mirror},
    )
    TIMES["slices without chisel"] = time.monotonic() - started
    assert result.returncode == 1
    assert (
        "The parts use chisel slices (part 'hello': base-files_base, libc6_libs), and there is "
        "no chisel to put in the build instance" in result.stderr
    )
    assert f"Could not download {mirror}/v1.4.1/" in result.stderr
    assert "snap install chisel" in result.stderr
    # Before anything was built: no image, no instance.
    assert "Building the" not in result.stderr and "Installing rockpack" not in result.stderr
    assert TIMES["slices without chisel"] < 30


def test_slices_on_a_debian_build_base_are_refused_before_building(tmp_path):
    project = tmp_path / "slices"
    write_project(project, SLICES)
    result = run_rockpack("pack", "--destructive-mode", "--project-dir", project)
    assert result.returncode == 1
    assert "which chisel cuts from an Ubuntu release; this project builds on debian@12" in (
        result.stderr
    )
