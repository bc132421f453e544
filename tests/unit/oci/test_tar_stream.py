"""TarStream writes what tarfile's PAX writer writes, byte for byte."""

from __future__ import annotations

import io
import tarfile

import pytest

from rockpack.errors import LayerError
from rockpack.oci.tar_stream import TarStream


def members() -> list[tuple[tarfile.TarInfo, bytes | None]]:
    out: list[tuple[tarfile.TarInfo, bytes | None]] = []

    def member(name: str, kind: bytes = tarfile.REGTYPE, data: bytes | None = None, **fields):
        info = tarfile.TarInfo(name)
        info.type = kind
        info.size = len(data) if data is not None else 0
        for key, value in fields.items():
            setattr(info, key, value)
        out.append((info, data))

    member("etc/", tarfile.DIRTYPE, mode=0o755)
    member("etc/empty", data=b"")
    member("etc/hosts", data=b"127.0.0.1 localhost\n", mode=0o644, mtime=1700000000)
    member("usr/bin/big", data=bytes(range(256)) * 5000, mode=0o755)
    member("d/" + "long-name/" * 30 + "file", data=b"deep")
    member("caf\u00e9/\udcff-raw-byte", data=b"names")
    member("link", tarfile.SYMTYPE, linkname="/" + "x" * 150)
    member("hard", tarfile.LNKTYPE, linkname="etc/hosts")
    member("owned", data=b"o", uid=584792, gid=584792)
    member("huge-id", data=b"h", uid=3_000_000)
    member("caps", data=b"c", pax_headers={"SCHILY.xattr.security.capability": "\x01\x02"})
    member("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3)
    return out


def test_same_bytes_as_tarfile():
    expected = io.BytesIO()
    with tarfile.TarFile(
        fileobj=expected, mode="w", format=tarfile.PAX_FORMAT, errors="surrogateescape"
    ) as archive:
        for info, data in members():
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    written: list[bytes] = []
    stream = TarStream(written.append)
    for info, data in members():
        stream.add(info, io.BytesIO(data).read if data is not None else None)
    stream.close()
    assert b"".join(written) == expected.getvalue()


def test_a_file_shorter_than_scanned_is_an_error():
    info = tarfile.TarInfo("shrunk")
    info.size = 10
    with pytest.raises(LayerError, match="shorter"):
        TarStream(lambda data: None).add(info, io.BytesIO(b"abc").read)
