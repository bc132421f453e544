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


def refuse_foreign_targets(targets: list[BuildTarget], host: str | None = None) -> None:
    """A rock for another architecture needs that architecture's packages and binaries.

    Until such a build really runs for its target, it is refused: a rock whose config
    says arm64 while it holds this host's binaries would be a wrong image.
    """
    host = host or host_arch()
    foreign = [t for t in targets if t.build_for != host]
    if foreign:
        names = ", ".join(f"'{t.platform}' (for {t.build_for})" for t in foreign)
        raise PlatformError(
            f"Platform {names} builds for another architecture than this host's ({host}), "
            "which rockpack cannot build yet: its packages and binaries would be this host's.",
            resolution=f"Build it on a {foreign[0].build_for} machine (or a clean LXD instance "
            f"of that architecture) and assemble the rocks there, or pass --build-for {host}.",
        )
