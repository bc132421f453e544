"""Where the Pebble binary comes from."""

from __future__ import annotations

import tarfile

import pytest

from rockpack.errors import RockpackError
from rockpack.pebble.part import (
    PebbleUnavailableError,
    check_user_part,
    pebble_part,
)


def test_without_a_source_or_pin_the_message_says_what_to_do():
    with pytest.raises(PebbleUnavailableError, match="no pinned Pebble release for amd64") as info:
        pebble_part("amd64", {})
    assert "ROCKPACK_PEBBLE_SOURCE" in info.value.resolution


def test_a_binary(tmp_path):
    binary = tmp_path / "pebble-1.2"
    binary.write_bytes(b"\x7fELF")
    part = pebble_part("amd64", {"ROCKPACK_PEBBLE_SOURCE": str(binary)})
    assert (part["source"], part["source-type"]) == (str(binary), "file")
    assert (
        'install -D -m 0755 "$bin" "$CRAFT_PART_INSTALL/usr/bin/pebble"' in part["override-build"]
    )
    assert part["prime"] == ["usr/bin/pebble"]


def test_a_directory_and_an_archive(tmp_path):
    (tmp_path / "dir").mkdir()
    assert (
        pebble_part("amd64", {"ROCKPACK_PEBBLE_SOURCE": str(tmp_path / "dir")})["source-type"]
        == "local"
    )
    archive = tmp_path / "pebble.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "dir", arcname="pebble")
    assert pebble_part("amd64", {"ROCKPACK_PEBBLE_SOURCE": str(archive)})["source-type"] == "tar"


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://example.com/pebble_v1_linux_amd64.tar.gz", "tar"),
        ("https://example.com/bin/pebble", "file"),
    ],
)
def test_urls(url, kind):
    assert pebble_part("amd64", {"ROCKPACK_PEBBLE_SOURCE": url})["source-type"] == kind


@pytest.mark.parametrize(
    ("value", "message"),
    [("relative/pebble", "not an absolute path"), ("/no/such/pebble", "does not exist")],
)
def test_bad_sources(value, message):
    with pytest.raises(PebbleUnavailableError, match=message):
        pebble_part("amd64", {"ROCKPACK_PEBBLE_SOURCE": value})


def test_a_project_part_named_pebble_is_refused_unless_identical(tmp_path):
    injected = {"plugin": "nil"}
    check_user_part({"pebble": {"plugin": "nil"}}, injected)
    with pytest.raises(RockpackError, match="part named 'pebble'"):
        check_user_part({"pebble": {"plugin": "dump", "source": "."}}, injected)


def test_the_refusal_names_the_explicit_opt_in():
    with pytest.raises(RockpackError) as info:
        check_user_part({"pebble": {"plugin": "dump", "source": "."}}, {"plugin": "nil"})
    assert "'pebble: project'" in info.value.resolution
