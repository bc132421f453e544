"""Building a platform for another architecture on this host, and checking that it was.

craft-parts (2.x) fetches stage-packages for the host's architecture whatever it builds
for, so rockpack names each stage-package with the target's (``busybox-static:arm64``,
Debian multiarch): apt then fetches it and its dependencies for that architecture, from
the host's package lists, which hold them once the host's dpkg has the architecture.

What builds this way: parts whose plugin runs no compiler (nil, dump) and whose files
are the target's packages or architecture-independent sources. Scriptlets and the
overlay step may run the target's programs, so they need qemu-user emulation (see
emulation.py). Compiling plugins, stage-snaps and chisel slices would give this host's
binaries: they are refused before any part runs. After the build, every stage-package
and every ELF file primed is checked against the target: a rock never holds this host's
binaries under another architecture's name.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rockpack.build.emulation import ET_DYN, ET_EXEC, HEADER_SIZE, Emulation, elf_kind
from rockpack.errors import PackError, PlatformError
from rockpack.project.architectures import host_arch
from rockpack.project.model import LoadedProject, Project

# Plugins whose output is what the part's sources and stage-packages hold: no compiler.
NATIVE_PLUGINS = frozenset({"nil", "dump"})
SCRIPTLETS = ("override-pull", "override-build", "override-stage", "override-prime")
OVERLAY_CODE = ("overlay-packages", "overlay-script")
APT_LISTS = Path("/var/lib/apt/lists")
_SHOWN = 5  # examples named in an error


@dataclass(frozen=True)
class HostFacts:
    """What this host offers a build for ``arch``."""

    host: str
    arch: str
    emulation: Emulation
    dpkg_arches: frozenset[str]  # dpkg's native and foreign architectures
    apt_lists: bool  # apt has package lists for ``arch``
    root: bool  # craft-parts refreshes apt's lists itself when root
    managed: bool  # inside a clean instance, rockpack may change its apt itself


@dataclass(frozen=True)
class Problem:
    what: str
    fix: str


def dpkg_architectures() -> frozenset[str]:
    """The host's dpkg architectures, native and foreign; empty without dpkg."""
    dpkg = shutil.which("dpkg")
    if dpkg is None:
        return frozenset()
    found = set()
    for flag in ("--print-architecture", "--print-foreign-architectures"):
        result = subprocess.run([dpkg, flag], capture_output=True, text=True, check=False)
        found.update(result.stdout.split())
    return frozenset(found)


def has_apt_lists(arch: str, lists: Path = APT_LISTS) -> bool:
    return any(lists.glob(f"*_binary-{arch}_Packages*"))


def stage_package_parts(project: Project) -> list[str]:
    return [name for name, spec in project.parts.items() if spec.get("stage-packages")]


def foreign_problems(project: Project, platform: str, facts: HostFacts) -> list[Problem]:
    """Why ``project`` cannot be built for ``facts.arch`` here; [] when it can."""
    arch, host = facts.arch, facts.host
    elsewhere = (
        f"Build '{platform}' on {arch} hardware (a native CI runner, or an LXD remote of that "
        "architecture) and combine the rocks with 'rockpack index'."
    )
    problems = []
    for name, spec in project.parts.items():
        plugin = str(spec.get("plugin") or name)
        if plugin not in NATIVE_PLUGINS:
            problems.append(
                Problem(
                    f"part '{name}' uses the '{plugin}' plugin, which builds with this host's "
                    f"toolchain: its binaries would be {host}'s, not {arch}'s",
                    elsewhere,
                )
            )
        if spec.get("stage-snaps"):
            problems.append(
                Problem(f"part '{name}' has stage-snaps, fetched for {host} only", elsewhere)
            )
        if any("_" in str(item) for item in spec.get("stage-packages") or []):
            problems.append(
                Problem(f"part '{name}' has chisel slices, which chisel cuts for {host}", elsewhere)
            )
        runs = [key for key in (*SCRIPTLETS, *OVERLAY_CODE) if spec.get(key)]
        if runs and not facts.emulation.usable:
            problems.append(
                Problem(
                    f"part '{name}' has {', '.join(runs)}, which may run {arch} programs, and "
                    f"this host cannot run them: {facts.emulation.reason}",
                    "Enable qemu-user emulation, as root: "
                    + "; ".join(facts.emulation.enable_commands)
                    + f". Or: {elsewhere}",
                )
            )
    packaged = stage_package_parts(project)
    if packaged and not facts.managed:
        problems += _multiarch_problems(packaged, facts)
    return problems


