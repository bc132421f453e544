"""Which platforms of a project this host builds, and for which architecture.

A platform whose build-for is not this host's architecture (a foreign target) is built
here only when it can be built for real (see foreign.py); otherwise it is refused before
any part runs, saying why and what to do.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from rockpack.build.emulation import emulation_for
from rockpack.build.foreign import (
    HostFacts,
    Problem,
    dpkg_architectures,
    foreign_problems,
    has_apt_lists,
    prepare_managed_multiarch,
    qualified_package,
    stage_package_parts,
)
from rockpack.build.providers import is_managed
from rockpack.errors import PlatformError
from rockpack.project.architectures import host_arch
from rockpack.project.model import Project


@dataclass(frozen=True)
class BuildTarget:
    """One platform of the project, built on this host."""

    platform: str
    build_for: str


def build_targets(
    project: Project, *, platform: str | None, build_for: str | None, host: str | None = None
) -> list[BuildTarget]:
    """The platforms to build on this host, optionally narrowed by name or target."""
    host = host or host_arch()
    targets: list[BuildTarget] = []
    for label, spec in project.platforms.items():
        build_on = spec.build_on if spec else [label]
        target_arch = spec.build_for[0] if spec and spec.build_for else label
        if platform and label != platform:
            continue
        if build_for and target_arch != build_for:
            continue
        if host in build_on:
            targets.append(BuildTarget(platform=label, build_for=target_arch))
    if targets:
        return targets
    if platform and platform not in project.platforms:
        raise PlatformError(
            f"No platform named '{platform}' in the project.",
            resolution=f"Use one of: {', '.join(project.platforms)}.",
        )
    raise PlatformError(
        f"No platform of this project builds on this host's architecture ({host}).",
        resolution="Add it to a platform's 'build-on', or build on a matching machine.",
    )


def host_facts(host: str, arch: str) -> HostFacts:
    """This host's emulation, dpkg architectures and apt lists, for a build for ``arch``."""
    return HostFacts(
        host=host,
        arch=arch,
        emulation=emulation_for(arch, host),
        dpkg_arches=dpkg_architectures(),
        apt_lists=has_apt_lists(arch),
        root=os.geteuid() == 0,
        managed=is_managed(),
    )


def check_foreign_targets(
    project: Project,
    targets: list[BuildTarget],
    host: str | None = None,
    facts: Callable[[str, str], HostFacts] = host_facts,
) -> None:
    """Refuse each foreign target this host cannot build for real, before any part runs.

    A foreign target's stage-packages must be named for it (``pack`` does so); inside a
    clean instance its architecture is added to the instance's apt here.
    """
    host = host or host_arch()
    refused: list[tuple[BuildTarget, list[Problem]]] = []
    ready: list[HostFacts] = []
    for target in targets:
        if target.build_for == host:
            continue
        found = facts(host, target.build_for)
        problems = _unqualified(project, target) + foreign_problems(project, target.platform, found)
        if problems:
            refused.append((target, problems))
        else:
            ready.append(found)
    if refused:
        raise _refusal(refused, host)
    for found in ready:
        if found.managed and stage_package_parts(project) and found.arch not in found.dpkg_arches:
            prepare_managed_multiarch(found.arch)


def _unqualified(project: Project, target: BuildTarget) -> list[Problem]:
    """Stage-packages not named for the target: this host's would be fetched."""
    arch = target.build_for
    parts = [
        name
        for name, spec in project.parts.items()
        for item in spec.get("stage-packages") or []
        if isinstance(item, str) and qualified_package(item, arch) != item
    ]
    if not parts:
        return []
    return [
        Problem(
            f"the lifecycle commands fetch stage-packages (of {', '.join(sorted(set(parts)))}) "
            f"for this host's architecture only",
            f"Run 'rockpack pack --build-for {arch}', which fetches them for {arch}.",
        )
    ]


def _refusal(refused: list[tuple[BuildTarget, list[Problem]]], host: str) -> PlatformError:
    names = ", ".join(f"'{t.platform}' (for {t.build_for})" for t, _ in refused)
    problems = [problem for _, found in refused for problem in found]
    fixes = list(dict.fromkeys(problem.fix for problem in problems))
    brief = f"Platform {names} cannot be built on this {host} host"
    if len(problems) == 1:
        return PlatformError(f"{brief}: {problems[0].what}.", resolution=fixes[0])
    return PlatformError(
        f"{brief}, for {len(problems)} reasons.",
        details="\n".join(f"- {problem.what}" for problem in problems),
        resolution=" ".join(fixes),
    )
