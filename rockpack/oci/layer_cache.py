"""Reuse a layer blob when the entries that made it have not changed.

The key covers every decided field of every entry plus, for files read from disk, their
inode, mtime and ctime: an unchanged prime directory is re-packed without reading a
single file. (A diff_id to blob map, as apko keeps, would still need every file read
to compute the diff_id; this key does not.)
"""

from __future__ import annotations

import hashlib
import json
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


def cached_write_layer(
    entries: list[Entry], store: BlobStore, compression: Compression, cache_file: Path
) -> tuple[Layer, bool]:
    """(the layer, whether it came from the cache)."""
    key = entries_key(entries, compression)
    hit = read_state(cache_file).get(key) if key else None
    if hit is not None:
        digest, size = str(hit.get("digest", "")), int(str(hit.get("size", -1)))
        if _present(store, digest, size):
            descriptor = Descriptor(str(hit["media-type"]), digest, size)
            return Layer(descriptor=descriptor, diff_id=str(hit["diff-id"])), True
    layer = write_layer(entries, store, compression=compression)
    if key:
        cache = {
            key: {
                "digest": layer.descriptor.digest,
                "size": layer.descriptor.size,
                "media-type": layer.descriptor.media_type,
                "diff-id": layer.diff_id,
            }
        }
        write_state(cache_file, cache)  # one entry: the layer the prime dir makes now
    return layer, False


def _present(store: BlobStore, digest: str, size: int) -> bool:
    try:
        return store.has(digest) and store.path(digest).stat().st_size == size
    except LayerError:  # a damaged cache entry is a miss
        return False
