"""Re-packing an unchanged prime dir (or part) reuses its layer without reading the files."""

from __future__ import annotations

import json

from rockpack.layer.scan import scan_tree
from rockpack.oci.blobs import BlobStore
from rockpack.oci.compress import DEFAULT, Compression
from rockpack.oci.layer_cache import LayerRequest, cached_write_layer, cached_write_layers


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


def test_each_layer_is_reused_on_its_own(tmp_path):
    """Layers by part: an unchanged part's layer is reused while a changed one is written."""
    parts = {}
    for name in ("deps", "app"):
        parts[name] = tmp_path / name
        parts[name].mkdir()
        (parts[name] / "file").write_bytes(name.encode())
    store, cache = BlobStore(tmp_path / "oci"), tmp_path / "cache.json"

    def pack():
        requests = [
            LayerRequest(scan_tree(parts[name]), (("io.rockpack.layer.origin", f"part:{name}"),))
            for name in ("deps", "app")
        ]
        return cached_write_layers(requests, store, DEFAULT, cache)

    first = pack()
    assert [reused for _, reused in first] == [False, False]
    assert dict(first[1][0].descriptor.annotations) == {"io.rockpack.layer.origin": "part:app"}
    (parts["app"] / "file").write_bytes(b"app, changed")
    second = pack()
    assert [reused for _, reused in second] == [True, False]
    assert second[0][0] == first[0][0]  # same digest, diff_id and annotations
    assert second[1][0].diff_id != first[1][0].diff_id
    records = json.loads(cache.read_text())
    assert sorted(r["digest"] for r in records.values()) == sorted(
        layer.descriptor.digest for layer, _ in second
    )  # the cache holds this pack's layers, not the old app layer


def test_a_damaged_record_is_a_miss(tmp_path):
    root = tmp_path / "prime"
    root.mkdir()
    (root / "a").write_bytes(b"one")
    store, cache = BlobStore(tmp_path / "oci"), tmp_path / "cache.json"
    cached_write_layer(scan_tree(root), store, DEFAULT, cache)
    records = json.loads(cache.read_text())
    cache.write_text(json.dumps({key: {"digest": 7} for key in records}))
    layer, reused = cached_write_layer(scan_tree(root), store, DEFAULT, cache)
    assert not reused and store.has(layer.descriptor.digest)
