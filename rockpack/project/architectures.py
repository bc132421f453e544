"""Debian architecture names and their OCI platform equivalents."""

from __future__ import annotations

import platform
from dataclasses import dataclass


@dataclass(frozen=True)
class OciPlatform:
    """The ``architecture``/``variant`` pair of the OCI image spec."""

    architecture: str
    variant: str | None = None


# Debian name -> OCI platform (image-spec "Platform" values, as Go's GOARCH spells them).
DEB_TO_OCI: dict[str, OciPlatform] = {
    "amd64": OciPlatform("amd64"),
    "arm64": OciPlatform("arm64", "v8"),
    "armhf": OciPlatform("arm", "v7"),
    "i386": OciPlatform("386"),
    "ppc64el": OciPlatform("ppc64le"),
    "riscv64": OciPlatform("riscv64"),
    "s390x": OciPlatform("s390x"),
}

SUPPORTED_ARCHS: tuple[str, ...] = tuple(DEB_TO_OCI)

_MACHINE_TO_DEB = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "armhf",
    "armv8l": "armhf",
    "i686": "i386",
    "i386": "i386",
    "ppc64le": "ppc64el",
    "riscv64": "riscv64",
    "s390x": "s390x",
}


def host_arch() -> str:
    """The Debian name of this machine's architecture."""
    machine = platform.machine()
    return _MACHINE_TO_DEB.get(machine, machine)
