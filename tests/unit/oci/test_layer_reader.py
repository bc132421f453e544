"""Base layers are read as a runtime reads them, or refused: media types, bounds, digests."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile

import pytest

from rockpack.errors import LayerError
from rockpack.oci.blobs import BlobMismatchError, Descriptor
from rockpack.oci.layer_reader import iter_layer
from rockpack.oci.media_types import LayerTypeError, layer_compression


def tar_bytes(names: list[str]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name in names:
            info = tarfile.TarInfo(name)
            info.size = 2
            tar.addfile(info, io.BytesIO(b"hi"))
    return out.getvalue()


def descriptor(data: bytes, media_type: str) -> Descriptor:
    return Descriptor(media_type, "sha256:" + hashlib.sha256(data).hexdigest(), len(data))


@pytest.mark.parametrize(
    ("media_type", "compression"),
    [
        ("application/vnd.oci.image.layer.v1.tar", ""),
        ("application/vnd.oci.image.layer.v1.tar+gzip", "gzip"),
        ("application/vnd.oci.image.layer.v1.tar+zstd", "zstd"),
        ("application/vnd.docker.image.rootfs.diff.tar.gzip", "gzip"),
    ],
)
def test_runtime_layer_types_are_accepted(media_type, compression):
    assert layer_compression(media_type, "1") == compression


@pytest.mark.parametrize(
    ("media_type", "message"),
    [
        ("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", "foreign"),
        ("application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", "non-distributable"),
        ("application/vnd.cncf.helm.chart.content.v1.tar+gzip", "not a container image layer"),
        ("text/html", "not a container image layer"),
    ],
)
def test_other_layer_types_are_refused(tmp_path, media_type, message):
    data = gzip.compress(tar_bytes(["a"]))
    path = tmp_path / "layer"
    path.write_bytes(data)
    with pytest.raises(LayerTypeError, match=message) as info:
        list(iter_layer(path, "1", descriptor(data, media_type)))
    assert info.value.resolution


def test_layer_bytes_are_verified_while_read(tmp_path):
    data = gzip.compress(tar_bytes(["a", "b"]))
    path = tmp_path / "layer"
    path.write_bytes(data)
    good = descriptor(data, "application/vnd.oci.image.layer.v1.tar+gzip")
    assert [m.path for m, _ in iter_layer(path, "1", good)] == ["a", "b"]
    path.write_bytes(data + b"trailing junk")  # what the tar reader never needs to read
    with pytest.raises(BlobMismatchError, match="does not match its digest"):
        list(iter_layer(path, "1", good))


def test_a_huge_extended_header_in_a_layer_is_refused_by_its_size(tmp_path):
    info = tarfile.TarInfo("././@PaxHeader")
    info.type = tarfile.XHDTYPE
    info.size = 6 * 1024**3
    path = tmp_path / "layer"
    path.write_bytes(info.tobuf(tarfile.USTAR_FORMAT) + b"\0" * 4096)
    with pytest.raises(LayerError, match="extended header of 6442450944 bytes"):
        list(iter_layer(path, "1"))


def test_multi_frame_zstd_layers_are_read_whole(tmp_path):
    import zstandard

    raw = tar_bytes(["a", "b", "c"])
    compressor = zstandard.ZstdCompressor()
    data = compressor.compress(raw[:1024]) + compressor.compress(raw[1024:])
    path = tmp_path / "layer"
    path.write_bytes(data)
    assert [m.path for m, _ in iter_layer(path, "1")] == ["a", "b", "c"]
