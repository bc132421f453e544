"""Which platforms build here; what a foreign-architecture build needs, and its checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from rockpack.build import foreign, targets
from rockpack.build.emulation import (
    ELF_ARCHES,
    ET_DYN,
    ET_EXEC,
    Emulation,
    elf_header,
    elf_kind,
    emulation_for,
)
from rockpack.build.foreign import (
    HostFacts,
    by_architecture,
    check_built_for,
    for_architecture,
    qualified_package,
)
from rockpack.build.targets import BuildTarget, build_targets, check_foreign_targets
from rockpack.errors import PackError, PlatformError
from rockpack.project.model import LoadedProject, validate_project
from rockpack.project.yaml_source import parse_yaml

CROSS = """\
name: cross
version: "1"
summary: s
description: d
base: bare
build-base: debian@12
entrypoint-command: /bin/true
platforms:
  amd64:
  arm64:
    build-on: [amd64]
    build-for: [arm64]
parts:
  p:
    plugin: nil
"""

PACKAGED = CROSS.replace("plugin: nil", "plugin: nil\n    stage-packages: [busybox-static]")


def loaded(text: str = CROSS) -> LoadedProject:
    return validate_project(parse_yaml(Path("rockpack.yaml"), text))


def project(text: str = CROSS):
    return loaded(text).project


def facts(
    *,
    emulation: bool = True,
    dpkg: tuple[str, ...] = ("amd64", "arm64"),
    lists: bool = True,
    root: bool = False,
    managed: bool = False,
):
    def host_facts(host: str, arch: str) -> HostFacts:
        return HostFacts(
            host=host,
            arch=arch,
            emulation=Emulation(arch, True, handler="qemu-aarch64")
            if emulation
            else Emulation(arch, False, "binfmt_misc is not mounted at /proc/sys/fs/binfmt_misc"),
            dpkg_arches=frozenset(dpkg),
            apt_lists=lists,
            root=root,
            managed=managed,
        )

    return host_facts


ARM64 = [BuildTarget("arm64", "arm64")]


def test_a_cross_platform_is_a_target_on_its_build_on_host():
    found = build_targets(project(), platform=None, build_for=None, host="amd64")
    assert found == [BuildTarget("amd64", "amd64"), BuildTarget("arm64", "arm64")]


def test_native_targets_need_nothing():
    check_foreign_targets(project(), [BuildTarget("amd64", "amd64")], "amd64", facts(dpkg=()))


def test_a_part_of_architecture_independent_files_builds_for_arm64_without_emulation():
    check_foreign_targets(project(), ARM64, "amd64", facts(emulation=False, dpkg=()))


def test_foreign_stage_packages_must_be_named_for_the_target():
    """The lifecycle commands would fetch this host's packages: refused, pointing at pack."""
    with pytest.raises(PlatformError) as info:
        check_foreign_targets(project(PACKAGED), ARM64, "amd64", facts())
    assert "'arm64' (for arm64)" in info.value.brief
    assert "for this host's architecture only" in info.value.brief
    assert info.value.resolution == (
        "Run 'rockpack pack --build-for arm64', which fetches them for arm64."
    )


def test_stage_packages_named_for_the_target_build_when_the_host_has_its_lists():
    check_foreign_targets(
        for_architecture(loaded(PACKAGED), "arm64").project, ARM64, "amd64", facts()
    )


def test_without_the_architecture_in_dpkg_the_user_is_told_what_to_run(monkeypatch):
    ran: list[str] = []
    monkeypatch.setattr(foreign, "prepare_managed_multiarch", ran.append)
    monkeypatch.setattr(targets, "prepare_managed_multiarch", ran.append)
    qualified = for_architecture(loaded(PACKAGED), "arm64").project
    with pytest.raises(PlatformError) as info:
        check_foreign_targets(qualified, ARM64, "amd64", facts(dpkg=("amd64",)))
    assert "dpkg lacks the arm64 architecture" in info.value.brief
    assert "stage-packages of 'p'" in info.value.brief
    assert "dpkg --add-architecture arm64 && apt-get update" in info.value.resolution
    assert "does not change this host's package setup" in info.value.resolution
    assert ran == []  # nothing done to this host


