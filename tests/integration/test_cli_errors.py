"""Bad input through the real command line: one clear error, non-zero exit, no .rock."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.conftest import MINIMAL, run_rockpack, write_project

MINIMAL_TEXT = textwrap.dedent(MINIMAL).lstrip()


def assert_clean_failure(result, *expected: str, code: int = 1) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for text in expected:
        assert text in result.stderr, result.stderr


def assert_no_rock(*directories) -> None:
    for directory in directories:
        leftovers = [p for p in directory.rglob("*.rock*") if ".rockpack" not in p.parts]
        assert leftovers == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "name: [unclosed\n",
            ["rockpack.yaml:2: is not valid YAML", "flow sequence that starts at line 1"],
        ),
        (
            MINIMAL_TEXT.replace("platforms:\n  amd64:", "platforms: [amd64]"),
            ["key 'platforms'", "valid dictionary"],
        ),
        (MINIMAL_TEXT + "colour: blue\n", ["rockpack.yaml:13: key 'colour': is not a known key"]),
        (
            MINIMAL_TEXT.replace("summary: A test rock\n", ""),
            ["key 'summary'", "(needed unless 'adopt-info'"],
        ),
        (
            MINIMAL_TEXT.replace("name: hello", "name: Hello_World"),
            ["rockpack.yaml:1: key 'name': invalid name for rock"],
        ),
        (MINIMAL_TEXT + "env:\n  A: b\n", ["key 'env': is not supported", "Pebble"]),
    ],
    ids=["malformed-yaml", "wrong-type", "unknown-key", "missing-key", "invalid-name", "env"],
)
def test_bad_project_files(tmp_path, text, expected):
    (tmp_path / "rockpack.yaml").write_text(text)
    for command in ("expand-extensions", "pack"):
        args = [command, "--project-dir", tmp_path]
        if command == "pack":
            args.append("--destructive-mode")
        assert_clean_failure(run_rockpack(*args), *expected)
    assert_no_rock(tmp_path)
    assert not (tmp_path / ".rockpack").exists()  # nothing ran


def test_no_project_file(tmp_path):
    result = run_rockpack("pack", "--destructive-mode", "--project-dir", tmp_path)
    assert_clean_failure(result, "No project file", "rockpack init")


def test_without_lxd_and_without_a_flag_says_how_to_proceed(tmp_path):
    write_project(tmp_path, MINIMAL)
    result = run_rockpack(
        "pack", "--project-dir", tmp_path, env={"LXD_DIR": str(tmp_path / "no-lxd-here")}
    )
    assert_clean_failure(result, "No clean build environment", "--destructive-mode", code=2)


def test_services_need_pebble_which_is_not_available(tmp_path):
    write_project(
        tmp_path,
        MINIMAL + "    services:\n      s:\n        override: replace\n        command: /bin/s\n",
    )
    result = run_rockpack("pack", "--destructive-mode", "--project-dir", tmp_path)
    assert_clean_failure(result, "needs Pebble")
    assert not (tmp_path / ".rockpack").exists()  # failed before any part ran


def test_bad_source_date_epoch(tmp_path):
    write_project(tmp_path, MINIMAL)
    result = run_rockpack(
        "pack",
        "--destructive-mode",
        "--project-dir",
        tmp_path,
        env={"SOURCE_DATE_EPOCH": "yesterday"},
    )
    assert_clean_failure(result, "SOURCE_DATE_EPOCH='yesterday'")


@pytest.mark.integration
def test_missing_version_at_pack_time(tmp_path):
    write_project(tmp_path, MINIMAL.replace('    version: "1.0"\n', "    adopt-info: hello\n"))
    result = run_rockpack("pack", "--destructive-mode", "--project-dir", tmp_path)
    assert_clean_failure(result, "has no version", "craftctl set version")
    assert_no_rock(tmp_path)


@pytest.mark.integration
def test_adopted_version_names_the_rock(tmp_path):
    text = MINIMAL.replace('    version: "1.0"\n', "    adopt-info: hello\n")
    text = text.replace(
        "plugin: nil", "plugin: nil\n        override-build: craftctl set version=2.5"
    )
    write_project(tmp_path, text)
    result = run_rockpack("pack", "--destructive-mode", "--project-dir", tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "hello_2.5_amd64.rock").is_file()


@pytest.mark.integration
def test_output_that_is_not_a_directory(tmp_path):
    write_project(tmp_path / "p", MINIMAL)
    (tmp_path / "file").write_text("x")
    result = run_rockpack(
        "pack",
        "--destructive-mode",
        "--project-dir",
        tmp_path / "p",
        "-o",
        tmp_path / "file" / "out",
    )
    assert_clean_failure(result, "Cannot create the output directory", "--output")
    assert_no_rock(tmp_path)


@pytest.mark.integration
def test_read_only_output_directory(tmp_path):
    write_project(tmp_path / "p", MINIMAL)
    readonly = tmp_path / "ro"
    readonly.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(readonly)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {mounted.stderr!r}")
    try:
        result = run_rockpack(
            "pack", "--destructive-mode", "--project-dir", tmp_path / "p", "-o", readonly
        )
        assert_clean_failure(result, f"Cannot write to {readonly}", "Read-only file system")
    finally:
        subprocess.run(["umount", str(readonly)], check=True)
    assert_no_rock(tmp_path)


def test_two_runs_in_one_project_do_not_overlap(tmp_path):
    import fcntl
    import os

    write_project(tmp_path, MINIMAL)
    (tmp_path / ".rockpack").mkdir()
    fd = os.open(tmp_path / ".rockpack/lock", os.O_RDWR | os.O_CREAT)
    os.write(fd, b"4242")
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        result = run_rockpack("pack", "--destructive-mode", "--project-dir", tmp_path)
        assert_clean_failure(result, "Another rockpack run (pid 4242)")
    finally:
        os.close(fd)


def test_package_repositories_are_not_applied_to_this_host_unasked(tmp_path):
    write_project(
        tmp_path,
        MINIMAL
        + "    package-repositories:\n      - type: apt\n        url: http://127.0.0.1:9/debian\n"
        "        suites: [stable]\n        components: [main]\n        key-id: " + "A" * 40 + "\n",
    )
    sources = sorted(p.name for p in Path("/etc/apt/sources.list.d").iterdir())
    result = run_rockpack("pack", "--destructive-mode", "--project-dir", tmp_path)
    assert_clean_failure(
        result, "would change its apt sources", "--apply-package-repositories", code=2
    )
    assert sorted(p.name for p in Path("/etc/apt/sources.list.d").iterdir()) == sources
    assert not (tmp_path / ".rockpack/work").exists()


def test_a_ppa_needs_an_ubuntu_build_base(tmp_path):
    write_project(
        tmp_path,
        MINIMAL + "    package-repositories:\n      - type: apt\n        ppa: team/archive\n",
    )
    result = run_rockpack("pack", "--destructive-mode", "--project-dir", tmp_path)
    assert_clean_failure(result, "is a PPA, which only an Ubuntu build-base can use")
    assert not (tmp_path / ".rockpack/work").exists()


def test_a_reader_that_stops_early_gets_no_error(tmp_path):
    """`rockpack inspect ROCK | head -1`: rockpack ends quietly, as cat does, when the
    reader closes the pipe."""
    import os
    import sys

    from tests.unit.oci.rock_fixtures import make_rock

    rock = make_rock(tmp_path)
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before rockpack writes a byte
    try:
        result = subprocess.run(
            [sys.executable, "-m", "rockpack", "inspect", str(rock)],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert result.returncode == 141, result.stderr
    assert result.stderr == ""
