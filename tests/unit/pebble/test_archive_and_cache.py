"""Taking pebble out of an archive, and the content-addressed cache it goes into."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile

import pytest

from rockpack.pebble import archive as archive_module
from rockpack.pebble.archive import ExtractError, extract_pebble, is_archive
from rockpack.pebble.cache import PebbleCache, file_sha256
from tests.unit.pebble.fakes import make_elf, release_archive, write_file


def tar_gz(members: list[tarfile.TarInfo | tuple[str, bytes]]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member)
            else:
                info = tarfile.TarInfo(member[0])
                info.size = len(member[1])
                tar.addfile(info, io.BytesIO(member[1]))
    return gzip.compress(raw.getvalue())


def test_the_root_pebble_of_a_release_archive(tmp_path):
    binary = make_elf()
    path = write_file(tmp_path / "a.tar.gz", release_archive(binary))
    got = extract_pebble(path, tmp_path / "out", at_root=True)
    assert got.path.read_bytes() == binary
    assert got.sha256 == hashlib.sha256(binary).hexdigest() and got.size == len(binary)
    assert got.path.stat().st_mode & 0o777 == 0o755
    assert is_archive(path) and not is_archive(write_file(tmp_path / "b", binary))


def test_dot_slash_names_count_as_root(tmp_path):
    path = write_file(tmp_path / "a.tar.gz", tar_gz([("./pebble", b"bin")]))
    assert extract_pebble(path, tmp_path / "out", at_root=True).path.read_bytes() == b"bin"


def test_a_nested_pebble_only_when_anywhere_is_allowed(tmp_path):
    path = write_file(tmp_path / "a.tar.gz", tar_gz([("dist/bin/pebble", b"nested")]))
    with pytest.raises(ExtractError, match="no file named 'pebble' at its root"):
        extract_pebble(path, tmp_path / "out", at_root=True)
    assert extract_pebble(path, tmp_path / "out", at_root=False).path.read_bytes() == b"nested"


def test_a_link_named_pebble_is_refused(tmp_path):
    link = tarfile.TarInfo("pebble")
    link.type, link.linkname = tarfile.SYMTYPE, "/usr/bin/true"
    path = write_file(tmp_path / "a.tar.gz", tar_gz([link]))
    with pytest.raises(ExtractError, match="is a link or a directory"):
        extract_pebble(path, tmp_path / "out", at_root=True)


def test_an_oversized_binary_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(archive_module, "MAX_BINARY", 100)
    path = write_file(tmp_path / "a.tar.gz", tar_gz([("pebble", b"x" * 101)]))
    with pytest.raises(ExtractError, match="over 100 bytes"):
        extract_pebble(path, tmp_path / "out", at_root=True)


def test_a_corrupt_or_truncated_archive(tmp_path):
    good = release_archive(make_elf())
    for name, content in (("cut.tar.gz", good[: len(good) // 2]), ("junk.tar.gz", b"junk" * 99)):
        path = write_file(tmp_path / name, content)
        with pytest.raises(ExtractError, match="cannot be read as a tar archive"):
            extract_pebble(path, tmp_path / "out", at_root=True)
    assert list((tmp_path / "out").glob("*")) == []  # no partial file left


def test_the_cache_is_addressed_by_digest_and_checks_on_use(tmp_path):
    cache = PebbleCache(tmp_path / "cache")
    assert PebbleCache.default().root == tmp_path / "xdg-cache/rockpack/pebble"
    content = b"archive bytes"
    digest = hashlib.sha256(content).hexdigest()
    assert cache.archive(digest) is None
    stored = cache.store_archive(write_file(tmp_path / "t1", content), digest)
    assert stored == tmp_path / "cache/archives/sha256" / digest
    assert cache.archive(digest) == stored and file_sha256(stored) == digest
    stored.write_bytes(b"damaged on disk")
    assert cache.archive(digest) is None and not stored.exists()


def test_storing_again_keeps_the_cached_file(tmp_path):
    cache = PebbleCache(tmp_path / "cache")
    digest = hashlib.sha256(b"bin").hexdigest()
    first = cache.store_binary(write_file(tmp_path / "t1", b"bin"), digest)
    assert first == tmp_path / "cache/binaries/sha256" / digest / "pebble"
    inode = first.stat().st_ino
    second_temp = write_file(tmp_path / "t2", b"bin")
    assert cache.store_binary(second_temp, digest) == first
    assert first.stat().st_ino == inode and not second_temp.exists()
