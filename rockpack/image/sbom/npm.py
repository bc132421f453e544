"""npm packages in the prime dir: ``node_modules/<name>/package.json`` and
``node_modules/@scope/<name>/package.json``, at any depth of nesting.

A ``package.json`` elsewhere inside a package (some ship one per sub-directory for
their ``exports``) is not a package of its own and is skipped. A package claims every
file under its directory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rockpack.image.sbom.licenses import npm_license

MAX_PACKAGE_JSON = 1024 * 1024


@dataclass(frozen=True)
class NpmPackage:
    directory: str  # prime-relative package directory
    name: str
    version: str
    license: str | None


def is_package_json(path: str) -> bool:
    """Whether ``path`` is a package's own package.json, right under node_modules."""
    parts = path.split("/")
    if len(parts) < 3 or parts[-1] != "package.json":
        return False
    if parts[-3] == "node_modules":
        return not parts[-2].startswith("@")
    return len(parts) >= 4 and parts[-4] == "node_modules" and parts[-3].startswith("@")


def read_package_json(prime_dir: Path, path: str) -> NpmPackage | None:
    """The package whose package.json is at ``path``, or None without name and version."""
    file = prime_dir / path
    if file.is_symlink() or not file.is_file():
        return None
    with file.open("rb") as handle:
        raw = handle.read(MAX_PACKAGE_JSON + 1)
    if len(raw) > MAX_PACKAGE_JSON:
        return None
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(document, dict):
        return None
    name, version = document.get("name"), document.get("version")
    if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
        return None
    return NpmPackage(path.rpartition("/")[0], name, version, npm_license(document))
