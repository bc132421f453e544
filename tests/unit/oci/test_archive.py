"""The oci-archive writer: complete, atomic, reproducible; and the blob store."""

from __future__ import annotations

import errno
import hashlib
import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from rockpack.errors import LayerError, PackError
from rockpack.oci import blobs
from rockpack.oci.archive import write_oci_archive
from rockpack.oci.blobs import BlobMismatchError, BlobStore, Descriptor, VerifiedReader
from rockpack.oci.disk import DiskWriteError
from rockpack.oci.tempfiles import sweep


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


def test_blob_store_verifies_reads_and_drops_a_damaged_blob(tmp_path):
    store = BlobStore(tmp_path)
    blob = store.put_bytes(b"content", "text/plain")
    assert store.read_bytes(blob.digest) == b"content"
    store.path(blob.digest).write_bytes(b"tampered")
    with pytest.raises(BlobMismatchError, match="does not match its digest") as info:
        store.read_bytes(blob.digest)
    assert "run the command again" in info.value.resolution
    assert not store.has(blob.digest)  # dropped: the next run fetches or rebuilds it


def test_corrupt_blob_is_never_packed_and_the_earlier_rock_stays(tmp_path):
    """A flipped byte in the store: the archive fails, naming the blob, and drops it."""
    store = BlobStore(tmp_path / "oci")
    good = store.put_bytes(b"layer bytes " * 1000, "application/octet-stream")
    dest = tmp_path / "x.rock"
    write_oci_archive(dest, [store], b"{}", [good], mtime=0)
    earlier = dest.read_bytes()
    path = store.path(good.digest)
    data = bytearray(path.read_bytes())
    data[100] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(BlobMismatchError, match=good.digest) as info:
        write_oci_archive(dest, [store], b"{}", [good], mtime=0)
    assert "does not match its digest" in info.value.brief
    assert "run the command again" in info.value.resolution
    assert dest.read_bytes() == earlier  # the earlier rock, intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["oci", "x.rock"]  # no temp file
    assert not store.has(good.digest)


@pytest.mark.parametrize("change", [b"", b"extra"])
def test_blob_of_the_wrong_size_is_never_packed(tmp_path, change):
    store = BlobStore(tmp_path / "oci")
    good = store.put_bytes(b"content", "text/plain")
    store.path(good.digest).write_bytes(b"content"[:3] if not change else b"content" + change)
    with pytest.raises(BlobMismatchError, match="expected 7 bytes"):
        write_oci_archive(tmp_path / "x.rock", [store], b"{}", [good], mtime=0)
    assert not (tmp_path / "x.rock").exists()


def test_verified_reader_checks_when_the_end_is_reached(tmp_path):
    content = b"abc" * 1000
    digest = "sha256:" + hashlib.sha256(content).hexdigest()
    reader = VerifiedReader(
        io.BytesIO(content).read, digest, len(content), source="s", resolution="r"
    )
    assert reader.read() == content
    short = VerifiedReader(
        io.BytesIO(content[:-1]).read, digest, len(content), source="s", resolution="r"
    )
    with pytest.raises(BlobMismatchError, match="got 2999 bytes"):
        short.read()


def test_stale_temporary_files_of_a_killed_run_are_removed(tmp_path):
    store = BlobStore(tmp_path / "oci")
    store.put_bytes(b"x", "text/plain")  # creates the directory
    blobs_dir = tmp_path / "oci/blobs/sha256"
    stale = blobs_dir / ".ingest-killed"
    stale.write_bytes(b"half a blob")
    stale_rock = tmp_path / ".x.rock.killed.tmp"
    stale_rock.write_bytes(b"half a rock")
    blobs._swept.clear()  # a new run
    blob = BlobStore(tmp_path / "oci").put_bytes(b"y", "text/plain")
    write_oci_archive(tmp_path / "x.rock", [store], b"{}", [blob], mtime=0)
    assert not stale.exists() and not stale_rock.exists()


def test_a_live_runs_temporary_file_is_kept(tmp_path):
    """A temp file another process still holds (its lock) is not swept."""
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; "
            "from rockpack.oci.tempfiles import locked_temp_file\n"
            "with locked_temp_file(Path(sys.argv[1]), '.ingest-') as t:\n"
            "    print(t.path, flush=True); time.sleep(60)",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        held = Path(child.stdout.readline().strip())
        assert held.exists()
        assert sweep(tmp_path, ".ingest-") == []
        assert held.exists()
        child.kill()  # now it is a killed run's leftover
        child.wait()
        assert sweep(tmp_path, ".ingest-") == [held]
        assert not held.exists()
    finally:
        child.kill()
        child.wait()


def test_a_full_disk_is_a_clear_error(tmp_path, monkeypatch):
    store = BlobStore(tmp_path / "oci")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(blobs, "locked_temp_file", full)
    with pytest.raises(DiskWriteError, match="the disk is full") as info:
        store.put_bytes(b"x", "text/plain")
    assert str(tmp_path / "oci") in info.value.brief
    assert "Free some space" in info.value.resolution and "XDG_CACHE_HOME" in info.value.resolution


def test_a_failing_write_is_a_clear_error_and_leaves_nothing(tmp_path):
    store = BlobStore(tmp_path / "oci")

    class Full(io.RawIOBase):
        def write(self, data):
            raise OSError(errno.EROFS, "Read-only file system")

    with pytest.raises(DiskWriteError, match="read-only"), store.ingest() as writer:
        writer._handle = Full()
        writer.write(b"data")
    assert [p.name for p in (tmp_path / "oci/blobs/sha256").iterdir()] == []


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
