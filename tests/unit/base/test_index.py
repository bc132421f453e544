"""The base index: layers applied oldest first, whiteouts, opaque dirs, hardlinks."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from rockpack.base.index import build_index
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
