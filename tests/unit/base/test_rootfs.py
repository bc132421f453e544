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


def base_in_store(tmp_path: Path):
    """A one-layer base whose layer is in a blob store; (base, store)."""
    from rockpack.base.resolve import BaseImage
    from rockpack.oci.blobs import BlobStore, Descriptor
    from rockpack.oci.reference import parse_reference

    data = layer(tmp_path, [info("etc", tarfile.DIRTYPE, mode=0o755), info("etc/hostname")])
    store = BlobStore(tmp_path / "cache")
    with store.ingest() as writer:
        writer.write(data.read_bytes())
    descriptor = Descriptor("application/vnd.oci.image.layer.v1.tar", writer.digest, writer.size)
    base = BaseImage(
        name="test@1",
        reference=parse_reference("127.0.0.1:1/t/base:1"),
        manifest_digest="sha256:" + "b" * 64,
        manifest_media_type="application/vnd.oci.image.manifest.v1+json",
        config={"rootfs": {"diff_ids": ["sha256:" + "c" * 64]}},
        layers=[descriptor],
    )
    return base, store


EXTRACT = """
import pickle, sys
from pathlib import Path
from rockpack.base.rootfs import extracted_base
base, store = pickle.loads(bytes.fromhex(sys.argv[1]))
print(extracted_base(base, store, Path(sys.argv[2])))
"""


def test_two_runs_extracting_one_base_at_once_both_succeed(tmp_path):
    import pickle
    import subprocess
    import sys

    from tests.conftest import REPO

    base, store = base_in_store(tmp_path)
    cache = tmp_path / "rootfs"
    argument = pickle.dumps((base, store)).hex()
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", EXTRACT, argument, str(cache)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [run.communicate(timeout=60) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0, 0], outputs
    assert len({out.strip() for out, _ in outputs}) == 1
    target = Path(outputs[0][0].strip())
    assert (target / "etc/hostname").read_bytes() == b"data"
    leftovers = [p.name for p in cache.iterdir() if p.name.endswith(".partial")]
    assert leftovers == []


def test_what_a_killed_extraction_left_is_removed(tmp_path):
    from rockpack.base.rootfs import extracted_base

    base, store = base_in_store(tmp_path)
    cache = tmp_path / "rootfs"
    name = base.manifest_digest.partition(":")[2]
    (cache / f".{name}.x1.partial/etc").mkdir(parents=True)  # killed mid-extraction
    (cache / f".{'d' * 64}.x2.partial").mkdir()  # another base's, no run holds its lock
    (cache / name / "stale").mkdir(parents=True)  # renamed, never marked complete
    target = extracted_base(base, store, cache)
    assert sorted(p.name for p in target.iterdir()) == sorted(
        ["dev", "etc", "proc", "run", "sys", "tmp"]
    )
    assert [p.name for p in cache.iterdir() if p.name.endswith(".partial")] == []
    assert oct(target.stat().st_mode & 0o777) == oct(0o755)


def test_a_damaged_cached_layer_is_refused_while_extracting(tmp_path):
    from rockpack.base.rootfs import extracted_base
    from rockpack.oci.blobs import BlobMismatchError

    base, store = base_in_store(tmp_path)
    path = store.path(base.layers[0].digest)
    data = bytearray(path.read_bytes())
    data[600] ^= 1  # in etc/hostname's content
    path.write_bytes(bytes(data))
    with pytest.raises(BlobMismatchError, match="does not match its digest"):
        extracted_base(base, store, tmp_path / "rootfs")
    assert [p.name for p in (tmp_path / "rootfs").iterdir() if not p.name.endswith(".lock")] == []
