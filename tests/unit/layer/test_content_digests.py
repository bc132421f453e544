"""Content digests are reused only while a file's stamp is unchanged."""

from __future__ import annotations

import hashlib
from pathlib import Path

from rockpack.layer.content_digests import DigestCache, content_digest
from rockpack.layer.scan import ScanOptions, scan_tree
from rockpack.oci.entries import Entry, Kind


def scanned(root) -> Entry:
    (entry,) = [e for e in scan_tree(root, ScanOptions()) if e.kind == Kind.FILE]
    return entry


def test_a_digest_is_computed_then_remembered(tmp_path):
    (tmp_path / "prime").mkdir()
    (tmp_path / "prime/f").write_bytes(b"one")
    cache_file = tmp_path / "digests.json"
    entry = scanned(tmp_path / "prime")
    first = DigestCache(cache_file)
    expected = "sha256:" + hashlib.sha256(b"one").hexdigest()
    assert first.digest(entry) == expected
    first.save()
    # The same stamp on a path that cannot be read: only a remembered digest can answer.
    moved = Entry("f", Kind.FILE, 0o644, size=3, source=entry.source, stamp=entry.stamp)
    Path(entry.source).rename(tmp_path / "elsewhere")
    assert DigestCache(cache_file).digest(moved) == expected


def test_a_changed_file_is_read_again(tmp_path):
    (tmp_path / "prime").mkdir()
    path = tmp_path / "prime/f"
    path.write_bytes(b"one")
    cache_file = tmp_path / "digests.json"
    cache = DigestCache(cache_file)
    cache.digest(scanned(tmp_path / "prime"))
    cache.save()
    path.write_bytes(b"two")  # same size; ctime moves
    again = scanned(tmp_path / "prime")
    assert DigestCache(cache_file).digest(again) == content_digest(again)
    assert content_digest(again) == "sha256:" + hashlib.sha256(b"two").hexdigest()


def test_a_damaged_cache_is_a_miss(tmp_path):
    (tmp_path / "prime").mkdir()
    (tmp_path / "prime/f").write_bytes(b"one")
    cache_file = tmp_path / "digests.json"
    cache_file.write_text('{"version": 1, "files": {"x": "not a record"')
    entry = scanned(tmp_path / "prime")
    assert DigestCache(cache_file).digest(entry) == content_digest(entry)


def test_generated_content_is_hashed_from_the_entry(tmp_path):
    entry = Entry("etc/x", Kind.FILE, 0o644, size=2, content=b"hi")
    cache = DigestCache(tmp_path / "digests.json")
    assert cache.digest(entry) == "sha256:" + hashlib.sha256(b"hi").hexdigest()
    cache.save()
    assert not (tmp_path / "digests.json").exists()  # nothing from disk to remember
