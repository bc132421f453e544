"""Building on this host (destructive mode): the checks it needs.

Clean builds run this same code inside an LXD instance (rockpack.lxd); the command line
chooses between the two before anything here runs.
"""

from __future__ import annotations

import os

import distro

from rockpack.errors import ProviderError

MANAGED_ENV = "ROCKPACK_MANAGED"  # set inside a clean-build instance


def is_managed() -> bool:
    """Whether this run is the inner rockpack of a clean build."""
    return os.environ.get(MANAGED_ENV) == "1"


def host_base() -> str:
    """This host's system as a base name, e.g. 'debian@12' or 'ubuntu@24.04'."""
    os_id = distro.id()
    version = distro.version(best=False)
    if os_id == "debian":
        version = version.split(".")[0]
    return f"{os_id}@{version}"


def require_destructive_mode(destructive_mode: bool) -> None:
    """Building here changes this host (packages, files), so it must be asked for."""
    if not destructive_mode:
        raise ProviderError(
            "Building on this host needs --destructive-mode.",
            resolution="Pass --destructive-mode, or build in a clean LXD instance with --use-lxd.",
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
