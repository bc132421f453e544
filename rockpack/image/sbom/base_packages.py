"""The base image's Debian or Ubuntu packages, read from its layers without unpacking.

The installed packages come from ``/var/lib/dpkg/status`` and (distroless bases)
``/var/lib/dpkg/status.d/*``; the distribution from ``/etc/os-release``; each package's
licence from its ``/usr/share/doc/<package>/copyright`` when that file is
machine-readable. All of them are read in one pass over the base's layers, as a
container sees them (through symlinks, after whiteouts), and kept by the base's
manifest digest: a base is read once, not on every pack.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rockpack.base.index import BaseIndex, base_file_contents
from rockpack.base.resolve import BaseImage
from rockpack.image.sbom.debian_copyright import copyright_license
from rockpack.image.sbom.dpkg import (
    DebPackage,
    Distro,
    distro_from_os_release,
    installed_packages,
    os_release,
)
from rockpack.json_state import read_state, write_state
from rockpack.oci.blobs import BlobStore
from rockpack.oci.disk import DiskWriteError
from rockpack.oci.entries import Kind

STATUS = "var/lib/dpkg/status"
STATUS_DIR = "var/lib/dpkg/status.d/"
OS_RELEASE = ("etc/os-release", "usr/lib/os-release")
DOC_DIR = "usr/share/doc/"
_CACHE_VERSION = 1


@dataclass(frozen=True)
class BaseSystem:
    distro: Distro | None
    packages: list[DebPackage]
    licenses: dict[str, str] = field(default_factory=dict)  # package name -> SPDX


def base_system(
    base: BaseImage, cache: BlobStore, index: BaseIndex, cache_dir: Path | None = None
) -> BaseSystem:
    """``read_base_system``, kept in ``cache_dir`` by the base's manifest digest."""
    cache_file = cache_dir / f"{base.manifest_digest.partition(':')[2]}.json" if cache_dir else None
    if cache_file is not None:
        cached = _from_state(read_state(cache_file))
        if cached is not None:
            return cached
    system = read_base_system(base, cache, index)
    if cache_file is not None:
        with suppress(DiskWriteError):  # a cache that cannot be written is only a miss
            write_state(cache_file, _to_state(system))
    return system


def read_base_system(base: BaseImage, cache: BlobStore, index: BaseIndex) -> BaseSystem:
    """The base's packages, distribution and licences (``index``: the base's files)."""
    status_files = [STATUS, *sorted(p for p in index if _is_status_file(p, index))]
    doc_dirs = {p[len(DOC_DIR) :] for p in index if p.startswith(DOC_DIR)}
    copyrights = {f"{DOC_DIR}{name}/copyright" for name in doc_dirs if "/" not in name}
    layers = [cache.path(layer.digest) for layer in base.layers]
    found = base_file_contents(layers, {*status_files, *OS_RELEASE, *copyrights})
    packages: list[DebPackage] = []
    for path in status_files:
        if path in found:
            packages += installed_packages(found[path].content.decode("utf-8", "replace"))
    release = next((found[p] for p in OS_RELEASE if p in found), None)
    distro = (
        distro_from_os_release(os_release(release.content.decode("utf-8", "replace")))
        if release
        else None
    )
    licenses = {}
    for package in packages:
        copyright_file = found.get(f"{DOC_DIR}{package.name}/copyright")
        if copyright_file is not None:
            expression = copyright_license(copyright_file.content.decode("utf-8", "replace"))
            if expression:
                licenses[package.name] = expression
    return BaseSystem(distro, packages, licenses)


def _is_status_file(path: str, index: BaseIndex) -> bool:
    if not path.startswith(STATUS_DIR) or "/" in path[len(STATUS_DIR) :]:
        return False
    return index[path].kind == Kind.FILE.value and not path.endswith(".md5sums")


def _to_state(system: BaseSystem) -> dict[str, Any]:
    return {
        "version": _CACHE_VERSION,
        "distro": asdict(system.distro) if system.distro else None,
        "packages": [asdict(package) for package in system.packages],
        "licenses": system.licenses,
    }


def _from_state(state: dict[str, Any]) -> BaseSystem | None:
    """The cached system, or None when it is missing, of another version, or damaged."""
    if state.get("version") != _CACHE_VERSION:
        return None
    try:
        distro = Distro(**state["distro"]) if state["distro"] else None
        packages = [DebPackage(**{k: str(v) for k, v in p.items()}) for p in state["packages"]]
        licenses = {str(k): str(v) for k, v in state["licenses"].items()}
    except (KeyError, TypeError, AttributeError):
        return None
    return BaseSystem(distro, packages, licenses)
