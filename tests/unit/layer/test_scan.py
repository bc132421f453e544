"""Prime directory -> layer entries: order, hardlink leaders, owners, modes, mtimes."""

from __future__ import annotations

import os

import pytest

from rockpack.layer.scan import (
    MetadataOverride,
    ScanOptions,
    elect_hardlink_leaders,
    scan_tree,
)
from rockpack.oci.entries import Kind, sort_key


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "prime"
    (root / "b").mkdir(parents=True)
    (root / "a-c").mkdir()
    (root / "a" / "x").mkdir(parents=True)
    (root / "b" / "data").write_bytes(b"12345")
    os.link(root / "b" / "data", root / "a" / "x" / "data2")
    os.link(root / "b" / "data", root / "a-c" / "data3")
    (root / "a" / "link").symlink_to("../../outside")
    os.mkfifo(root / "a" / "pipe")
    os.utime(root / "b" / "data", (5000, 5000))
    return root


def by_path(entries):
    return {e.path: e for e in entries}


def test_parents_come_before_children(tree):
    paths = [e.path for e in scan_tree(tree)]
    assert paths == sorted(paths, key=sort_key)
    for index, path in enumerate(paths):
        parent = path.rpartition("/")[0]
        if parent:
            assert paths.index(parent) < index
    assert "" not in paths and "." not in paths


def test_first_path_of_an_inode_is_the_file_the_rest_link_to_it(tree):
    entries = by_path(scan_tree(tree))
    assert entries["a/x/data2"].kind == Kind.FILE
    assert entries["a/x/data2"].size == 5
    assert entries["a-c/data3"].kind == Kind.HARDLINK
    assert entries["a-c/data3"].link_target == "a/x/data2"
    assert entries["b/data"].kind == Kind.HARDLINK
    assert entries["b/data"].link_target == "a/x/data2"


def test_a_new_leader_is_elected_when_the_first_path_is_dropped(tree):
    kept = [e for e in scan_tree(tree) if e.path != "a/x/data2"]
    entries = by_path(elect_hardlink_leaders(kept))
    assert entries["a-c/data3"].kind == Kind.FILE
    assert entries["a-c/data3"].size == 5
    assert entries["b/data"].link_target == "a-c/data3"


def test_symlinks_and_fifos_are_stored_as_such(tree):
    entries = by_path(scan_tree(tree))
    assert entries["a/link"].kind == Kind.SYMLINK
    assert entries["a/link"].link_target == "../../outside"
    assert entries["a/pipe"].kind == Kind.FIFO


def test_mtimes_are_clamped_to_the_epoch(tree):
    entries = by_path(scan_tree(tree, ScanOptions(epoch=6000)))
    assert entries["a/x/data2"].mtime == 5000  # older than the epoch: kept
    assert entries["a"].mtime == 6000  # made just now: clamped


def test_owner_map_rewrites_only_the_mapped_owner(tree):
    os.chown(tree / "a", 1234, 1234)
    options = ScanOptions(owner_map={(0, 0): (7, 8)})
    entries = by_path(scan_tree(tree, options))
    assert (entries["b"].uid, entries["b"].gid) == (7, 8)
    assert (entries["a"].uid, entries["a"].gid) == (1234, 1234)


def test_override_restores_stripped_bits_only_when_the_file_still_matches(tree):
    os.chmod(tree / "b" / "data", 0o755)
    restore = MetadataOverride(mode=0o4755, uid=0, gid=42, expected_mode=0o755, size=5)
    entries = by_path(scan_tree(tree, ScanOptions(overrides={"a/x/data2": restore})))
    assert entries["a/x/data2"].mode == 0o4755
    assert entries["a/x/data2"].gid == 42
    changed = MetadataOverride(mode=0o4755, uid=0, gid=0, expected_mode=0o700, size=5)
    entries = by_path(scan_tree(tree, ScanOptions(overrides={"a/x/data2": changed})))
    assert entries["a/x/data2"].mode == 0o755  # the part changed it since: respected


def test_xattrs_are_read_from_the_path_itself(tree):
    try:
        os.setxattr(tree / "b" / "data", "user.origin", b"deb")
    except OSError:
        pytest.skip("this filesystem has no user xattrs")
    entries = by_path(scan_tree(tree))
    assert entries["a/x/data2"].xattrs == (("user.origin", b"deb"),)
    assert entries["a/link"].xattrs == ()