def _multiarch_problems(parts: list[str], facts: HostFacts) -> list[Problem]:
    arch = facts.arch
    names = ", ".join(f"'{name}'" for name in parts)
    clean = "or pack without --destructive-mode, in a clean LXD instance where rockpack does it."
    if arch not in facts.dpkg_arches:
        return [
            Problem(
                f"this host's dpkg lacks the {arch} architecture, so apt has no {arch} "
                f"packages for the stage-packages of {names}",
                f"Run once, as root: dpkg --add-architecture {arch} && apt-get update "
                f"(rockpack does not change this host's package setup itself); {clean}",
            )
        ]
    if not facts.apt_lists and not facts.root:
        return [
            Problem(
                f"apt has no {arch} package lists yet for the stage-packages of {names}",
                f"Run, as root: apt-get update; {clean}",
            )
        ]
    return []


def prepare_managed_multiarch(arch: str) -> None:
    """Inside a clean instance: add ``arch`` to its dpkg and fetch its package lists."""
    for command in (["dpkg", "--add-architecture", arch], ["apt-get", "update", "--quiet"]):
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise PlatformError(
                f"Could not add the {arch} architecture in the build instance: "
                f"'{' '.join(command)}' failed.",
                details=(result.stderr or result.stdout)[-2000:],
                resolution="Check the instance's access to the package archive.",
            )


def qualified_package(item: str, arch: str) -> str:
    """``name[=version]`` as ``name:arch[=version]``; an explicit ``name:other`` is kept."""
    name, equals, version = item.partition("=")
    if ":" in name:
        return item
    return f"{name}:{arch}{equals}{version}"


def for_architecture(loaded: LoadedProject, arch: str) -> LoadedProject:
    """The project with every stage-package named for ``arch`` (Debian multiarch)."""
    parts: dict[str, dict[str, Any]] = {}
    for name, spec in loaded.project.parts.items():
        packages = spec.get("stage-packages")
        if packages:
            spec = {
                **spec,
                "stage-packages": [
                    qualified_package(item, arch) if isinstance(item, str) else item
                    for item in packages
                ],
            }
        parts[name] = spec
    return replace(loaded, project=loaded.project.model_copy(update={"parts": parts}))


def by_architecture(
    loaded: LoadedProject, arches: list[str], host: str | None = None
) -> list[tuple[str, LoadedProject]]:
    """Each architecture once, with the project as it is built for it."""
    host = host or host_arch()
    return [
        (arch, loaded if arch == host else for_architecture(loaded, arch))
        for arch in dict.fromkeys(arches)
    ]


def check_built_for(
    platform: str,
    arch: str,
    prime_dir: Path,
    package_dirs: dict[str, Path],
    host: str | None = None,
) -> None:
    """Refuse a foreign build whose stage-packages or primed binaries are not ``arch``'s."""
    host = host or host_arch()
    if arch == host:
        return
    debs = [
        f"{deb.name} (part '{part}')"
        for part, directory in sorted(package_dirs.items())
        for deb in sorted(directory.glob("*.deb"))
        if deb.stem.rpartition("_")[2] not in (arch, "all")
    ]
    if debs:
        raise PackError(
            f"Platform '{platform}' is for {arch}, but apt fetched {len(debs)} stage-packages "
            f"for another architecture: {', '.join(debs[:_SHOWN])}"
            + (", ..." if len(debs) > _SHOWN else "")
            + ".",
            details="apt satisfies a 'Multi-Arch: foreign' dependency with the host's package.",
            resolution=f"Add those packages to the part's stage-packages (rockpack fetches "
            f"them for {arch} then), or build '{platform}' on {arch} hardware.",
        )
    binaries = list(_binaries_of(prime_dir, host))
    if binaries:
        raise PackError(
            f"Platform '{platform}' is for {arch}, but the parts primed {len(binaries)} "
            f"{host} binaries: {', '.join(binaries[:_SHOWN])}"
            + (", ..." if len(binaries) > _SHOWN else "")
            + ".",
            details="A part built or copied this host's programs; the rock would not run "
            f"on {arch}.",
            resolution=f"Have the part install {arch} binaries (stage-packages, or a "
            f"cross-compiler), or build '{platform}' on {arch} hardware.",
        )


def _binaries_of(prime_dir: Path, arch: str) -> Iterator[str]:
    """Primed executables and shared objects (ELF) of ``arch``, by path under prime."""
    for directory, dirs, files in os.walk(prime_dir):
        dirs.sort()
        for name in sorted(files):
            path = Path(directory, name)
            if path.is_symlink() or not path.is_file():
                continue
            try:
                with path.open("rb") as handle:
                    kind = elf_kind(handle.read(HEADER_SIZE))
            except OSError:
                continue
            if kind is not None and kind.arch == arch and kind.elf_type in (ET_EXEC, ET_DYN):
                yield str(path.relative_to(prime_dir))
