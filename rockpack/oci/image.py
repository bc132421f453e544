"""OCI image config, manifest and index documents, and the image layout around them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from rockpack.oci.blobs import BlobStore, Descriptor
from rockpack.oci.layer import Layer

MEDIA_TYPE_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_TYPE_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_TYPE_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_LAYOUT = b'{"imageLayoutVersion":"1.0.0"}'
REF_NAME = "org.opencontainers.image.ref.name"


class ManifestView:
    """The config and layers of an image manifest held as its exact bytes (``raw``)."""

    raw: bytes

    @property
    def document(self) -> dict[str, Any]:
        return dict(json.loads(self.raw))

    @property
    def config(self) -> Descriptor:
        return Descriptor.from_json(self.document["config"])

    @property
    def layers(self) -> list[Descriptor]:
        return [Descriptor.from_json(layer) for layer in self.document.get("layers", [])]


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
    document = json.loads(store.read_bytes(manifest.digest))
    blobs = [manifest, Descriptor.from_json(document["config"])]
    blobs += [Descriptor.from_json(layer) for layer in document["layers"]]
    return blobs
