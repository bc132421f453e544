"""Where parts are built. Today: this host (destructive mode) only."""

from __future__ import annotations

import distro

from rockpack.errors import ProviderError


def host_base() -> str:
    """This host's system as a base name, e.g. 'debian@12' or 'ubuntu@24.04'."""
    os_id = distro.id()
    version = distro.version(best=False)
    if os_id == "debian":
        version = version.split(".")[0]
    return f"{os_id}@{version}"


def require_destructive_mode(destructive_mode: bool) -> None:
    """Clean builds need an isolated instance; until they exist, say how to proceed."""
    if not destructive_mode:
        raise ProviderError(
            "Clean builds (in an LXD instance) are not available yet.",
            resolution="Build on this host with --destructive-mode.",
            retcode=2,
        )


def check_host_matches(build_base: str) -> None:
    """A destructive build installs and stages packages from this host's archive."""
    host = host_base()
    if build_base == "devel" and host.startswith("ubuntu@"):
        return
    if build_base != host:
        raise ProviderError(
            f"The project builds on {build_base}, but this host is {host}.",
            details="In destructive mode parts are built with this host's tools and packages, "
            "so the rock would not match its build-base.",
            resolution=f"Set 'build-base: {host}' if that suits the project, or build on a "
            f"{build_base} machine.",
        )
