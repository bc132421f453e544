"""Which Pebble release rockpack uses, where its archive is, and the digests it pins.

Upstream publishes one archive per architecture,
``<host>/<version>/pebble_<version>_linux_<arch>.tar.gz``, with the binary ``pebble`` at
its root, and no checksums file. ``ROCKPACK_PEBBLE_MIRROR`` replaces the host (same
layout below it) for mirrors and air-gapped builds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

PEBBLE_VERSION = "v1.32.1"  # the newest release whose tag is known
RELEASE_HOST = "https://github.com/canonical/pebble/releases/download"
MIRROR_ENV = "ROCKPACK_PEBBLE_MIRROR"
SOURCE_ENV = "ROCKPACK_PEBBLE_SOURCE"

# Debian architecture (a platform's build-for) -> Pebble's name in the asset.
PEBBLE_ARCHES: dict[str, str] = {
    "amd64": "amd64",
    "arm64": "arm64",
    "armhf": "arm",  # armv6, from v1.32.0
    "ppc64el": "ppc64le",
    "riscv64": "riscv64",
    "s390x": "s390x",
}

# (version, Pebble arch) -> sha256 of the official release archive. It takes precedence
# over the trust file. Empty on purpose: rockpack is built where the official assets
# cannot be fetched, so no digest here could be verified; a guessed or copied one would
# be worse than trust on first use. Fill it only from the real assets.
OFFICIAL_DIGESTS: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class ReleaseAsset:
    version: str
    arch: str  # Pebble's name: amd64, arm64, arm, ppc64le, riscv64, s390x
    url: str

    @property
    def file_name(self) -> str:
        return f"pebble_{self.version}_linux_{self.arch}.tar.gz"

    @property
    def official_digest(self) -> str | None:
        return OFFICIAL_DIGESTS.get((self.version, self.arch))


def release_asset(
    build_for: str, environ: Mapping[str, str], version: str = PEBBLE_VERSION
) -> ReleaseAsset | None:
    """The release archive of Pebble for ``build_for``; None if upstream builds none."""
    arch = PEBBLE_ARCHES.get(build_for)
    if arch is None:
        return None
    host = environ.get(MIRROR_ENV, "").strip().rstrip("/") or RELEASE_HOST
    url = f"{host}/{version}/pebble_{version}_linux_{arch}.tar.gz"
    return ReleaseAsset(version, arch, url)
