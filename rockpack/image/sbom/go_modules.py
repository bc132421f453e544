"""Go programs in the prime dir: the main module, the Go toolchain and the dependency
modules, from the build info the Go linker embeds, read with Pebble's reader
(``rockpack/pebble/go_buildinfo.py``) out of the ELF file, never by running it.

A dependency is named as Syft and Trivy name it, by what was built: when a go.mod
``replace`` directive swapped in another module, that module (and its version). A
directory replacement (``=> ./greet``) is the exception: its path is a path on the
build host (no module name, and a host path the SBOM must not carry) and its code has no
version, so the dependency keeps the path it was required by, without a version, and a
note says which version the directory stood in for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rockpack.pebble.elf import ElfFormatError, is_elf, read_elf
from rockpack.pebble.go_buildinfo import GoModule, find_build_info

NO_VERSION = ("", "(devel)")  # a build from a checkout or a directory


@dataclass(frozen=True)
class GoDependency:
    """A module linked into a Go program, as the SBOM names it."""

    module: str  # golang.org/x/sys
    version: str  # v0.46.0; "" when unknown (a directory replacement)
    sum: str  # go.sum's h1: hash of what was built, or ""
    note: str = ""  # how a replace directive changed it, or ""


@dataclass(frozen=True)
class GoProgram:
    path: str  # prime-relative
    go_version: str  # go1.22.1
    module: str  # the main module
    module_version: str  # v1.2.3, or (devel)
    deps: tuple[GoDependency, ...] = ()


def read_go_program(prime_dir: Path, path: str) -> GoProgram | None:
    """The Go build info of the ELF file at ``path``, or None if it is not a Go program
    (or its build info is of Go before 1.18, or damaged)."""
    file = prime_dir / path
    try:
        with file.open("rb") as handle:
            if not is_elf(handle.read(4)):
                return None
        info = find_build_info(read_elf(file).buildinfo_region)
    except (OSError, ElfFormatError, ValueError):  # OldBuildInfoError is a ValueError
        return None
    if info is None or not info.module:
        return None
    deps = tuple(go_dependency(dep) for dep in info.deps)
    return GoProgram(path, info.go_version, info.module, info.module_version, deps)


def go_dependency(dep: GoModule) -> GoDependency:
    """What was built for a ``dep`` line (and the ``=>`` line replacing it)."""
    new = dep.replace
    if new is None:
        return GoDependency(dep.path, _version(dep.version), dep.sum)
    if is_directory(new.path) or new.version in NO_VERSION:
        required = f" in place of {dep.version}" if dep.version not in NO_VERSION else ""
        note = f"Built from a local directory{required} (a go.mod replace directive)."
        return GoDependency(dep.path, "", "", note)
    required = f"{dep.path} {dep.version}".strip()
    note = f"Replaces {required} (a go.mod replace directive)."
    return GoDependency(new.path, _version(new.version), new.sum, note)


def is_directory(path: str) -> bool:
    """A replacement that is a file path, as Go's ``modfile.IsDirectoryPath`` tells it:
    relative (``./x``, ``../x``) or absolute, on Unix or Windows."""
    return (
        path in (".", "..")
        or path.startswith(("./", "../", "/", ".\\", "..\\", "\\"))
        or (len(path) >= 3 and path[0].isalpha() and path[1] == ":" and path[2] in "/\\")
    )


def _version(version: str) -> str:
    return "" if version in NO_VERSION else version