def test_without_package_lists_and_root_apt_get_update_is_asked_for():
    qualified = for_architecture(loaded(PACKAGED), "arm64").project
    with pytest.raises(PlatformError, match="no arm64 package lists") as info:
        check_foreign_targets(qualified, ARM64, "amd64", facts(lists=False))
    assert "apt-get update" in info.value.resolution
    check_foreign_targets(qualified, ARM64, "amd64", facts(lists=False, root=True))


def test_in_a_clean_instance_rockpack_adds_the_architecture_itself(monkeypatch):
    ran: list[str] = []
    monkeypatch.setattr(targets, "prepare_managed_multiarch", ran.append)
    qualified = for_architecture(loaded(PACKAGED), "arm64").project
    check_foreign_targets(qualified, ARM64, "amd64", facts(dpkg=("amd64",), managed=True))
    assert ran == ["arm64"]


SCRIPTED = CROSS.replace("base: bare", "base: debian@12").replace(
    "plugin: nil",
    "plugin: nil\n    override-build: craftctl default\n    overlay-script: echo hi",
)


def test_scriptlets_and_overlay_code_need_emulation():
    with pytest.raises(PlatformError) as info:
        check_foreign_targets(project(SCRIPTED), ARM64, "amd64", facts(emulation=False))
    assert "override-build, overlay-script" in info.value.brief
    assert "binfmt_misc is not mounted" in info.value.brief
    assert "update-binfmts --enable qemu-aarch64" in info.value.resolution
    check_foreign_targets(project(SCRIPTED), ARM64, "amd64", facts(emulation=True))


def test_what_would_give_this_hosts_binaries_is_refused_with_every_reason():
    text = CROSS.replace(
        "  p:\n    plugin: nil\n",
        "  p:\n    plugin: make\n    source: .\n"
        "  s:\n    plugin: nil\n    stage-snaps: [jq]\n"
        "  c:\n    plugin: nil\n    stage-packages: [libc6_libs]\n",
    )
    qualified = for_architecture(loaded(text), "arm64").project
    with pytest.raises(PlatformError) as info:
        check_foreign_targets(qualified, ARM64, "amd64", facts())
    assert info.value.brief == (
        "Platform 'arm64' (for arm64) cannot be built on this amd64 host, for 3 reasons."
    )
    assert info.value.details.splitlines() == [
        "- part 'p' uses the 'make' plugin, which builds with this host's toolchain: its "
        "binaries would be amd64's, not arm64's",
        "- part 's' has stage-snaps, fetched for amd64 only",
        "- part 'c' has chisel slices, which chisel cuts for amd64",
    ]
    assert "rockpack index" in info.value.resolution


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("busybox-static", "busybox-static:arm64"),
        ("libc6=2.36-9", "libc6:arm64=2.36-9"),
        ("busybox=1:1.35.0-4", "busybox:arm64=1:1.35.0-4"),
        ("tzdata:all", "tzdata:all"),
        ("hello:amd64", "hello:amd64"),
    ],
)
def test_stage_packages_are_named_for_the_target(item, expected):
    assert qualified_package(item, "arm64") == expected


def test_each_architecture_is_built_from_its_own_project():
    project_file = loaded(PACKAGED)
    groups = by_architecture(project_file, ["amd64", "arm64", "amd64"], host="amd64")
    assert [arch for arch, _ in groups] == ["amd64", "arm64"]
    assert groups[0][1] is project_file  # the host's build is the project as written
    assert groups[1][1].project.parts["p"]["stage-packages"] == ["busybox-static:arm64"]
    assert project_file.project.parts["p"]["stage-packages"] == ["busybox-static"]


# The build, checked for its architecture after it ran


def elf(arch: str, elf_type: int = ET_EXEC) -> bytes:
    return elf_header(arch, elf_type) + b"\0" * 64


