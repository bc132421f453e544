"""Whether a command builds in a clean LXD instance, and cleaning the project's instances."""

from __future__ import annotations

from pathlib import Path

from rockpack.build.providers import is_managed
from rockpack.errors import ProviderError, RockpackError
from rockpack.lxd.clean_build import clean_instances
from rockpack.lxd.lxc import Lxc, LxdUnusableError
from rockpack.project.model import load_project


def use_clean_instance(*, destructive_mode: bool, use_lxd: bool) -> bool:
    """By default a build runs in LXD when LXD is usable; --use-lxd insists on it."""
    if is_managed() or destructive_mode:
        return False
    try:
        Lxc().check_usable()
    except LxdUnusableError as err:
        if use_lxd:
            raise
        raise ProviderError(
            f"No clean build environment: {err.brief}",
            details=err.details,
            resolution=f"{(err.resolution or '').rstrip('.')}; or build on this host with "
            "--destructive-mode.",
            retcode=2,
        ) from err
    return True


def clean_lxd(project_dir: Path, *, everything: bool) -> str | None:
    """Remove the project's instance (and, with ``everything``, bases and images)."""
    if is_managed():
        return None
    lxc = Lxc()
    try:
        lxc.check_usable()
    except LxdUnusableError:
        if everything:
            raise
        return None  # no LXD: nothing of ours can be there
    try:
        name = load_project(project_dir).project.name
    except RockpackError:
        name = ""
    clean_instances(lxc, name, project_dir, everything=everything)
    return "Removed the clean-build instance" + (
        ", base instances and images." if everything else "."
    )
