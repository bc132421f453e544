"""The values the SBOM is made of: packages found, and files no package claims."""

from __future__ import annotations

from dataclasses import dataclass

BASE = "base"  # the owner of the base image's packages
UNATTRIBUTED = ""  # the owner of what no part's prime state lists


@dataclass(frozen=True, order=True)
class Component:
    """One package in the rock."""

    owner: str  # BASE, a part's name, or UNATTRIBUTED
    ecosystem: str  # deb, pypi, npm, golang, maven, java, generic
    name: str
    version: str
    location: str = ""  # where its metadata (or its file) is in the rock
    purl: str = ""
    license: str | None = None  # an SPDX expression; None: no assertion
    sha256: str = ""  # hex digest of the package's own file, when it is one file
    purpose: str = "LIBRARY"  # SPDX primaryPackagePurpose
    source: str = ""  # a Debian package's source package and version
    comment: str = ""  # more about it, for people (a Go module's checksum, its replacement)
    # the prime paths of the programs (components of the same owner, located there) that
    # depend on it: a Go program's modules
    dependency_of: tuple[str, ...] = ()


@dataclass(frozen=True)
class Unclaimed:
    """Files of one part that no package claims, summarised."""

    files: int
    size: int
    top: tuple[tuple[str, int], ...]  # the directories holding most of them, with counts

    def describe(self) -> str:
        where = ", ".join(f"{directory or '/'} ({count})" for directory, count in self.top)
        noun = "file" if self.files == 1 else "files"
        return f"{self.files} {noun} ({self.size} bytes) that no package claims" + (
            f", in {where}" if where else ""
        )
