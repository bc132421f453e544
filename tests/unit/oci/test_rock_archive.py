"""A .rock is verified before anything is taken from it: every way to damage one is refused."""

from __future__ import annotations

import copy
import hashlib
import json
import tarfile

import pytest

from rockpack.oci.blobs import BlobMismatchError
from rockpack.oci.documents import MalformedDocumentError
from rockpack.oci.rock_archive import RockArchiveError, open_blob, read_rock
from rockpack.oci.rock_metadata import rock_identity
from tests.unit.oci.rock_fixtures import blob_member, make_rock, members, rewrite


def test_a_good_rock_reads_and_names_itself(tmp_path):
    rock = make_rock(tmp_path)
    image = read_rock(rock)
    assert image.ref_name == "0.1"
    assert [b.media_type for b in image.blobs][-1] == "application/vnd.oci.image.config.v1+json"
    with open_blob(image, image.layers[0]) as blob:
        assert len(blob.read()) == image.layers[0].size
    identity = rock_identity(image)
    assert (identity.name, identity.version) == ("try-init", "0.1")  # not the file's name


def _flip(items):
    index = blob_member(items)
    info, data = items[index]
    items[index] = (info, data[:-1] + bytes([data[-1] ^ 1]))
    return items


def _rename_blob(items):
    info = items[blob_member(items)][0]
    info.name = "blobs/sha256/not-a-digest"
    return items


def _add(name, kind=tarfile.REGTYPE, link=""):
    def change(items):
        info = tarfile.TarInfo(name)
        info.type, info.linkname = kind, link
        return [*items, (info, b"x" if kind == tarfile.REGTYPE else None)]

    return change


def _drop_blob(items):
    del items[blob_member(items)]
    return items


def _duplicate(items):
    info, data = items[blob_member(items)]
    return [*items, (copy.copy(info), data)]


def _index(document):
    def change(items):
        for number, (info, _) in enumerate(items):
            if info.name == "index.json":
                items[number] = (info, document)
        return items

    return change


def _drop(name):
    return lambda items: [(i, d) for i, d in items if i.name != name]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_flip, "does not match its digest"),
        (_rename_blob, "'blobs/sha256/not-a-digest' is not named by a sha256 digest"),
        (_add("../evil"), "'../evil' points outside the archive"),
        (_add("/etc/passwd"), "'/etc/passwd' points outside the archive"),
        (_add("blobs/link", tarfile.SYMTYPE, "/etc/passwd"), "is a link or a device"),
        (_add("blobs/hard", tarfile.LNKTYPE, "index.json"), "is a link or a device"),
        (_add("evil.sh"), "'evil.sh' is not part of an OCI image layout"),
        (_drop_blob, "is missing"),
        (_duplicate, "appears twice"),
        (_drop("oci-layout"), "it has no oci-layout"),
        (_drop("index.json"), "it has no index.json"),
        (_index(b'{"schemaVersion":2,"manifests":[]}'), "it holds 0 images, not one"),
    ],
)
def test_damaged_rocks_are_refused_saying_what_is_wrong(tmp_path, change, message):
    rock = rewrite(make_rock(tmp_path), change)
    with pytest.raises(RockArchiveError, match=message) as info:
        read_rock(rock)
    assert str(rock) in info.value.brief and "is not a valid rock" in info.value.brief
    assert "rockpack pack" in info.value.resolution


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"not json", "index.json: it is not JSON"),
        (b'{"manifests":[{"digest":"sha256:x","size":1,"mediaType":"a"}]}', "not a sha256"),
        (b'{"manifests":{}}', "'manifests' is an object, not a list"),
        (b"[" * 5000 + b"]" * 5000, "nested deeper"),
    ],
)
def test_malformed_index_is_refused(tmp_path, document, message):
    rock = rewrite(make_rock(tmp_path), _index(document))
    with pytest.raises(MalformedDocumentError, match=message):
        read_rock(rock)


def test_descriptor_size_that_lies_is_refused(tmp_path):
    rock = make_rock(tmp_path)
    index = json.loads(next(d for i, d in members(rock) if i.name == "index.json"))
    index["manifests"][0]["size"] += 1
    rewrite(rock, _index(json.dumps(index).encode()))
    with pytest.raises(RockArchiveError, match="but its descriptor says"):
        read_rock(rock)


def test_not_a_tar(tmp_path):
    bogus = tmp_path / "My Rock.rock"
    bogus.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(RockArchiveError, match="not a readable tar archive"):
        read_rock(bogus)


def test_a_rock_changed_after_it_was_verified_is_caught_while_read(tmp_path):
    rock = make_rock(tmp_path)
    image = read_rock(rock)
    layer = image.layers[0]
    member = image.members[layer.digest]
    with rock.open("r+b") as handle:
        handle.seek(member.offset + 10)
        byte = handle.read(1)
        handle.seek(member.offset + 10)
        handle.write(bytes([byte[0] ^ 1]))
    with (
        pytest.raises(BlobMismatchError, match="does not match its digest"),
        open_blob(image, layer) as blob,
    ):
        blob.read()


def test_huge_extended_header_is_refused_without_reading_it(tmp_path):
    """A PAX header claiming 6 GiB: refused from its size, never read into memory."""
    rock = make_rock(tmp_path)
    info = tarfile.TarInfo("././@PaxHeader")
    info.type = tarfile.XHDTYPE
    info.size = 6 * 1024**3
    header = info.tobuf(tarfile.USTAR_FORMAT)
    data = rock.read_bytes()
    rock.write_bytes(header + data)
    with pytest.raises(RockArchiveError, match="not a readable tar archive") as caught:
        read_rock(rock)
    assert "extended header of 6442450944 bytes" in caught.value.details


def test_same_rock_hashes_the_same(tmp_path):
    a = make_rock(tmp_path / "a")
    b = make_rock(tmp_path / "b")
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()
