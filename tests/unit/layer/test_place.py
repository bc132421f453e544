"""usrmerge redirection and pruning against a base index."""

from __future__ import annotations

import hashlib

import pytest

from rockpack.base.index import BaseFile
from rockpack.errors import LayerError
from rockpack.layer.place import place_on_base, resolve
from rockpack.oci.entries import Entry, Kind


def base_dir(mode=0o755):
    return BaseFile("dir", mode, 0, 0, 0, "", "", (), (0, 0))


def base_link(target):
    return BaseFile("symlink", 0o777, 0, 0, 0, "", target, (), (0, 0))


def base_file(content: bytes, mode=0o644):
    digest = "sha256:" + hashlib.sha256(content).hexdigest()
    return BaseFile("file", mode, 0, 0, len(content), digest, "", (), (0, 0))


INDEX = {
    "usr": base_dir(),
    "usr/bin": base_dir(),
    "usr/lib": base_dir(),
    "usr/lib/x86_64-linux-gnu": base_dir(),
    "usr/lib64": base_dir(),
    "bin": base_link("usr/bin"),
    "lib": base_link("usr/lib"),
    "lib64": base_link("/usr/lib64"),  # an absolute target
    "bin.usr-is-merged": base_dir(),
    "etc": base_dir(),
    "etc/alternatives": base_dir(),
    "etc/alternatives/awk": base_link("/usr/bin/mawk"),
    "loop": base_link("loop2"),
    "loop2": base_link("loop"),
    "up": base_link("../../.."),
    "usr/bin/hello": base_file(b"hello"),
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("bin/tool", "usr/bin/tool"),
        ("lib/x86_64-linux-gnu/libfoo.so", "usr/lib/x86_64-linux-gnu/libfoo.so"),
        ("lib64/ld-linux-x86-64.so.2", "usr/lib64/ld-linux-x86-64.so.2"),
        ("bin.usr-is-merged/x", "bin.usr-is-merged/x"),  # components, not string prefixes
        ("bin", "bin"),  # the last component is not followed
        ("up/etc/passwd", "etc/passwd"),  # '..' stops at the root
        ("etc/alternatives/awk/x", "usr/bin/mawk/x"),
    ],
)
def test_resolve(path, expected):
    assert resolve(path, INDEX) == expected


def test_symlink_loops_are_reported():
    with pytest.raises(LayerError, match="loop"):
        resolve("loop/x", INDEX)


def entry(tmp_path, path, kind=Kind.FILE, content=b"new", mode=0o644, **extra):
    source = None
    if kind == Kind.FILE:
        source = tmp_path / path.replace("/", "_")
        source.write_bytes(content)
    return Entry(
        path, kind, mode, size=len(content) if kind == Kind.FILE else 0, source=source, **extra
    )


def test_directories_over_base_symlinks_are_not_emitted(tmp_path):
    entries = [
        entry(tmp_path, "bin", Kind.DIR, mode=0o755),
        entry(tmp_path, "bin/tool"),
        entry(tmp_path, "lib", Kind.DIR, mode=0o755),
        entry(tmp_path, "lib/x86_64-linux-gnu", Kind.DIR, mode=0o755),
        entry(tmp_path, "lib/x86_64-linux-gnu/libfoo.so"),
    ]
    placement = place_on_base(entries, INDEX)
    assert [e.path for e in placement.entries] == [
        "usr/bin/tool",
        "usr/lib/x86_64-linux-gnu/libfoo.so",
    ]
    assert placement.pruned_dirs == 1  # lib/x86_64-linux-gnu -> usr/lib/..., same as the base


def test_identical_files_are_pruned_and_a_mode_change_is_kept(tmp_path):
    same = entry(tmp_path, "bin/hello", content=b"hello")
    placement = place_on_base([same], INDEX)
    assert placement.entries == []
    assert (placement.pruned_files, placement.pruned_bytes) == (1, 5)
    changed = entry(tmp_path, "bin/hello", content=b"hello", mode=0o600)
    assert [e.path for e in place_on_base([changed], INDEX).entries] == ["usr/bin/hello"]
    other = entry(tmp_path, "bin/hello", content=b"HELLO")
    assert [e.path for e in place_on_base([other], INDEX).entries] == ["usr/bin/hello"]


def test_two_primed_paths_on_one_final_path(tmp_path):
    a = entry(tmp_path, "bin/x", content=b"one")
    b = Entry("usr/bin/x", Kind.FILE, 0o644, size=3, source=a.source)
    assert len(place_on_base([a, b], INDEX).entries) == 1  # identical: kept once
    c = entry(tmp_path, "usr/bin/x", content=b"two")
    with pytest.raises(LayerError, match="'bin/x' and 'usr/bin/x' both land on 'usr/bin/x'"):
        place_on_base([a, c], INDEX)


def test_hardlink_leader_is_elected_again_after_pruning(tmp_path):
    source = tmp_path / "data"
    source.write_bytes(b"hello")
    inode = (1, 42)
    leader = Entry("bin/hello", Kind.FILE, 0o644, size=5, source=source, inode=inode)
    other = Entry(
        "opt/hello",
        Kind.HARDLINK,
        0o644,
        size=5,
        source=source,
        inode=inode,
        link_target="bin/hello",
    )
    placement = place_on_base([leader, other], INDEX)
    assert [(e.path, e.kind) for e in placement.entries] == [("opt/hello", Kind.FILE)]


def test_whiteouts_follow_usrmerge_and_need_something_to_hide(tmp_path):
    entries = [
        entry(tmp_path, "bin/.wh.hello", content=b""),  # hides usr/bin/hello
        entry(tmp_path, "etc/.wh.nothing-here", content=b""),  # nothing to hide: dropped
        entry(tmp_path, "etc/alternatives/.wh..wh..opq", content=b""),
    ]
    placement = place_on_base(entries, INDEX)
    assert [(e.path, e.size, e.mode) for e in placement.entries] == [
        ("etc/alternatives/.wh..wh..opq", 0, 0o644),
        ("usr/bin/.wh.hello", 0, 0o644),
    ]
