"""The base index: layers applied oldest first, whiteouts, opaque dirs, hardlinks."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from rockpack.base.index import (
    MAX_FILE_BYTES,
    _read_cached,
    base_file_contents,
    build_index,
    resolve_path,
)
from rockpack.errors import LayerError


def layer(tmp_path: Path, name: str, members: list[tuple]) -> Path:
    path = tmp_path / name
    with tarfile.open(path, "w:gz") as tar:
        for spec in members:
            entry_name, kind = spec[0], spec[1]
            info = tarfile.TarInfo(entry_name)
            info.type = kind
            data = None
            if kind == tarfile.REGTYPE:
                data = spec[2] if len(spec) > 2 else b"x"
                info.size = len(data)
            elif kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                info.linkname = spec[2]
            info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


D, F, S, H = tarfile.DIRTYPE, tarfile.REGTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE


def test_whiteouts_and_opaque_directories(tmp_path):
    lower = layer(
        tmp_path,
        "1",
        [("etc", D), ("etc/a", F), ("etc/b", F), ("opt", D), ("opt/x", F), ("opt/y", F)],
    )
    upper = layer(
        tmp_path, "2", [("etc/.wh.a", F), ("opt", D), ("opt/.wh..wh..opq", F), ("opt/z", F)]
    )
    index = build_index([lower, upper])
    assert "etc/a" not in index and "etc/b" in index
    assert sorted(p for p in index if p.startswith("opt/")) == ["opt/z"]


def test_hardlinks_share_the_content_digest(tmp_path):
    index = build_index([layer(tmp_path, "1", [("a", F, b"data"), ("b", H, "a")])])
    assert index["b"].digest == index["a"].digest and index["b"].kind == "file"


def test_kaniko_282_shape_layers_are_read_oldest_first(tmp_path):
    # A hardlink pair in the base, then a later layer replaces one name with a symlink.
    lower = layer(tmp_path, "1", [("usr", D), ("usr/a", F, b"data"), ("usr/b", H, "usr/a")])
    upper = layer(tmp_path, "2", [("usr/a", S, "b")])
    index = build_index([lower, upper])
    assert index["usr/a"].kind == "symlink" and index["usr/a"].link == "b"
    assert index["usr/b"].kind == "file" and index["usr/b"].size == 4


def test_a_file_replacing_a_directory_removes_its_children(tmp_path):
    lower = layer(tmp_path, "1", [("d", D), ("d/child", F)])
    upper = layer(tmp_path, "2", [("d", F)])
    index = build_index([lower, upper])
    assert index["d"].kind == "file" and "d/child" not in index


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([("../x", F)], "contains '..'"),
        ([("/etc/passwd", F)], "is an absolute path"),
        ([("a", S, "/etc"), ("a/passwd", F)], "through the symlink 'a'"),
        ([("x", H, "missing")], "is not a file earlier"),
        ([("x", H, "../../etc/shadow")], "contains '..'"),
    ],
)
def test_hostile_layers(tmp_path, members, message):
    with pytest.raises(LayerError, match=message):
        build_index([layer(tmp_path, "1", members)])


def test_truncated_layer(tmp_path):
    path = layer(tmp_path, "1", [("a", F, os.urandom(100_000))])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(LayerError, match="corrupt or truncated"):
        build_index([path])


def test_header_claiming_a_huge_size(tmp_path):
    info = tarfile.TarInfo("big")
    info.size = 10 * 1024**3
    header = info.tobuf(tarfile.GNU_FORMAT)
    path = tmp_path / "huge.tar"
    path.write_bytes(header + b"only a few bytes" + b"\0" * 1024)
    with pytest.raises(LayerError, match="corrupt or truncated"):
        build_index([path])


PASSWD = b"root:x:0:0:root:/root:/bin/bash\n"


@pytest.mark.parametrize(
    ("layers", "expected"),
    [
        # a plain file
        ([[("etc", D), ("etc/passwd", F, PASSWD)]], PASSWD),
        # etc/passwd a symlink to another file (relative, with '..')
        (
            [[("etc", D), ("usr", D), ("usr/p", F, PASSWD), ("etc/passwd", S, "../usr/p")]],
            PASSWD,
        ),
        # etc/passwd a symlink with an absolute target
        ([[("etc", D), ("data", F, PASSWD), ("etc/passwd", S, "/data")]], PASSWD),
        # etc itself a symlink in the base
        (
            [
                [("private", D), ("private/etc", D), ("private/etc/passwd", F, PASSWD)],
                [("etc", S, "private/etc")],
            ],
            PASSWD,
        ),
        # a later layer whites it out
        ([[("etc", D), ("etc/passwd", F, PASSWD)], [("etc/.wh.passwd", F)]], None),
        # a later layer makes etc opaque and puts a new one in
        (
            [
                [("etc", D), ("etc/passwd", F, b"old\n")],
                [("etc", D), ("etc/.wh..wh..opq", F), ("etc/passwd", F, PASSWD)],
            ],
            PASSWD,
        ),
        # an opaque etc without a passwd: the container has none
        ([[("etc", D), ("etc/passwd", F, PASSWD)], [("etc", D), ("etc/.wh..wh..opq", F)]], None),
        # a symlink loop: no such file
        ([[("etc", D), ("etc/passwd", S, "passwd2"), ("etc/passwd2", S, "passwd")]], None),
        # a dangling symlink
        ([[("etc", D), ("etc/passwd", S, "/nowhere")]], None),
        # the symlink's target replaced in a later layer: the newest content
        (
            [
                [("etc", D), ("data", F, b"old\n"), ("etc/passwd", S, "/data")],
                [("data", F, PASSWD)],
            ],
            PASSWD,
        ),
        # a hardlink
        ([[("etc", D), ("a", F, PASSWD), ("etc/passwd", H, "a")]], PASSWD),
    ],
)
def test_account_files_are_read_as_the_container_sees_them(tmp_path, layers, expected):
    paths = [layer(tmp_path, str(n), members) for n, members in enumerate(layers)]
    found = base_file_contents(paths, {"etc/passwd"})
    assert (found["etc/passwd"].content if "etc/passwd" in found else None) == expected


def test_an_oversized_account_file_is_refused_naming_the_bound(tmp_path):
    huge = b"x" * (MAX_FILE_BYTES + 1)
    path = layer(tmp_path, "1", [("etc", D), ("data", F, huge), ("etc/passwd", S, "/data")])
    with pytest.raises(LayerError, match="rockpack reads at most 16 MiB") as info:
        base_file_contents([path], {"etc/passwd"})
    assert "'etc/passwd' (read through its symlinks as 'data')" in info.value.brief


def test_resolving_stops_at_the_root():
    index = build_index([])
    assert resolve_path(index, "../../etc/passwd") == "etc/passwd"


def test_a_damaged_cached_index_is_rebuilt(tmp_path):
    cache = tmp_path / "views"
    cache.mkdir()
    (cache / "abc.json").write_text('{"version": 2, "files": {"a": {"kind": 1}}}')
    assert _read_cached(cache / "abc.json") is None
