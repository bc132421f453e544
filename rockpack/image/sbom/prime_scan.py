"""One walk of the prime dir: every file's size, and where each reader should look.

Symlinks are recorded (as files of size 0) but never followed; directories are walked
in sorted order, so everything found comes out in the same order on every machine.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from rockpack.image.sbom.npm import is_package_json

EXECUTABLE = 0o111
JAR_SUFFIXES = (".jar", ".war")


@dataclass
class PrimeFiles:
    sizes: dict[str, int] = field(default_factory=dict)  # every non-directory path
    dist_infos: list[str] = field(default_factory=list)  # '*.dist-info' directories
    package_jsons: list[str] = field(default_factory=list)  # node_modules/*/package.json
    executables: list[str] = field(default_factory=list)  # regular files with an x bit
    jars: list[str] = field(default_factory=list)


def scan_prime(prime_dir: Path) -> PrimeFiles:
    """What the prime dir holds, for the SBOM's readers."""
    found = PrimeFiles()
    pending = [""]
    while pending:
        directory = pending.pop()
        try:
            with os.scandir(prime_dir / directory) as listing:
                items = sorted(listing, key=lambda item: item.name)
        except OSError:
            continue
        below = []
        for item in items:
            path = f"{directory}/{item.name}" if directory else item.name
            st = item.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                below.append(path)
                if item.name.endswith(".dist-info"):
                    found.dist_infos.append(path)
                continue
            found.sizes[path] = st.st_size if stat.S_ISREG(st.st_mode) else 0
            if not stat.S_ISREG(st.st_mode):
                continue
            if st.st_mode & EXECUTABLE:
                found.executables.append(path)
            if item.name.endswith(JAR_SUFFIXES):
                found.jars.append(path)
            elif item.name == "package.json" and is_package_json(path):
                found.package_jsons.append(path)
        pending.extend(reversed(below))
    for listing_ in (found.dist_infos, found.package_jsons, found.executables, found.jars):
        listing_.sort()
    return found
