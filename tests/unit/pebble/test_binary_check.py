"""Is it Pebble for this architecture? ELF, machine, static linking and Go build info."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from rockpack.pebble.binary_check import NotPebbleError, check_pebble_binary, describe_non_elf
from rockpack.pebble.elf import read_elf
from tests.unit.pebble.fakes import go_buildinfo, make_elf, write_file

FIX = "point it at Pebble"


def check(path: Path, build_for: str = "amd64"):
    return check_pebble_binary(path, build_for, FIX)


def refusal(path: Path, build_for: str = "amd64") -> NotPebbleError:
    with pytest.raises(NotPebbleError) as info:
        check(path, build_for)
    assert info.value.name == str(path) and info.value.build_for == build_for
    assert info.value.resolution == FIX
    assert info.value.details.startswith(f"Needed: Pebble for {build_for}, a statically linked")
    return info.value


@pytest.mark.parametrize("arch", ["amd64", "arm64", "s390x", "armhf"])
def test_static_pebble_for_its_arch_passes(tmp_path, arch):
    checked = check(write_file(tmp_path / "pebble", make_elf(arch)), arch)
    assert checked.build_info.module == "github.com/canonical/pebble"
    assert checked.build_info.path == "github.com/canonical/pebble/cmd/pebble"
    assert checked.build_info.go_version == "go1.26.5"


def test_build_info_is_found_without_section_headers(tmp_path):
    binary = write_file(tmp_path / "pebble", make_elf(sections=False, padding=48))
    assert check(binary).build_info.module_version == "(devel)"


def test_a_binary_of_another_arch_is_refused(tmp_path):
    error = refusal(write_file(tmp_path / "pebble", make_elf("arm64")))
    assert error.problem == (
        "it is an executable for AArch64, not for amd64. "
        "It is the Go program github.com/canonical/pebble/cmd/pebble."
    )
    assert "x86-64 (64-bit, little-endian)" in error.details


def test_byte_order_counts(tmp_path):
    """s390x is big-endian: an s390x binary is refused for amd64 and the reverse."""
    assert "for IBM Z (s390x), not for amd64" in str(
        refusal(write_file(tmp_path / "pebble", make_elf("s390x")))
    )
    assert "for x86-64, not for s390x" in str(
        refusal(write_file(tmp_path / "p2", make_elf("amd64")), "s390x")
    )


def test_a_dynamic_binary_is_refused_and_named(tmp_path):
    binary = make_elf(interpreter="/lib64/ld-linux-x86-64.so.2", needed=("libc.so.6",))
    error = refusal(write_file(tmp_path / "pebble", binary))
    assert "dynamically linked" in error.problem
    assert "/lib64/ld-linux-x86-64.so.2" in error.problem and "libc.so.6" in error.problem
    assert "ACME test server" in error.problem


def test_the_acme_pebble_is_named_for_what_it_is(tmp_path):
    acme = make_elf(
        interpreter="/lib64/ld-linux-x86-64.so.2",
        needed=("libc.so.6",),
        buildinfo=go_buildinfo(
            "github.com/letsencrypt/pebble/v2/cmd/pebble", "github.com/letsencrypt/pebble/v2"
        ),
    )
    error = refusal(write_file(tmp_path / "pebble", acme))
    assert "It is the Go program github.com/letsencrypt/pebble/v2/cmd/pebble." in error.problem


def test_a_host_dynamic_executable_is_refused(tmp_path):
    """/bin/true stands for any dynamic executable named pebble (Debian's ACME pebble)."""
    fake = tmp_path / "pebble"
    shutil.copy("/bin/true", fake)
    assert "dynamically linked" in refusal(fake).problem
    assert read_elf(fake).needed  # it needs libc


def test_a_static_interpreterless_binary_with_needed_libraries_is_dynamic(tmp_path):
    error = refusal(write_file(tmp_path / "pebble", make_elf(needed=("libc.so.6",))))
    assert "interpreter none; needs libc.so.6" in error.problem


def test_a_static_program_that_is_not_go(tmp_path):
    error = refusal(write_file(tmp_path / "pebble", make_elf(buildinfo=b"")))
    assert error.problem == (
        "it is a static executable but it is not a Go program (it carries no Go build info), "
        "so it is not Pebble."
    )


def test_another_go_program(tmp_path):
    other = make_elf(buildinfo=go_buildinfo("example.com/tool/cmd/pebble", "example.com/tool"))
    error = refusal(write_file(tmp_path / "pebble", other))
    assert error.problem == (
        "it is the Go program example.com/tool/cmd/pebble (module example.com/tool), "
        "not Pebble (module github.com/canonical/pebble)."
    )


def test_old_go_build_info_is_refused(tmp_path):
    old = make_elf(buildinfo=go_buildinfo(inline=False))
    assert "format of Go before 1.18" in refusal(write_file(tmp_path / "pebble", old)).problem


def test_damaged_go_build_info_is_refused(tmp_path):
    damaged = make_elf(buildinfo=go_buildinfo()[:40])
    assert "Go build info is damaged" in refusal(write_file(tmp_path / "pebble", damaged)).problem


def test_an_object_file_is_not_an_executable(tmp_path):
    error = refusal(write_file(tmp_path / "pebble", make_elf(elf_type=1)))
    assert error.problem == "it is an ELF relocatable object, not an executable."


def test_a_truncated_elf(tmp_path):
    error = refusal(write_file(tmp_path / "pebble", make_elf()[:30]))
    assert "starts like an ELF file but cannot be read" in error.problem


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (b"", "an empty file"),
        (b"#!/bin/sh\necho pebble\n", "a script (interpreter /bin/sh)"),
        (gzip.compress(b"x"), "gzip-compressed data"),
        (b"PK\x03\x04rest", "a zip archive"),
        (b"MZ\x90\x00", "a Windows executable"),
        (b"Pebble is a service manager\n", "a text file"),
        (b"\x00\x01\x02\x03\xff\xfe\x00\x00", "data starting with bytes 00 01 02 03 ff fe 00 00"),
    ],
)
def test_a_file_that_is_not_elf_says_what_it_is(tmp_path, content, kind):
    error = refusal(write_file(tmp_path / "pebble", content))
    assert error.problem == f"it is {kind}, not an ELF executable."


def test_a_text_cut_inside_a_character_is_still_text():
    assert describe_non_elf(("é" * 300).encode()[:511]) == "a text file"


def test_the_messages_differ_by_kind_of_wrong_file(tmp_path):
    """The ACME-style dynamic binary, another arch, a non-ELF file: three messages."""
    dynamic = tmp_path / "acme" / "pebble"
    dynamic.parent.mkdir()
    shutil.copy("/bin/true", dynamic)
    problems = {
        refusal(dynamic).problem.split(" (", 1)[0],
        refusal(write_file(tmp_path / "arm" / "pebble", make_elf("arm64"))).problem[:40],
        refusal(write_file(tmp_path / "txt" / "pebble", b"hello\n")).problem,
    }
    assert len(problems) == 3
