"""Everything the parts put in the prime dir, as packages owned by parts.

Sources: the .debs each part staged, the packages the overlay step installed, and the
language packages, Go programs, jars and Pebble found in the prime dir. A package
found in the prime dir belongs to the part that primed its metadata file (craft-parts'
prime states say which; the first part in layer order wins a path two parts primed).
Every primed file (or symlink) no package claims is counted for its part.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rockpack.image.sbom.debs import PartDeb, overlay_debs, staged_debs
from rockpack.image.sbom.dpkg import DebPackage, Distro
from rockpack.image.sbom.language import (
    PEBBLE_PATH,
    Claims,
    go_components,
    java_components,
    npm_components,
    pebble_component,
    python_components,
)
from rockpack.image.sbom.model import BASE, UNATTRIBUTED, Component, Unclaimed
from rockpack.image.sbom.prime_scan import PrimeFiles, scan_prime
from rockpack.image.sbom.purl import deb_purl
from rockpack.layer.origins import part_order

TOP_DIRECTORIES = 5  # listed in a part's summary of unclaimed files


@dataclass(frozen=True)
class PrimeInputs:
    """What the lifecycle left, and what the SBOM needs to name its packages."""

    prime_dir: Path
    primed_by_part: Mapping[str, frozenset[str]]
    stage_package_dirs: Mapping[str, Path]
    parts: Mapping[str, Mapping[str, Any]]  # the project's parts (their overlay-packages)
    build_distro: Distro | None  # stage-packages come from the build base's archive
    base_distro: Distro | None  # overlay-packages from the base's
    base_packages: list[DebPackage] = field(default_factory=list)
    pebble_version: str | None = None  # when rockpack's Pebble is at usr/bin/pebble


@dataclass(frozen=True)
class Inventory:
    components: list[Component]
    unclaimed: dict[str, Unclaimed]  # by part name (UNATTRIBUTED: no part lists them)


class Owners:
    """Which part primed a path (for a file in a jar, ``x.jar!/...``, the jar's part)."""

    def __init__(
        self, primed_by_part: Mapping[str, frozenset[str]], parts: Mapping[str, Any]
    ) -> None:
        self.by_path: dict[str, str] = {}
        for name in part_order(parts, primed_by_part):
            for path in primed_by_part.get(name, ()):
                self.by_path.setdefault(path, name)

    def of(self, path: str) -> str:
        return self.by_path.get(path.split("!/", 1)[0], UNATTRIBUTED)


def prime_inventory(inputs: PrimeInputs) -> Inventory:
    """The packages the parts put in the rock, and per part the files no package claims."""
    root = inputs.prime_dir
    prime = scan_prime(root)
    owners = Owners(inputs.primed_by_part, inputs.parts)
    claims = Claims()
    components = _deb_components(inputs, prime, owners, claims)
    pebble = None
    if inputs.pebble_version is not None and PEBBLE_PATH in prime.sizes:
        pebble = pebble_component(root, inputs.pebble_version, owners.of, claims)
    components += [pebble] if pebble else []
    components += python_components(root, prime, owners.of, claims)
    components += npm_components(root, prime, owners.of, claims)
    listed = frozenset({PEBBLE_PATH} if pebble else ())
    components += go_components(root, prime, owners.of, claims, listed=listed)
    components += java_components(root, prime, owners.of, claims)
    return Inventory(sorted(set(components)), _unclaimed(prime, owners, claims))


def base_components(
    packages: Iterable[DebPackage], licenses: Mapping[str, str], distro: Distro | None
) -> list[Component]:
    """The base image's packages, owned by the base."""
    return sorted(
        {
            deb_component(PartDeb(package, frozenset(), licenses.get(package.name)), BASE, distro)
            for package in packages
        }
    )


def deb_component(deb: PartDeb, owner: str, distro: Distro | None) -> Component:
    package = deb.package
    vendor, release = (distro.vendor, distro.release) if distro else ("debian", "")
    return Component(
        owner=owner,
        ecosystem="deb",
        name=package.name,
        version=package.version,
        purl=deb_purl(vendor, package.name, package.version, package.architecture, release),
        license=deb.license,
        sha256=deb.sha256,
        source=" ".join(p for p in (package.source, package.source_version) if p),
    )


def _deb_components(
    inputs: PrimeInputs, prime: PrimeFiles, owners: Owners, claims: Claims
) -> list[Component]:
    found = []
    for part, directory in sorted(inputs.stage_package_dirs.items()):
        for deb in staged_debs(directory):
            if deb.files and not any(path in prime.sizes for path in deb.files):
                continue  # the part's stage or prime filters left none of it in the rock
            claims.files.update(deb.files)
            found.append(deb_component(deb, part, inputs.build_distro))
    for deb in overlay_debs(inputs.prime_dir, inputs.base_packages):
        claims.files.update(deb.files)
        found.append(deb_component(deb, _overlay_owner(deb, inputs, owners), inputs.base_distro))
    return found


def _overlay_owner(deb: PartDeb, inputs: PrimeInputs, owners: Owners) -> str:
    """The part naming the package in overlay-packages; else the part that primed its
    dpkg file list; else the first part with overlay-packages."""
    with_overlay = [n for n, spec in inputs.parts.items() if spec.get("overlay-packages")]
    for name in with_overlay:
        if deb.package.name in (inputs.parts[name].get("overlay-packages") or []):
            return name
    package = deb.package
    for listing in (f"{package.name}.list", f"{package.name}:{package.architecture}.list"):
        owner = owners.of(f"var/lib/dpkg/info/{listing}")
        if owner != UNATTRIBUTED:
            return owner
    return with_overlay[0] if with_overlay else UNATTRIBUTED


def _unclaimed(prime: PrimeFiles, owners: Owners, claims: Claims) -> dict[str, Unclaimed]:
    totals: dict[str, tuple[int, int]] = {}
    where: dict[str, Counter[str]] = {}
    for path, size in prime.sizes.items():
        if claims.cover(path):
            continue
        owner = owners.of(path)
        files, size_so_far = totals.get(owner, (0, 0))
        totals[owner] = (files + 1, size_so_far + size)
        where.setdefault(owner, Counter())["/".join(path.split("/")[:-1][:2])] += 1
    summaries = {}
    for owner, (files, size) in sorted(totals.items()):
        ranked = sorted(where[owner].items(), key=lambda item: (-item[1], item[0]))
        summaries[owner] = Unclaimed(files, size, tuple(ranked[:TOP_DIRECTORIES]))
    return summaries
