"""Chisel for parts with slices, checked before any part runs.

craft-parts cuts slices with the ``chisel`` on PATH; when no part lists chisel in its
build-snaps it also installs the chisel snap through snapd, as Rockcraft does. rockpack
uses a chisel already on PATH instead (rockpack.build.lifecycle drops that snap then),
and refuses, in one message and before building, when there is neither chisel nor snapd.
chisel cuts slices of an Ubuntu release, the one the build system runs.
"""

from __future__ import annotations

import shutil
from typing import Any

from rockpack.build.snaps import Snapd, SnapUse, snapd_problem
from rockpack.errors import ProviderError

CHISEL_SNAP = "chisel@latest/stable"  # what craft-parts adds for slices
RELEASES_PAGE = "https://github.com/canonical/chisel/releases"


def slices_of(parts: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """Each part's slices: stage-slices, build-slices, and PKG_SLICE names in stage-packages."""
    found = {}
    for name, part in parts.items():
        slices = [str(s) for s in part.get("stage-slices") or []]
        slices += [str(s) for s in part.get("build-slices") or []]
        slices += [str(p) for p in part.get("stage-packages") or [] if "_" in str(p)]
        if slices:
            found[name] = slices
    return found


def declares_chisel_snap(parts: dict[str, dict[str, Any]]) -> bool:
    return any(
        SnapUse(name, "build-snaps", str(spec)).name == "chisel"
        for name, part in parts.items()
        for spec in part.get("build-snaps") or []
    )


def chisel_on_path() -> str | None:
    return shutil.which("chisel")


def chisel_snap_uses(parts: dict[str, dict[str, Any]]) -> list[SnapUse]:
    """The chisel snap craft-parts will install: when parts have slices and no chisel is here."""
    slices = slices_of(parts)
    if not slices or chisel_on_path() or declares_chisel_snap(parts):
        return []
    part = next(iter(slices))
    return [SnapUse(part, "slices", CHISEL_SNAP)]


def check_slices_build_base(parts: dict[str, dict[str, Any]], build_base: str) -> None:
    """chisel cuts slices of the Ubuntu release it runs on: the build-base must be Ubuntu."""
    slices = slices_of(parts)
    if slices and not build_base.startswith("ubuntu@"):
        listed = "; ".join(f"part '{p}': {', '.join(s)}" for p, s in slices.items())
        raise ProviderError(
            f"The parts use chisel slices ({listed}), which chisel cuts from an Ubuntu "
            f"release; this project builds on {build_base}.",
            resolution="Build on an ubuntu@22.04 or newer build-base, or stage whole "
            "packages instead of slices.",
        )


def check_chisel(
    parts: dict[str, dict[str, Any]], build_base: str, *, managed: bool, snapd: Snapd
) -> None:
    """Raise unless the parts' slices can be cut in this build environment."""
    slices = slices_of(parts)
    if not slices:
        return
    check_slices_build_base(parts, build_base)
    listed = "; ".join(f"part '{p}': {', '.join(s)}" for p, s in slices.items())
    if chisel_on_path() or declares_chisel_snap(parts):
        return
    problem = snapd_problem(snapd)
    if problem is None:
        return  # craft-parts installs the chisel snap
    where = "in the build instance" if managed else "on this host"
    install = f"'snap install chisel', or a chisel binary from {RELEASES_PAGE} on PATH"
    raise ProviderError(
        f"The parts use chisel slices ({listed}), and there is no chisel {where}: no "
        f"'chisel' on PATH, and no snapd to install the chisel snap ({problem}).",
        resolution=f"Install chisel on the host that runs the clean build ({install})."
        if managed
        else f"Install chisel ({install}), or build in a clean LXD instance (leave out "
        "--destructive-mode), which brings chisel in.",
    )
