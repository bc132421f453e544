"""Reuse a layer blob when the entries that made it have not changed.

The key covers every decided field of every entry plus, for files read from disk, their
inode, mtime and ctime: an unchanged prime directory is re-packed without reading a
single file. (A diff_id to blob map, as apko keeps, would still need every file read
to compute the diff_id; this key does not.) With a layer per part the cache holds one
record per layer of the last pack, so an unchanged part's layer is reused on its own.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from rockpack.errors import LayerError
from rockpack.json_state import read_state, write_state
from rockpack.oci.blobs import BlobStore, Descriptor
from rockpack.oci.compress import Compression
from rockpack.oci.entries import Entry
from rockpack.oci.layer import Layer, write_layer

_VERSION = 1


def entries_key(entries: list[Entry], compression: Compression) -> str | None:
    """A key for these entries, or None if some content cannot be vouched for unread."""
    digest = hashlib.sha256(f"{_VERSION} {compression.key()}".encode())
    for entry in entries:
        if entry.source is not None and entry.content is None and entry.stamp is None:
            return None
        content = hashlib.sha256(entry.content).hexdigest() if entry.content is not None else ""
        record = [
            entry.path,
            entry.kind.value,
            entry.mode,
            entry.uid,
            entry.gid,
            entry.mtime,
            entry.size,
            entry.link_target,
            [[k, v.hex()] for k, v in entry.xattrs],
            list(entry.device),
            list(entry.stamp or ()),
            content,
            str(entry.source) if entry.source else "",
        ]
        digest.update(json.dumps(record, ensure_ascii=False).encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


@dataclass(frozen=True)
class LayerRequest:
    """The entries of one layer to write, and its descriptor's annotations."""

    entries: list[Entry]
    annotations: tuple[tuple[str, str], ...] = ()


def cached_write_layers(
    requests: Sequence[LayerRequest], store: BlobStore, compression: Compression, cache_file: Path
) -> list[tuple[Layer, bool]]:
    """Each layer (annotated) and whether its blob came from the cache, in order.

    The cache keeps the records of exactly these layers: what the prime dir makes now.
    """
    known = read_state(cache_file)
    used: dict[str, object] = {}
    written = []
    for request in requests:
        key = entries_key(request.entries, compression)
        layer = _cached(store, known.get(key) if key else None)
        reused = layer is not None
        if layer is None:
            layer = write_layer(request.entries, store, compression=compression)
        if key:
            used[key] = _record(layer)
        descriptor = replace(layer.descriptor, annotations=request.annotations)
        written.append((Layer(descriptor=descriptor, diff_id=layer.diff_id), reused))
    if used != known:
        write_state(cache_file, used)
    return written


def cached_write_layer(
    entries: list[Entry], store: BlobStore, compression: Compression, cache_file: Path
) -> tuple[Layer, bool]:
    """(the layer, whether it came from the cache): one layer, as ``cached_write_layers``."""
    return cached_write_layers([LayerRequest(entries)], store, compression, cache_file)[0]


def _cached(store: BlobStore, hit: object) -> Layer | None:
    if not isinstance(hit, dict):
        return None
    try:
        digest, size = str(hit["digest"]), int(hit["size"])
        descriptor = Descriptor(str(hit["media-type"]), digest, size)
        layer = Layer(descriptor=descriptor, diff_id=str(hit["diff-id"]))
    except (KeyError, TypeError, ValueError):  # a damaged record is a miss
        return None
    return layer if _present(store, digest, size) else None


def _record(layer: Layer) -> dict[str, object]:
    return {
        "digest": layer.descriptor.digest,
        "size": layer.descriptor.size,
        "media-type": layer.descriptor.media_type,
        "diff-id": layer.diff_id,
    }


def _present(store: BlobStore, digest: str, size: int) -> bool:
    try:
        return store.has(digest) and store.path(digest).stat().st_size == size
    except LayerError:  # a damaged cache entry is a miss
        return False
