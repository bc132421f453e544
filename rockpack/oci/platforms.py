"""Choosing an image for one platform out of an image index."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rockpack.oci.blobs import Descriptor
from rockpack.oci.documents import field_list
from rockpack.oci.registry_errors import RegistryError


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


class NoSuchPlatformError(RegistryError):
    """An image index holds no image for the platform asked for."""


def choose_platform(index: dict[str, Any], platform: Platform, what: str) -> Descriptor:
    """The index entry for ``platform``: the exact variant first, then a variant-less one."""
    entries = [
        Descriptor.from_json(entry, f"{what}, entry {number}")
        for number, entry in enumerate(field_list(index, "manifests", what), start=1)
    ]
    candidates = []
    for entry in entries:
        fields = dict(entry.platform)
        if fields.get("os") == platform.os and fields.get("architecture") == platform.architecture:
            candidates.append((fields.get("variant"), entry))
    for variant, entry in candidates:
        if variant == platform.variant:
            return entry
    for variant, entry in candidates:
        if variant is None or platform.variant is None:
            return entry
    available = sorted({_describe(dict(e.platform)) for e in entries if e.platform})
    raise NoSuchPlatformError(
        f"{what} has no image for {platform}.",
        details=f"It has: {', '.join(available) or 'no platforms'}.",
        resolution="Build for one of those platforms, or use a base image that has yours.",
    )


def _describe(fields: dict[str, str]) -> str:
    return "/".join(fields[k] for k in ("os", "architecture", "variant") if fields.get(k))
