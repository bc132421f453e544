"""Language packages, Go programs, jars and Pebble found in the prime dir, as components.

Each is owned by the part that primed its metadata file (or the file itself), and
records what it claims: the files a Python distribution's RECORD lists, an npm
package's whole directory, a Go program's or a jar's own file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rockpack.image.sbom.go_modules import GoDependency, read_go_program
from rockpack.image.sbom.jars import read_jar
from rockpack.image.sbom.model import Component
from rockpack.image.sbom.npm import read_package_json
from rockpack.image.sbom.prime_scan import PrimeFiles
from rockpack.image.sbom.purl import generic_purl, golang_purl, maven_purl, npm_purl, pypi_purl
from rockpack.image.sbom.python_dists import read_dist_info

PEBBLE_PATH = "usr/bin/pebble"
Owner = Callable[[str], str]  # a prime path -> the part that primed it


@dataclass
class Claims:
    """Prime paths some package claims: files, and directories with all below them."""

    files: set[str] = field(default_factory=set)
    directories: set[str] = field(default_factory=set)

    def cover(self, path: str) -> bool:
        if path in self.files:
            return True
        parent = path.rpartition("/")[0]
        while parent:
            if parent in self.directories:
                return True
            parent = parent.rpartition("/")[0]
        return False


def python_components(
    root: Path, prime: PrimeFiles, owner: Owner, claims: Claims
) -> list[Component]:
    found = []
    for directory in prime.dist_infos:
        dist = read_dist_info(root, directory)
        if dist is None:
            continue
        claims.files.update(dist.files)
        claims.directories.add(directory)
        purl = pypi_purl(dist.name, dist.version)
        where = owner(f"{directory}/METADATA")
        found.append(
            Component(where, "pypi", dist.name, dist.version, directory, purl, dist.license)
        )
    return found


def npm_components(root: Path, prime: PrimeFiles, owner: Owner, claims: Claims) -> list[Component]:
    found = []
    for path in prime.package_jsons:
        package = read_package_json(root, path)
        if package is None:
            continue
        claims.directories.add(package.directory)
        purl = npm_purl(package.name, package.version)
        found.append(
            Component(
                owner(path),
                "npm",
                package.name,
                package.version,
                package.directory,
                purl,
                package.license,
            )
        )
    return found


def go_components(
    root: Path,
    prime: PrimeFiles,
    owner: Owner,
    claims: Claims,
    *,
    listed: frozenset[str] = frozenset(),
) -> list[Component]:
    """Each Go program's main module, the Go standard library it was built with, and
    its dependency modules; the program's main module depends on the other two. A
    program ``listed`` already (Pebble, by its release) gets only its modules."""
    found = []
    uses: list[tuple[str, str, GoDependency]] = []  # (part, program, module)
    for path in prime.executables:
        program = read_go_program(root, path)
        if program is None:
            continue
        part = owner(path)
        if path not in listed:
            claims.files.add(path)
            version = "" if program.module_version == "(devel)" else program.module_version
            found.append(
                Component(
                    part,
                    "golang",
                    program.module,
                    version,
                    path,
                    golang_purl(program.module, program.module_version),
                    sha256=file_sha256(root / path),
                    purpose="APPLICATION",
                )
            )
        stdlib = program.go_version.split()[0].removeprefix("go") if program.go_version else ""
        for dep in ((GoDependency("stdlib", stdlib, ""),) if stdlib else ()) + program.deps:
            uses.append((part, path, dep))
    return found + _go_modules(uses)


def _go_modules(uses: list[tuple[str, str, GoDependency]]) -> list[Component]:
    """One component per part and module built, whichever programs of the part use it
    (their sums merged: they differ only in vendored or hostile builds)."""
    merged: dict[tuple[str, str, str, str], tuple[set[str], set[str]]] = {}
    for part, program, dep in uses:
        sums, using = merged.setdefault((part, dep.module, dep.version, dep.note), (set(), set()))
        sums.update({dep.sum} - {""})
        using.add(program)
    found = []
    for (part, module, version, note), (sums, using) in sorted(merged.items()):
        checksum = f"Go module checksum (go.sum) {', '.join(sorted(sums))}." if sums else ""
        found.append(
            Component(
                part,
                "golang",
                module,
                version,
                purl=golang_purl(module, version),
                comment=" ".join(text for text in (note, checksum) if text),
                dependency_of=tuple(sorted(using)),
            )
        )
    return found


def java_components(root: Path, prime: PrimeFiles, owner: Owner, claims: Claims) -> list[Component]:
    """Maven artifacts (with a group), or jars named only by their manifest."""
    found = []
    for path in prime.jars:
        artifacts = read_jar(root, path)
        if artifacts:
            claims.files.add(path)
        for artifact in artifacts:
            if artifact.group:
                name = f"{artifact.group}:{artifact.artifact}"
                purl = maven_purl(artifact.group, artifact.artifact, artifact.version)
            else:
                name, purl = artifact.artifact, ""
            ecosystem = "maven" if artifact.group else "java"
            found.append(
                Component(
                    owner(path),
                    ecosystem,
                    name,
                    artifact.version,
                    artifact.path,
                    purl,
                    artifact.license,
                )
            )
    return found


def pebble_component(root: Path, version: str, owner: Owner, claims: Claims) -> Component | None:
    """The Pebble at /usr/bin/pebble, with its version and digest."""
    digest = file_sha256(root / PEBBLE_PATH)
    if not digest:
        return None
    claims.files.add(PEBBLE_PATH)
    purl = generic_purl("pebble", version, digest)
    return Component(
        owner(PEBBLE_PATH),
        "generic",
        "pebble",
        version,
        PEBBLE_PATH,
        purl,
        sha256=digest,
        purpose="APPLICATION",
    )


def file_sha256(path: Path) -> str:
    """The sha256 of a regular file (not followed through a symlink), or ''."""
    digest = hashlib.sha256()
    try:
        if path.is_symlink():
            return ""
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return ""
    return digest.hexdigest()
