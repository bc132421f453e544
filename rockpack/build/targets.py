"""Which platforms of a project this host builds, and for which architecture."""

from __future__ import annotations

from dataclasses import dataclass

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
