"""What the build environment must offer before any part runs: package-repositories it may
apply, snapd for snaps, chisel for slices. Checked in the plan, so that a project this
environment cannot build fails in seconds, with the fix.
"""

from __future__ import annotations

from rockpack.build.chisel import check_chisel, chisel_snap_uses
from rockpack.build.providers import is_managed
from rockpack.build.repositories import check_key_files
from rockpack.build.snaps import Snapd, SnapUse, check_snapd, check_snaps_available, snaps_of
from rockpack.project.model import LoadedProject
from rockpack.project.repositories import check_applicable, repositories_of


def snaps_needed(loaded: LoadedProject) -> list[SnapUse]:
    """The snaps craft-parts will install or download: the parts' own, and chisel's."""
    parts = loaded.project.parts
    return snaps_of(parts) + chisel_snap_uses(parts)


def check_build_environment(loaded: LoadedProject, *, apply_on_host: bool) -> None:
    """Raise, before anything is built, what this environment lacks for the project."""
    project = loaded.project
    managed = is_managed()
    build_base = project.effective_build_base
    check_applicable(
        repositories_of(project.package_repositories),
        build_base,
        managed=managed,
        apply_on_host=apply_on_host,
    )
    check_key_files(project.package_repositories, loaded.project_dir)
    snapd = Snapd()
    check_chisel(project.parts, build_base, managed=managed, snapd=snapd)
    check_snapd(snaps_needed(loaded), managed=managed, snapd=snapd)


def check_snaps_installable(loaded: LoadedProject) -> None:
    """Before the lifecycle: each needed snap is installed, or the store has it."""
    uses = snaps_needed(loaded)
    if uses:
        check_snaps_available(uses)
