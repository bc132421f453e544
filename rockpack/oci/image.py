"""OCI image config, manifest and index documents, and the image layout around them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from rockpack.oci.blobs import BlobStore, Descriptor
from rockpack.oci.documents import (
    MalformedDocumentError,
    check_digest,
    field_dict,
    field_list,
    field_strings,
    parse_object,
)
from rockpack.oci.layer import Layer

MEDIA_TYPE_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_TYPE_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_TYPE_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_LAYOUT = b'{"imageLayoutVersion":"1.0.0"}'
REF_NAME = "org.opencontainers.image.ref.name"


class ManifestView:
    """The config and layers of an image manifest held as its exact bytes (``raw``).

    The document is checked on first use: a manifest that is not JSON, or whose
    descriptors are malformed, is a ``MalformedDocumentError`` naming ``label``.
    """

    raw: bytes

    @property
    def label(self) -> str:
        return "the image manifest"

    @property
    def document(self) -> dict[str, Any]:
        return self._parsed[0]

    @property
    def config(self) -> Descriptor:
        return self._parsed[1]

    @property
    def layers(self) -> list[Descriptor]:
        return list(self._parsed[2])

    @cached_property
    def _parsed(self) -> tuple[dict[str, Any], Descriptor, list[Descriptor]]:
        document = parse_object(self.raw, self.label)
        config, layers = manifest_blobs(document, self.label)
        return document, config, layers


def manifest_blobs(document: dict[str, Any], what: str) -> tuple[Descriptor, list[Descriptor]]:
    """An image manifest's config and layer descriptors, each checked."""
    if document.get("schemaVersion") != 2:
        raise MalformedDocumentError(what, "its schemaVersion is not 2")
    if "config" not in document:
        raise MalformedDocumentError(what, "it has no config descriptor")
    config = Descriptor.from_json(document["config"], f"{what}, its config descriptor")
    layers = [
        Descriptor.from_json(layer, f"{what}, layer {number}")
        for number, layer in enumerate(field_list(document, "layers", what), start=1)
    ]
    return config, layers


def check_config(config: dict[str, Any], layers: int, what: str) -> list[str]:
    """Check what rockpack reads of an image config; return its diff_ids.

    rootfs.diff_ids must list one digest per layer; config.Env strings, config.Labels
    an object of strings, history a list of objects.
    """
    rootfs = field_dict(config, "rootfs", what)
    diff_ids = field_list(rootfs, "diff_ids", f"{what}, its rootfs", required=True)
    for diff_id in diff_ids:
        check_digest(diff_id if isinstance(diff_id, str) else repr(diff_id), f"{what}, diff_ids")
    if len(diff_ids) != layers:
        raise MalformedDocumentError(
            what, f"it lists {len(diff_ids)} diff_ids for an image of {layers} layers"
        )
    runtime = field_dict(config, "config", what)
    if not all(isinstance(item, str) for item in field_list(runtime, "Env", f"{what}, config")):
        raise MalformedDocumentError(what, "config.Env holds items that are not strings")
    field_strings(runtime, "Labels", f"{what}, config")
    if not all(isinstance(item, dict) for item in field_list(config, "history", what)):
        raise MalformedDocumentError(what, "history holds items that are not objects")
    return [str(diff_id) for diff_id in diff_ids]


def canonical_json(document: Any) -> bytes:
    """Compact JSON with sorted keys: one document, one byte sequence."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class RuntimeConfig:
    """The ``config`` object of an image config: how a container starts."""

    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    user: str = ""
    working_dir: str = ""
    labels: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.entrypoint:
            out["Entrypoint"] = self.entrypoint
        if self.cmd:
            out["Cmd"] = self.cmd
        if self.env:
            out["Env"] = [f"{k}={v}" for k, v in sorted(self.env.items())]
        if self.user:
            out["User"] = self.user
        if self.working_dir:
            out["WorkingDir"] = self.working_dir
        if self.labels:
            out["Labels"] = dict(sorted(self.labels.items()))
        return out


@dataclass(frozen=True)
class HistoryItem:
    created: str
    created_by: str
    comment: str = ""
    empty_layer: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"created": self.created, "created_by": self.created_by}
        if self.comment:
            out["comment"] = self.comment
        if self.empty_layer:
            out["empty_layer"] = True
        return out


@dataclass(frozen=True)
class ImageSpec:
    """Everything that decides an image, apart from the layer contents."""

    architecture: str
    variant: str | None
    created: str
    runtime: RuntimeConfig
    history: list[HistoryItem]
    annotations: dict[str, str]


def image_config(spec: ImageSpec, layers: list[Layer]) -> dict[str, Any]:
    config: dict[str, Any] = {
        "architecture": spec.architecture,
        "os": "linux",
        "created": spec.created,
        "config": spec.runtime.to_json(),
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [item.to_json() for item in spec.history],
    }
    if spec.variant:
        config["variant"] = spec.variant
    return config


def write_image(store: BlobStore, spec: ImageSpec, layers: list[Layer]) -> Descriptor:
    """Write config and manifest blobs; return the manifest's descriptor."""
    config = store.put_bytes(canonical_json(image_config(spec, layers)), MEDIA_TYPE_CONFIG)
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE_MANIFEST,
        "config": config.to_json(),
        "layers": [layer.descriptor.to_json() for layer in layers],
    }
    if spec.annotations:
        manifest["annotations"] = dict(sorted(spec.annotations.items()))
    descriptor = store.put_bytes(canonical_json(manifest), MEDIA_TYPE_MANIFEST)
    platform = {"architecture": spec.architecture, "os": "linux"}
    if spec.variant:
        platform["variant"] = spec.variant
    return Descriptor(
        media_type=descriptor.media_type,
        digest=descriptor.digest,
        size=descriptor.size,
        platform=tuple(platform.items()),
    )


def index_json(manifests: list[tuple[Descriptor, str]]) -> bytes:
    """The layout's index.json: each manifest tagged with its reference name."""
    entries = []
    for descriptor, ref_name in manifests:
        entry = descriptor.to_json()
        entry["annotations"] = {REF_NAME: ref_name}
        entries.append(entry)
    return canonical_json({"schemaVersion": 2, "mediaType": MEDIA_TYPE_INDEX, "manifests": entries})


def referenced_blobs(store: BlobStore, manifest: Descriptor) -> list[Descriptor]:
    """The manifest, its config and its layers: every blob an archive of it must hold."""
    what = f"manifest {manifest.digest}"
    raw = store.read_bytes(manifest.digest, manifest.size)
    config, layers = manifest_blobs(parse_object(raw, what), what)
    return [manifest, config, *layers]
