"""The oci-archive writer: complete, atomic, reproducible; and the blob store."""

from __future__ import annotations

import tarfile

import pytest

from rockpack.errors import LayerError, PackError
from rockpack.oci.archive import write_oci_archive
from rockpack.oci.blobs import BlobStore, Descriptor


def test_archive_holds_layout_and_blobs(tmp_path):
    store = BlobStore(tmp_path / "oci")
    blob = store.put_bytes(b"hello", "text/plain")
    dest = tmp_path / "x.rock"
    write_oci_archive(dest, [store], b"{}", [blob, blob], mtime=5)
    with tarfile.open(dest) as archive:
        names = archive.getnames()
        assert names == [
            "blobs",
            "blobs/sha256",
            "blobs/sha256/" + blob.digest[7:],
            "index.json",
            "oci-layout",
        ]
        assert all(m.mtime == 5 and m.uid == 0 and m.uname == "" for m in archive.getmembers())
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_same_input_same_archive(tmp_path):
    store = BlobStore(tmp_path / "oci")
    blob = store.put_bytes(b"hello", "text/plain")
    write_oci_archive(tmp_path / "a.rock", [store], b"{}", [blob], mtime=0)
    write_oci_archive(tmp_path / "b.rock", [store], b"{}", [blob], mtime=0)
    assert (tmp_path / "a.rock").read_bytes() == (tmp_path / "b.rock").read_bytes()


def test_failure_leaves_earlier_archive_and_no_temporary_file(tmp_path):
    store = BlobStore(tmp_path / "oci")
    dest = tmp_path / "x.rock"
    dest.write_bytes(b"earlier rock")
    missing = Descriptor("text/plain", "sha256:" + "0" * 64, 1)
    with pytest.raises(PackError, match="is missing"):
        write_oci_archive(dest, [store], b"{}", [missing], mtime=0)
    assert dest.read_bytes() == b"earlier rock"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.rock"]


def test_unwritable_directory_is_a_clear_error(tmp_path):
    store = BlobStore(tmp_path / "oci")
    with pytest.raises(PackError, match="Cannot write to") as info:
        write_oci_archive(tmp_path / "no" / "x.rock", [store], b"{}", [], mtime=0)
    assert "--output" in info.value.resolution


def test_blob_store_verifies_reads(tmp_path):
    store = BlobStore(tmp_path)
    blob = store.put_bytes(b"content", "text/plain")
    assert store.read_bytes(blob.digest) == b"content"
    store.path(blob.digest).write_bytes(b"tampered")
    with pytest.raises(LayerError, match="is corrupt"):
        store.read_bytes(blob.digest)


@pytest.mark.parametrize("digest", ["md5:abc", "sha256:../../etc/passwd", "sha256:" + "g" * 64])
def test_blob_store_rejects_malformed_digests(tmp_path, digest):
    with pytest.raises(LayerError, match="malformed digest"):
        BlobStore(tmp_path).path(digest)


def test_interrupted_ingest_leaves_nothing(tmp_path):
    store = BlobStore(tmp_path)
    with pytest.raises(RuntimeError), store.ingest() as writer:
        writer.write(b"partial")
        raise RuntimeError("interrupted")
    assert list((tmp_path / "blobs" / "sha256").iterdir()) == []