def test_a_foreign_build_with_this_hosts_binaries_is_refused(tmp_path):
    prime = tmp_path / "prime"
    (prime / "usr/bin").mkdir(parents=True)
    (prime / "usr/bin/busybox").write_bytes(elf("arm64"))
    (prime / "usr/bin/hello").write_bytes(elf("amd64", ET_DYN))
    (prime / "usr/lib").mkdir()
    (prime / "usr/lib/module.o").write_bytes(elf("amd64", 1))  # relocatable: not run
    (prime / "usr/bin/link").symlink_to("hello")
    with pytest.raises(PackError) as info:
        check_built_for("arm64", "arm64", prime, {}, host="amd64")
    assert info.value.brief == (
        "Platform 'arm64' is for arm64, but the parts primed 1 amd64 binaries: usr/bin/hello."
    )
    assert "arm64 hardware" in info.value.resolution
    check_built_for("amd64", "amd64", prime, {}, host="amd64")  # a native build: no check


def test_a_stage_package_of_another_architecture_is_refused(tmp_path):
    prime, debs = tmp_path / "prime", tmp_path / "debs"
    prime.mkdir()
    debs.mkdir()
    (debs / "busybox-static_1%3a1.35.0-4_arm64.deb").write_bytes(b"")
    (debs / "tzdata_2024a-0_all.deb").write_bytes(b"")
    check_built_for("arm64", "arm64", prime, {"p": debs}, host="amd64")
    (debs / "perl-base_5.36.0-7_amd64.deb").write_bytes(b"")
    with pytest.raises(PackError) as info:
        check_built_for("arm64", "arm64", prime, {"p": debs}, host="amd64")
    assert "perl-base_5.36.0-7_amd64.deb (part 'p')" in info.value.brief
    assert "Multi-Arch: foreign" in info.value.details
    assert "Add those packages to the part's stage-packages" in info.value.resolution


# ELF headers and binfmt_misc


@pytest.mark.parametrize("arch", sorted(ELF_ARCHES))
def test_elf_headers_name_their_architecture(arch):
    kind = elf_kind(elf_header(arch, ET_DYN))
    assert kind is not None and (kind.arch, kind.elf_type) == (arch, ET_DYN)


def test_files_that_are_not_elf_have_no_architecture():
    assert elf_kind(b"#!/bin/sh\n" + b"\0" * 20) is None
    assert elf_kind(b"\x7fELF") is None


QEMU_AARCH64 = (
    "{state}\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: {flags}\n"
    "offset 0\nmagic 7f454c460201010000000000000000000200b700\n"
    "mask ffffffffffffff00fffffffffffffffffeffffff\n"
)


def binfmt(tmp_path: Path, *, state: str = "enabled", flags: str = "PF", entry: bool = True):
    directory = tmp_path / "binfmt_misc"
    directory.mkdir()
    (directory / "status").write_text("enabled\n")
    (directory / "register").write_text("")
    (directory / "python3.11").write_text(
        "enabled\ninterpreter /usr/bin/python3.11\nflags: \noffset 0\nmagic a70d0d0a\n"
    )
    if entry:
        (directory / "qemu-aarch64").write_text(QEMU_AARCH64.format(state=state, flags=flags))
    return directory


def test_emulation_with_an_enabled_handler_with_flag_f(tmp_path):
    found = emulation_for("arm64", "amd64", binfmt(tmp_path))
    assert found == Emulation("arm64", True, handler="qemu-aarch64")


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ({"entry": False}, "no binfmt_misc handler runs arm64 binaries (no qemu-aarch64 entry)"),
        ({"state": "disabled"}, "the binfmt_misc handler qemu-aarch64 is disabled"),
        ({"flags": "P"}, "the binfmt_misc handler qemu-aarch64 lacks flag F (fix-binary)"),
    ],
)
def test_emulation_says_why_it_is_unusable(tmp_path, setup, reason):
    found = emulation_for("arm64", "amd64", binfmt(tmp_path, **setup))
    assert not found.usable and found.reason.startswith(reason)
    assert found.enable_commands[-1] == "update-binfmts --enable qemu-aarch64"


def test_emulation_without_binfmt_misc_mounted(tmp_path):
    found = emulation_for("arm64", "amd64", tmp_path / "empty")
    assert found.reason == f"binfmt_misc is not mounted at {tmp_path / 'empty'}"


def test_the_host_and_what_its_cpu_runs_need_no_emulation(tmp_path):
    assert emulation_for("amd64", "amd64", tmp_path).usable
    assert emulation_for("i386", "amd64", tmp_path).usable
    assert not emulation_for("armhf", "amd64", binfmt(tmp_path)).usable  # aarch64 only
