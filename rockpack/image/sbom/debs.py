"""The Debian packages the parts put in the rock: stage-packages and overlay-packages.

stage-packages are the .deb files craft-parts downloaded into each part's
``stage_packages`` dir: each one's control gives the package, its data the files it
installs and its copyright file the licence (read in the one pass ``build/deb_contents``
makes, which also finds the special modes). overlay-packages were installed with apt
over the base, so dpkg's own status in the prime dir lists them, and its ``info/*.list``
files their paths.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rockpack.build.deb_contents import deb_contents
from rockpack.errors import LifecycleError
from rockpack.image.sbom.debian_copyright import copyright_license
from rockpack.image.sbom.dpkg import DebPackage, installed_packages

PRIME_STATUS = "var/lib/dpkg/status"
PRIME_INFO = "var/lib/dpkg/info"
MAX_LIST_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class PartDeb:
    """A package a part put in the rock, with the paths it installs (prime-relative)."""

    package: DebPackage
    files: frozenset[str]
    license: str | None = None
    sha256: str = ""  # of the .deb, for stage-packages


def staged_debs(stage_package_dir: Path) -> list[PartDeb]:
    """Every .deb in one part's stage_packages dir, by file name."""
    return [read_deb(deb) for deb in sorted(stage_package_dir.glob("*.deb"))]


def read_deb(deb: Path) -> PartDeb:
    """A .deb's control, its data's paths and its copyright licence."""
    contents = deb_contents(deb)
    packages = installed_packages(contents.control)
    if not packages:
        raise LifecycleError(
            f"Cannot read the package {deb.name} for the rock's SBOM: its control names no "
            "package and version.",
            resolution="Run 'rockpack clean' to download the stage-packages again.",
        )
    licence = copyright_license(contents.copyright) if contents.copyright is not None else None
    return PartDeb(packages[0], frozenset(contents.files), licence, contents.sha256)


def overlay_debs(prime_dir: Path, base_packages: Iterable[DebPackage]) -> list[PartDeb]:
    """Packages dpkg's status in the prime dir lists that the base does not have (the
    overlay step installed or upgraded them); [] when no overlay touched the status."""
    status = prime_dir / PRIME_STATUS
    if not status.is_file() or status.is_symlink():
        return []
    known = {(p.name, p.architecture, p.version) for p in base_packages}
    found = []
    for package in installed_packages(_read(status).decode("utf-8", "replace")):
        if (package.name, package.architecture, package.version) in known:
            continue
        files = _listed_files(prime_dir, package)
        copyright_file = prime_dir / "usr/share/doc" / package.name / "copyright"
        licence = None
        if copyright_file.is_file() and not copyright_file.is_symlink():
            licence = copyright_license(_read(copyright_file).decode("utf-8", "replace"))
        found.append(PartDeb(package, files, licence))
    return found


def _listed_files(prime_dir: Path, package: DebPackage) -> frozenset[str]:
    for name in (f"{package.name}:{package.architecture}.list", f"{package.name}.list"):
        listing = prime_dir / PRIME_INFO / name
        if listing.is_file() and not listing.is_symlink():
            lines = _read(listing).decode("utf-8", "surrogateescape").splitlines()
            return frozenset(line.strip().lstrip("/") for line in lines if line.strip("/ "))
    return frozenset()


def _read(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(MAX_LIST_BYTES)
