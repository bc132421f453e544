"""Re-packing an unchanged prime dir reuses its layer without reading the files."""

from __future__ import annotations

from rockpack.layer.scan import scan_tree
from rockpack.oci.blobs import BlobStore
from rockpack.oci.compress import DEFAULT, Compression
from rockpack.oci.layer_cache import cached_write_layer


def test_hit_when_unchanged_miss_when_changed(tmp_path, monkeypatch):
    root = tmp_path / "prime"
    root.mkdir()
    (root / "a").write_bytes(b"one")
    store, cache = BlobStore(tmp_path / "oci"), tmp_path / "cache.json"
    first, reused = cached_write_layer(scan_tree(root), store, DEFAULT, cache)
    assert not reused

    def no_reading(*args, **kwargs):
        raise AssertionError("a cache hit must not read files")

    with monkeypatch.context() as patch:
        patch.setattr("rockpack.oci.layer._open_regular", no_reading)
        again, reused = cached_write_layer(scan_tree(root), store, DEFAULT, cache)
    assert reused and again == first

    (root / "a").write_bytes(b"two")  # same size, new content: ctime moves
    changed, reused = cached_write_layer(scan_tree(root), store, DEFAULT, cache)
    assert not reused and changed.diff_id != first.diff_id

    other, reused = cached_write_layer(scan_tree(root), store, Compression("zstd", 3), cache)
    assert not reused and other.descriptor.media_type.endswith("+zstd")


def test_missing_blob_is_a_miss(tmp_path):
    root = tmp_path / "prime"
    root.mkdir()
    (root / "a").write_bytes(b"one")
    store, cache = BlobStore(tmp_path / "oci"), tmp_path / "cache.json"
    layer, _ = cached_write_layer(scan_tree(root), store, DEFAULT, cache)
    store.path(layer.descriptor.digest).unlink()
    again, reused = cached_write_layer(scan_tree(root), store, DEFAULT, cache)
    assert not reused and store.has(again.descriptor.digest)
