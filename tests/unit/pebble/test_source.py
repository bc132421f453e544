"""Which Pebble a rock gets: the release by default, ROCKPACK_PEBBLE_SOURCE when set."""

from __future__ import annotations

import hashlib
import shutil

import pytest

from rockpack.pebble import trust
from rockpack.pebble.binary_check import NotPebbleError
from rockpack.pebble.errors import ArchiveError, PebbleUnavailableError
from rockpack.pebble.release import ReleaseAsset
from rockpack.pebble.source import provide_pebble
from tests.unit.pebble.fakes import (
    asset_path,
    go_buildinfo,
    make_elf,
    release_archive,
    write_file,
)

SOURCE = "ROCKPACK_PEBBLE_SOURCE"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_the_default_is_the_release_and_it_is_cached(mirror, tmp_path):
    got = provide_pebble("amd64", {"ROCKPACK_PEBBLE_MIRROR": mirror.url})
    assert got.version == "v1.32.1"
    assert got.sha256 == sha(make_elf("amd64"))
    assert got.archive_sha256 == sha(asset_path(mirror.root, "amd64").read_bytes())
    assert got.binary.is_relative_to(tmp_path / "xdg-cache/rockpack/pebble/binaries")
    assert (tmp_path / "xdg-config/rockpack/pebble-trust.json").is_file()
    downloads = len(mirror.requests)
    assert provide_pebble("amd64", {"ROCKPACK_PEBBLE_MIRROR": mirror.url}) == got
    assert len(mirror.requests) == downloads  # the second time from the cache


def test_a_binary(tmp_path):
    binary = write_file(tmp_path / "any-name", make_elf(buildinfo=go_buildinfo(version="v1.40.0")))
    got = provide_pebble("amd64", {SOURCE: str(binary)})
    assert got.binary.read_bytes() == binary.read_bytes() and got.binary.name == "pebble"
    assert (got.version, got.archive_sha256) == ("v1.40.0", None)


def test_a_directory(tmp_path):
    write_file(tmp_path / "dist/bin/pebble", make_elf())
    write_file(tmp_path / "dist/README", b"readme")
    got = provide_pebble("amd64", {SOURCE: str(tmp_path / "dist")})
    assert got.sha256 == sha(make_elf()) and got.version == "(devel)"


def test_a_directory_without_pebble(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(PebbleUnavailableError, match="holds no file named 'pebble'"):
        provide_pebble("amd64", {SOURCE: str(tmp_path / "empty")})


def test_an_archive_whose_digest_is_trusted_gets_its_version(tmp_path):
    content = release_archive(make_elf())
    archive = write_file(tmp_path / "pebble.tar.gz", content)
    assert provide_pebble("amd64", {SOURCE: str(archive)}).version == "(devel)"
    trust.record(ReleaseAsset("v1.32.1", "amd64", "u"), sha(content), trust.trust_file_path())
    got = provide_pebble("amd64", {SOURCE: str(archive)})
    assert (got.version, got.archive_sha256) == ("v1.32.1", sha(content))


def test_a_wrong_binary_in_an_archive_is_named_so(tmp_path):
    archive = write_file(tmp_path / "a.tgz", release_archive(make_elf("arm64")))
    with pytest.raises(NotPebbleError) as info:
        provide_pebble("amd64", {SOURCE: str(archive)})
    assert info.value.brief.startswith(f"'pebble' in {archive} cannot be the rock's Pebble")


def test_an_archive_with_pebble_anywhere(tmp_path):
    archive = write_file(tmp_path / "a.tgz", release_archive(make_elf(), name="x/pebble"))
    assert provide_pebble("amd64", {SOURCE: str(archive)}).sha256 == sha(make_elf())


def test_an_archive_without_pebble(tmp_path):
    archive = write_file(tmp_path / "a.tgz", release_archive(make_elf(), name="pebble.bin"))
    with pytest.raises(ArchiveError, match="no file named 'pebble' in it") as info:
        provide_pebble("amd64", {SOURCE: str(archive)})
    assert "ROCKPACK_PEBBLE_SOURCE" in info.value.brief


def test_a_url(mirror):
    got = provide_pebble(
        "arm64", {SOURCE: f"{mirror.url}/v1.32.1/pebble_v1.32.1_linux_arm64.tar.gz"}
    )
    assert got.sha256 == sha(make_elf("arm64"))


def test_a_url_that_fails(mirror):
    with pytest.raises(PebbleUnavailableError, match=r"could not download .*HTTP 404"):
        provide_pebble("amd64", {SOURCE: f"{mirror.url}/nothing"})


@pytest.mark.parametrize(
    ("value", "message"),
    [("relative/pebble", "not an absolute path"), ("/no/such/pebble", "does not exist")],
)
def test_bad_paths(value, message):
    with pytest.raises(PebbleUnavailableError, match=message):
        provide_pebble("amd64", {SOURCE: value})


def test_wrong_files_are_refused_whatever_the_source(tmp_path):
    dynamic = tmp_path / "acme/pebble"
    dynamic.parent.mkdir()
    shutil.copy("/bin/true", dynamic)
    for path, problem in (
        (dynamic, "dynamically linked"),
        (write_file(tmp_path / "arm/pebble", make_elf("arm64")), "for AArch64, not for amd64"),
        (write_file(tmp_path / "txt/pebble", b"not a program\n"), "a text file"),
    ):
        with pytest.raises(NotPebbleError, match=problem) as info:
            provide_pebble("amd64", {SOURCE: str(path)})
        assert info.value.name == str(path)  # the user's file, not a temporary copy
        assert "Point ROCKPACK_PEBBLE_SOURCE at Canonical's Pebble for amd64" in (
            info.value.resolution
        )
    binaries = tmp_path / "xdg-cache/rockpack/pebble/binaries"
    assert not binaries.exists()  # a refused file never enters the cache


def test_the_source_variable_wins_over_the_mirror(mirror, tmp_path):
    binary = write_file(tmp_path / "pebble", make_elf())
    got = provide_pebble("amd64", {SOURCE: str(binary), "ROCKPACK_PEBBLE_MIRROR": mirror.url})
    assert mirror.requests == [] and got.archive_sha256 is None
