"""Base images: which image a base name means, and obtaining it, cached and pinned.

A base resolves once to a manifest digest, pinned in the project's state; later runs
read everything from the shared blob cache and make no request at all, until the user
asks for a refresh.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rockpack.errors import RockpackError
from rockpack.json_state import read_state, write_state
from rockpack.oci.blobs import BlobStore, Descriptor
from rockpack.oci.reference import Reference, parse_reference
from rockpack.oci.registry import Manifest, Platform, RegistryClient
from rockpack.project.architectures import DEB_TO_OCI

# Where each base comes from by default (the images Rockcraft and Docker users know).
BASE_IMAGES: dict[str, str] = {
    "ubuntu@20.04": "public.ecr.aws/ubuntu/ubuntu:20.04",
    "ubuntu@22.04": "public.ecr.aws/ubuntu/ubuntu:22.04",
    "ubuntu@24.04": "public.ecr.aws/ubuntu/ubuntu:24.04",
    "ubuntu@25.10": "public.ecr.aws/ubuntu/ubuntu:25.10",
    "ubuntu@26.04": "public.ecr.aws/ubuntu/ubuntu:26.04",
    "debian@12": "docker.io/library/debian:bookworm",
    "debian@13": "docker.io/library/debian:trixie",
}
MIRROR_ENV = "ROCKPACK_REGISTRY_MIRROR"


def user_config_dir() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "rockpack"


def base_reference(base: str) -> Reference:
    """The image reference for ``base``, after the user's overrides and mirror."""
    overrides = _user_overrides()
    text = overrides.get(base) or BASE_IMAGES.get(base)
    if text is None:
        raise RockpackError(
            f"No image is known for base '{base}'.",
            resolution=f"Map it in {user_config_dir() / 'bases.yaml'} "
            f"('{base}: registry/repository:tag').",
        )
    reference = parse_reference(text)
    mirror = os.environ.get(MIRROR_ENV, "").strip()
    if mirror:
        if "/" in mirror:
            raise RockpackError(
                f"{MIRROR_ENV}={mirror!r} is not a registry host.",
                resolution=f"Set {MIRROR_ENV} to HOST or HOST:PORT, e.g. 127.0.0.1:5000.",
            )
        reference = reference.with_registry(mirror)
    return reference


def _user_overrides() -> dict[str, str]:
    path = user_config_dir() / "bases.yaml"
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise RockpackError(
            f"Cannot read {path}: {err}.",
            resolution="Fix it: one 'base-name: registry/repository:tag' per line.",
        ) from err
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise RockpackError(
            f"{path} must map base names to image references.",
            resolution="Write one 'debian@12: registry.example/debian:bookworm' per line.",
        )
    return {str(k): v for k, v in data.items()}


@dataclass(frozen=True)
class BaseImage:
    """A base image, all of whose blobs are in the cache."""

    name: str
    reference: Reference  # with the manifest digest
    manifest_digest: str
    manifest_media_type: str
    config: dict[str, Any]
    layers: list[Descriptor]

    @property
    def diff_ids(self) -> list[str]:
        return list(self.config.get("rootfs", {}).get("diff_ids", []))


def obtain_base(
    name: str,
    build_for: str,
    *,
    cache: BlobStore,
    pin_file: Path,
    refresh: bool = False,
    client: RegistryClient | None = None,
) -> BaseImage:
    """The base for ``build_for``: from the pin and cache, or resolved and downloaded."""
    reference = base_reference(name)
    pin_key = f"{name} {build_for}"
    pins = read_state(pin_file)
    pin = pins.get(pin_key)
    if not refresh and pin and pin.get("reference") == str(reference):
        cached = _from_cache(name, reference, pin, cache)
        if cached is not None:
            return cached
    client = client or RegistryClient()
    platform = DEB_TO_OCI[build_for]
    manifest = client.resolve(reference, Platform("linux", platform.architecture, platform.variant))
    stored = cache.put_bytes(manifest.raw, manifest.media_type)
    if stored.digest != manifest.digest:  # put_bytes hashes what it stores
        raise RockpackError(f"Manifest of {reference} changed while storing it.")
    for blob in (manifest.config, *manifest.layers):
        client.fetch_blob(reference, blob, cache)
    image = _load(name, manifest, cache)
    pins[pin_key] = {
        "reference": str(reference),
        "digest": manifest.digest,
        "media-type": manifest.media_type,
    }
    write_state(pin_file, pins)
    return image


def _from_cache(
    name: str, reference: Reference, pin: dict[str, str], cache: BlobStore
) -> BaseImage | None:
    digest = pin.get("digest", "")
    try:
        if not cache.has(digest):
            return None
        raw = cache.read_bytes(digest)
    except RockpackError:
        return None  # a damaged cache is re-fetched, not trusted
    manifest = Manifest(reference.with_digest(digest), digest, pin.get("media-type", ""), raw)
    if not all(cache.has(blob.digest) for blob in (manifest.config, *manifest.layers)):
        return None
    return _load(name, manifest, cache)


def _load(name: str, manifest: Manifest, cache: BlobStore) -> BaseImage:
    try:
        config = json.loads(cache.read_bytes(manifest.config.digest))
    except ValueError as err:
        raise RockpackError(
            f"The config of {manifest.reference} is not JSON.",
            resolution="Use another base image or check the registry serving it.",
        ) from err
    image = BaseImage(
        name=name,
        reference=manifest.reference,
        manifest_digest=manifest.digest,
        manifest_media_type=manifest.media_type,
        config=config,
        layers=manifest.layers,
    )
    if len(image.diff_ids) != len(image.layers):
        raise RockpackError(
            f"{manifest.reference} lists {len(image.layers)} layers but "
            f"{len(image.diff_ids)} diff_ids.",
            resolution="The base image is malformed; use another one.",
        )
    return image
