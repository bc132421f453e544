"""Base images: which image a base name means, and obtaining it, cached and pinned.

A base resolves once to a manifest digest, pinned in the project's state; later runs
read everything from the shared blob cache (verified: a damaged blob is dropped and
fetched again, by digest) and make no request at all, until the user asks for a
refresh. A pinned digest the registry no longer has is an error, not a new resolution.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from craft_cli import emit

from rockpack.base.pins import Pin, read_pins, write_pins
from rockpack.errors import RockpackError
from rockpack.oci.blobs import BlobStore, Descriptor
from rockpack.oci.documents import MalformedDocumentError, parse_object
from rockpack.oci.image import check_config
from rockpack.oci.media_types import CONFIG_TYPES, layer_compression
from rockpack.oci.platforms import Platform
from rockpack.oci.reference import Reference, is_registry_host, parse_reference
from rockpack.oci.registry_errors import NotFoundError
from rockpack.project.architectures import DEB_TO_OCI

if TYPE_CHECKING:  # the registry client imports requests: only when a base is obtained
    from rockpack.oci.registry_client import Manifest, RegistryClient

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
        if not is_registry_host(mirror):
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
    """A base image, all of whose blobs are in the cache, verified."""

    name: str
    reference: Reference  # with the manifest digest
    manifest_digest: str
    manifest_media_type: str
    config: dict[str, Any]
    layers: list[Descriptor]

    @property
    def diff_ids(self) -> list[str]:
        return list(self.config.get("rootfs", {}).get("diff_ids", []))


class PinnedBaseMissingError(RockpackError):
    """The registry no longer has the image a base is pinned to."""

    def __init__(self, name: str, reference: Reference, pin: Pin, pin_file: Path) -> None:
        super().__init__(
            f"The base {name} is pinned in {pin_file} to {pin.digest}, which "
            f"{reference.registry} no longer has.",
            details=f"The pin was resolved from {pin.reference}; rockpack never swaps a "
            "pinned base for another image on its own.",
            resolution=f"Pack with --refresh-base to resolve {reference} again and pin the "
            "image it names now (or restore that image in the registry).",
        )


def obtain_base(
    name: str,
    build_for: str,
    *,
    cache: BlobStore,
    pin_file: Path,
    refresh: bool = False,
    client: RegistryClient | None = None,
) -> BaseImage:
    """The base for ``build_for``: from the pin and cache, or resolved and downloaded.

    A pinned base is always that exact image: its blobs come from the cache when they
    are there intact, else from the registry by digest; a registry that lost the digest
    is an error, never a reason to resolve the tag again.
    """
    reference = base_reference(name)
    pin_key = f"{name} {build_for}"
    pins = {} if refresh else read_pins(pin_file)
    pin = pins.get(pin_key)
    if pin is not None and not _same_image(pin, reference):
        emit.progress(
            f"The base {name} now means {reference} (it was {pin.reference}): resolving it "
            "and pinning the result.",
            permanent=True,
        )
        pin = None
    from rockpack.oci.registry_client import RegistryClient

    manifest = _cached_manifest(reference, pin, cache) if pin else None
    if manifest is None or not _complete(manifest, cache):
        client = client or RegistryClient(unreachable_hint=MIRROR_HINT)
        manifest = _fetch(name, reference, pin, pin_file, build_for, client, cache)
    image = _load(name, manifest, cache)
    if pin is None or pin.digest != manifest.digest:
        pins[pin_key] = Pin(str(reference), manifest.digest, manifest.media_type)
        write_pins(pin_file, pins)
    return image


MIRROR_HINT = f"set {MIRROR_ENV} to pull bases through another registry"


def _same_image(pin: Pin, reference: Reference) -> bool:
    """Whether the pin was made from this reference (a mirror is only another road)."""
    try:
        pinned = parse_reference(pin.reference)
    except RockpackError:
        return False
    return (pinned.repository, pinned.tag) == (reference.repository, reference.tag)


def _cached_manifest(reference: Reference, pin: Pin, cache: BlobStore) -> Manifest | None:
    from rockpack.oci.registry_client import Manifest

    try:
        raw = cache.read_bytes(pin.digest)  # verified; a damaged copy is dropped
    except RockpackError:
        return None
    return Manifest(reference.with_digest(pin.digest), pin.digest, pin.media_type, raw)


def _complete(manifest: Manifest, cache: BlobStore) -> bool:
    """Whether every blob is in the cache intact (damaged ones are dropped)."""
    try:
        blobs = [manifest.config, *manifest.layers]
    except RockpackError:
        return False
    return all(cache.verify(blob.digest, blob.size) for blob in blobs)


def _fetch(
    name: str,
    reference: Reference,
    pin: Pin | None,
    pin_file: Path,
    build_for: str,
    client: RegistryClient,
    cache: BlobStore,
) -> Manifest:
    """The manifest (by the pinned digest, or by tag without a pin) and its blobs."""
    arch = DEB_TO_OCI[build_for]
    platform = Platform("linux", arch.architecture, arch.variant)
    try:
        manifest = client.resolve(reference.with_digest(pin.digest) if pin else reference, platform)
    except NotFoundError as err:
        if pin is None:
            raise
        raise PinnedBaseMissingError(name, reference, pin, pin_file) from err
    stored = cache.put_bytes(manifest.raw, manifest.media_type)
    if stored.digest != manifest.digest:  # put_bytes hashes what it stores
        raise RockpackError(f"Manifest of {reference} changed while storing it.")
    _check_layer_types(manifest)  # before downloading what could not be used
    for blob in (manifest.config, *manifest.layers):
        if not cache.verify(blob.digest, blob.size):
            client.fetch_blob(reference, blob, cache)
    return manifest


def _check_layer_types(manifest: Manifest) -> None:
    for number, layer in enumerate(manifest.layers, start=1):
        layer_compression(layer.media_type, f"{number} of {manifest.reference}")


def _load(name: str, manifest: Manifest, cache: BlobStore) -> BaseImage:
    what = f"The config of {manifest.reference}"
    _check_layer_types(manifest)
    if manifest.config.media_type not in CONFIG_TYPES:
        raise MalformedDocumentError(
            what, f"its media type {manifest.config.media_type[:100]!r} is not an image config"
        )
    config = parse_object(cache.read_bytes(manifest.config.digest, manifest.config.size), what)
    check_config(config, len(manifest.layers), what)
    return BaseImage(
        name=name,
        reference=manifest.reference,
        manifest_digest=manifest.digest,
        manifest_media_type=manifest.media_type,
        config=config,
        layers=manifest.layers,
    )
