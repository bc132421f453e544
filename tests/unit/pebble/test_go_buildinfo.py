"""Go's build info blob, read from the bytes where the linker puts it."""

from __future__ import annotations

import pytest

from rockpack.pebble.go_buildinfo import OldBuildInfoError, find_build_info
from tests.unit.pebble.fakes import go_buildinfo, uvarint


def test_the_main_package_module_and_version():
    info = find_build_info(bytes(32) + go_buildinfo(version="v1.32.1"))
    assert info is not None
    assert (info.go_version, info.path, info.module, info.module_version) == (
        "go1.26.5",
        "github.com/canonical/pebble/cmd/pebble",
        "github.com/canonical/pebble",
        "v1.32.1",
    )


def test_no_magic_means_no_build_info():
    assert find_build_info(b"") is None
    assert find_build_info(bytes(4096)) is None


def test_the_magic_counts_only_on_a_16_byte_boundary():
    blob = go_buildinfo()
    assert find_build_info(bytes(8) + blob) is None  # misaligned: not Go's
    assert find_build_info(bytes(8) + blob[:20] + bytes(4) + blob) is not None


def test_long_strings_have_multibyte_lengths():
    assert uvarint(300) == b"\xac\x02"
    info = find_build_info(go_buildinfo(package="example.com/" + "p" * 400))
    assert info is not None and info.path == "example.com/" + "p" * 400


def test_strings_running_off_the_end_are_an_error():
    with pytest.raises(ValueError, match="runs off the end"):
        find_build_info(go_buildinfo()[:-20])


def test_the_pointer_format_of_old_go_is_reported():
    with pytest.raises(OldBuildInfoError):
        find_build_info(go_buildinfo(inline=False))
