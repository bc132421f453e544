"""Small real rocks for unit tests, and ways to damage them."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from rockpack.oci.archive import write_oci_archive
from rockpack.oci.blobs import BlobStore, Descriptor
from rockpack.oci.entries import Entry, Kind
from rockpack.oci.image import MEDIA_TYPE_CONFIG, MEDIA_TYPE_MANIFEST, canonical_json, index_json
from rockpack.oci.layer import write_layer

Member = tuple[tarfile.TarInfo, bytes | None]


def make_rock(directory: Path, name: str = "try-init", version: str = "0.1") -> Path:
    """A one-layer rock with /.rock/metadata.yaml, written by rockpack's own writers."""
    store = BlobStore(directory / "oci")
    metadata = yaml.safe_dump({"name": name, "version": version}).encode()
    layer = write_layer(
        [
            Entry(".rock", Kind.DIR, 0o755),
            Entry(".rock/metadata.yaml", Kind.FILE, 0o644, size=len(metadata), content=metadata),
        ],
        store,
    )
    rock = directory / f"zstd-out_{version}_amd64.rock"
    labels = {"org.opencontainers.image.title": "Try Init"}
    return write_rock(rock, store, [(layer.descriptor, layer.diff_id)], version, {"Labels": labels})


def write_rock(
    rock: Path,
    store: BlobStore,
    layers: list[tuple[Descriptor, str]],
    tag: str,
    config: dict[str, Any],
    annotations: dict[str, str] | None = None,
) -> Path:
    """An amd64 rock at ``rock`` of ``layers`` ((descriptor, diff_id), bottom first) in
    ``store``, with ``config`` as its image config's "config"."""
    config_blob = store.put_bytes(
        canonical_json(
            {
                "architecture": "amd64",
                "os": "linux",
                "config": config,
                "rootfs": {"type": "layers", "diff_ids": [d for _, d in layers]},
            }
        ),
        MEDIA_TYPE_CONFIG,
    )
    manifest_json: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE_MANIFEST,
        "config": config_blob.to_json(),
        "layers": [d.to_json() for d, _ in layers],
    }
    if annotations is not None:
        manifest_json["annotations"] = annotations
    manifest = store.put_bytes(canonical_json(manifest_json), MEDIA_TYPE_MANIFEST)
    blobs = [manifest, config_blob, *(d for d, _ in layers)]
    write_oci_archive(rock, [store], index_json([(manifest, tag)]), blobs, mtime=0)
    return rock


def members(rock: Path) -> list[Member]:
    with tarfile.open(rock) as archive:
        return [
            (info, archive.extractfile(info).read() if info.isfile() else None)
            for info in archive.getmembers()
        ]


def rewrite(rock: Path, change: Callable[[list[Member]], list[Member]]) -> Path:
    """``rock`` with its members changed by ``change``, written back in place."""
    changed = change(members(rock))
    with tarfile.open(rock, "w", format=tarfile.PAX_FORMAT) as archive:
        for info, data in changed:
            if data is not None:
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return rock


def blob_member(items: list[Member], size_rank: int = -1) -> int:
    """Index of a blob member, by size (largest last)."""
    blobs = sorted(
        (i for i, (info, _) in enumerate(items) if info.name.startswith("blobs/sha256/")),
        key=lambda i: items[i][0].size,
    )
    return blobs[size_rank]
