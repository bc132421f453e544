"""Whatever bytes a rock or a base layer holds, the outcome is a RockpackError, never an
internal error (a ValueError, KeyError, AttributeError or OSError escaping)."""

from __future__ import annotations

import gzip
import io
import random
import tarfile

import pytest

from rockpack.base.index import base_file_contents, build_index
from rockpack.errors import RockpackError
from rockpack.oci.rock_archive import open_blob, read_rock
from rockpack.oci.rock_metadata import rock_identity
from tests.unit.oci.rock_fixtures import make_rock

SEED = 20261130


def mutations(data: bytes, count: int):
    rng = random.Random(SEED)
    for _ in range(count):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            position = rng.randrange(len(mutated))
            mutated[position] = rng.randrange(256)
        if rng.random() < 0.2:
            del mutated[rng.randrange(len(mutated)) :]
        yield bytes(mutated)


def test_mutated_rocks_are_read_or_refused_cleanly(tmp_path):
    good = make_rock(tmp_path).read_bytes()
    rock = tmp_path / "mutant.rock"
    outcomes = {"read": 0, "refused": 0}
    for data in mutations(good, 300):
        rock.write_bytes(data)
        try:
            image = read_rock(rock)
            rock_identity(image)
            for blob in image.blobs:
                with open_blob(image, blob) as content:
                    content.read()
        except RockpackError:
            outcomes["refused"] += 1
        else:
            outcomes["read"] += 1
    assert outcomes["refused"] > 0


def layer_bytes() -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, link in [
            ("etc", tarfile.DIRTYPE, ""),
            ("etc/passwd", tarfile.REGTYPE, ""),
            ("etc/group", tarfile.SYMTYPE, "passwd"),
            ("etc/shadow", tarfile.LNKTYPE, "etc/passwd"),
            ("etc/.wh.gone", tarfile.REGTYPE, ""),
        ]:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, link
            data = b"root:x:0:0::/root:/bin/sh\n" if kind == tarfile.REGTYPE else b""
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


@pytest.mark.parametrize("compress", [False, True], ids=["tar", "gzip"])
def test_mutated_base_layers_are_read_or_refused_cleanly(tmp_path, compress):
    good = layer_bytes()
    good = gzip.compress(good, mtime=0) if compress else good
    path = tmp_path / "layer"
    for data in mutations(good, 300):
        path.write_bytes(data)
        try:
            build_index([path])
            base_file_contents([path], {"etc/passwd", "etc/group", "etc/shadow"})
        except RockpackError:
            pass
