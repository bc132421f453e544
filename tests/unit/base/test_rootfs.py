"""Extracting a base for the overlay step, never outside the target."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from rockpack.base.rootfs import extract_layer
from rockpack.errors import LayerError


def layer(tmp_path: Path, members: list[tarfile.TarInfo], name: str = "l.tar") -> Path:
    path = tmp_path / name
    with tarfile.open(path, "w") as tar:
        for info in members:
            data = b"data" if info.isfile() else None
            if data:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data else None)
    return path


def info(name, kind=tarfile.REGTYPE, link="", mode=0o644, uid=0, gid=0):
    member = tarfile.TarInfo(name)
    member.type, member.linkname, member.mode, member.uid, member.gid = kind, link, mode, uid, gid
    return member


def test_extracts_modes_owners_links_and_whiteouts(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    extract_layer(
        layer(
            tmp_path,
            [
                info("etc", tarfile.DIRTYPE, mode=0o755),
                info("etc/a", mode=0o4755, uid=7, gid=8),
                info("etc/b", tarfile.LNKTYPE, "etc/a"),
                info("etc/c", tarfile.SYMTYPE, "a"),
                info("gone"),
            ],
        ),
        root,
        "1",
    )
    extract_layer(layer(tmp_path, [info(".wh.gone")], "2.tar"), root, "2")
    st = (root / "etc/a").stat()
    assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o4755, 7, 8)
    assert st.st_ino == (root / "etc/b").stat().st_ino
    assert os.readlink(root / "etc/c") == "a"
    assert not (root / "gone").exists()


def test_never_writes_through_a_symlink(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    hostile = layer(tmp_path, [info("a", tarfile.SYMTYPE, str(outside)), info("a/passwd")])
    with pytest.raises(LayerError, match="through the symlink 'a'"):
        extract_layer(hostile, root, "1")
    assert list(outside.iterdir()) == []


def test_hardlink_must_name_an_extracted_file(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(LayerError, match="not a file extracted before it"):
        extract_layer(layer(tmp_path, [info("x", tarfile.LNKTYPE, "etc/shadow")]), root, "1")


def test_device_nodes_need_root(tmp_path, monkeypatch):
    root = tmp_path / "root"
    root.mkdir()
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(LayerError, match="only root may create"):
        extract_layer(layer(tmp_path, [info("dev-null", tarfile.CHRTYPE)]), root, "1")
