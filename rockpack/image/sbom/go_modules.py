"""Go programs in the prime dir: the main module (and the Go toolchain) from the build
info the Go linker embeds, read with Pebble's reader (``rockpack/pebble/go_buildinfo.py``)
out of the ELF file, never by running it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rockpack.pebble.elf import ElfFormatError, is_elf, read_elf
from rockpack.pebble.go_buildinfo import find_build_info


@dataclass(frozen=True)
class GoProgram:
    path: str  # prime-relative
    go_version: str  # go1.22.1
    module: str  # the main module
    module_version: str  # v1.2.3, or (devel)


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
    return GoProgram(path, info.go_version, info.module, info.module_version)
