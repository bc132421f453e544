"""The layer writer, read back by Python's tarfile and by GNU tar."""

from __future__ import annotations

import gzip
import hashlib
import io
import subprocess
import tarfile

import pytest

from rockpack.errors import LayerError
from rockpack.oci.blobs import BlobStore
from rockpack.oci.entries import Entry, Kind
from rockpack.oci.layer import MEDIA_TYPE_LAYER_GZIP, write_layer
from tests.conftest import require_tool

CAP_NET_BIND = bytes.fromhex("0100000200040000000000000000000000000000")


@pytest.fixture
def content(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(b"x" * 5000)
    return path


def sample_entries(content) -> list[Entry]:
    return [
        Entry("bin", Kind.DIR, 0o755, mtime=100),
        Entry(
            "bin/tool",
            Kind.FILE,
            0o4755,
            0,
            0,
            200,
            5000,
            source=content,
            xattrs=(("security.capability", CAP_NET_BIND), ("user.note", b"hi")),
        ),
        Entry("bin/tool-again", Kind.HARDLINK, 0o4755, mtime=200, link_target="bin/tool"),
        Entry("data", Kind.DIR, 0o2770, 1001, 1002, 300),
        Entry("data/fifo", Kind.FIFO, 0o600, mtime=300),
        Entry("data/link", Kind.SYMLINK, 0o777, link_target="/etc/shadow", mtime=300),
        Entry("tmp", Kind.DIR, 0o1777, mtime=400),
    ]


def layer_bytes(store: BlobStore, layer) -> bytes:
    return store.path(layer.descriptor.digest).read_bytes()


def test_layer_descriptor_matches_blob_and_diff_id(tmp_path, content):
    store = BlobStore(tmp_path / "oci")
    layer = write_layer(sample_entries(content), store)
    blob = layer_bytes(store, layer)
    assert layer.descriptor.media_type == MEDIA_TYPE_LAYER_GZIP
    assert layer.descriptor.digest == "sha256:" + hashlib.sha256(blob).hexdigest()
    assert layer.descriptor.size == len(blob)
    assert layer.diff_id == "sha256:" + hashlib.sha256(gzip.decompress(blob)).hexdigest()


def test_gzip_header_has_no_name_and_no_time(tmp_path, content):
    store = BlobStore(tmp_path / "oci")
    blob = layer_bytes(store, write_layer(sample_entries(content), store))
    assert blob[:3] == b"\x1f\x8b\x08"
    flags, mtime = blob[3], blob[4:8]
    assert flags == 0  # no FNAME, FCOMMENT or FEXTRA
    assert mtime == b"\0\0\0\0"


def test_tarfile_reads_back_every_field(tmp_path, content):
    store = BlobStore(tmp_path / "oci")
    blob = layer_bytes(store, write_layer(sample_entries(content), store))
    with tarfile.open(fileobj=io.BytesIO(blob)) as archive:
        members = {m.name.rstrip("/"): m for m in archive.getmembers()}
        assert list(members) == [
            "bin",
            "bin/tool",
            "bin/tool-again",
            "data",
            "data/fifo",
            "data/link",
            "tmp",
        ]
        tool = members["bin/tool"]
        assert tool.isreg() and tool.mode == 0o4755 and tool.size == 5000 and tool.mtime == 200
        assert (tool.uname, tool.gname) == ("", "")
        assert tool.pax_headers["SCHILY.xattr.user.note"] == "hi"
        capability = tool.pax_headers["SCHILY.xattr.security.capability"]
        assert capability.encode("utf-8", "surrogateescape") == CAP_NET_BIND
        assert archive.extractfile(tool).read() == b"x" * 5000
        again = members["bin/tool-again"]
        assert again.islnk() and again.linkname == "bin/tool" and again.size == 0
        assert members["data"].isdir() and members["data"].mode == 0o2770
        assert (members["data"].uid, members["data"].gid) == (1001, 1002)
        assert members["data/fifo"].isfifo()
        assert members["data/link"].issym() and members["data/link"].linkname == "/etc/shadow"
        assert members["tmp"].mode == 0o1777


def test_gnu_tar_reads_the_layer(tmp_path, content):
    require_tool("tar")
    store = BlobStore(tmp_path / "oci")
    path = store.path(write_layer(sample_entries(content), store).descriptor.digest)
    listing = subprocess.run(
        ["tar", "--numeric-owner", "-tvzf", str(path)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert listing[1].startswith("-rwsr-xr-x 0/0") and listing[1].endswith("bin/tool")
    assert listing[2].startswith("hrwsr-xr-x") and listing[2].endswith(
        "bin/tool-again link to bin/tool"
    )
    assert listing[3].startswith("drwxrws--- 1001/1002")
    assert listing[6].startswith("drwxrwxrwt")
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run(
        ["tar", "-xzf", str(path), "-C", str(out), "--xattrs", "--xattrs-include=user.*"],
        check=True,
    )
    assert (out / "bin/tool").stat().st_ino == (out / "bin/tool-again").stat().st_ino
    assert (out / "bin/tool").stat().st_nlink == 2


def test_same_entries_give_the_same_bytes(tmp_path, content):
    store = BlobStore(tmp_path / "oci")
    first = write_layer(sample_entries(content), store)
    second = write_layer(sample_entries(content), BlobStore(tmp_path / "other"))
    assert first == second


def test_duplicate_paths_are_refused(tmp_path):
    store = BlobStore(tmp_path / "oci")
    entries = [Entry("a", Kind.DIR, 0o755), Entry("a", Kind.DIR, 0o700)]
    with pytest.raises(LayerError, match="Two layer entries"):
        write_layer(entries, store)
    assert not list((tmp_path / "oci/blobs/sha256").iterdir())  # nothing half-written


def test_file_swapped_for_a_symlink_is_not_followed(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("host secret")
    primed = tmp_path / "primed"
    primed.write_text("ok")
    entry = Entry("primed", Kind.FILE, 0o644, size=2, source=primed)
    primed.unlink()
    primed.symlink_to(secret)
    with pytest.raises(LayerError, match="Cannot read"):
        write_layer([entry], BlobStore(tmp_path / "oci"))


def test_file_changed_since_scanning_is_reported(tmp_path):
    path = tmp_path / "f"
    path.write_text("abc")
    entry = Entry("f", Kind.FILE, 0o644, size=10, source=path)
    with pytest.raises(LayerError, match="changed while packing"):
        write_layer([entry], BlobStore(tmp_path / "oci"))


def test_long_and_non_utf8_names_survive(tmp_path):
    long_name = "d/" + "n" * 120 + "/" + "f" * 200
    odd = "caf\udce9"  # the byte 0xE9 on its own: not UTF-8
    entries = [
        Entry("caf\udce9", Kind.FIFO, 0o644),
        Entry("d", Kind.DIR, 0o755),
        Entry(long_name, Kind.SYMLINK, 0o777, link_target="x" * 150),
    ]
    store = BlobStore(tmp_path / "oci")
    blob = layer_bytes(store, write_layer(entries, store))
    with tarfile.open(fileobj=io.BytesIO(blob), encoding="utf-8", errors="surrogateescape") as tar:
        names = [m.name for m in tar.getmembers()]
        assert odd in names and long_name in names
        assert tar.getmember(long_name).linkname == "x" * 150
