"""One read of a staged .deb serves the layer's special modes and the SBOM, and is kept
by the package's digest."""

from __future__ import annotations

import subprocess

import pytest

from rockpack.build import deb_contents as module
from rockpack.build.deb_contents import SpecialFile, deb_contents
from rockpack.build.package_modes import special_modes_from_debs
from tests.conftest import require_tool
from tests.unit.image.test_sbom_readers import build_deb


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache/rockpack/deb-contents"


def setuid_deb(tmp_path):
    """A package with a setuid file, built as root-owned."""
    deb = build_deb(tmp_path)
    root = tmp_path / "demo-root"
    (root / "usr/bin/demo").chmod(0o4755)
    dpkg_deb = require_tool("dpkg-deb")
    subprocess.run(
        [dpkg_deb, "--root-owner-group", "--build", str(root), str(deb)],
        check=True,
        capture_output=True,
        env={"SOURCE_DATE_EPOCH": "1700000000", "PATH": "/usr/bin:/bin"},
    )
    return deb


def test_one_read_gives_files_copyright_and_special_modes(tmp_path, cache):
    contents = deb_contents(setuid_deb(tmp_path))
    assert "usr/bin/demo" in contents.files and "usr/bin" not in contents.files
    assert contents.copyright is not None and "License: GPL-3+" in contents.copyright
    assert contents.special == (SpecialFile("usr/bin/demo", 0o4755, 0, 0, 10),)
    assert [p.name for p in cache.iterdir()] == [f"{contents.sha256}.json"]
    modes = special_modes_from_debs([tmp_path / "stage_packages/demo_1.0-1_amd64.deb"])
    assert modes["usr/bin/demo"].mode == 0o4755
    assert modes["usr/bin/demo"].expected_mode == 0o755


def test_the_same_package_is_not_read_again(tmp_path, monkeypatch):
    deb = setuid_deb(tmp_path)
    first = deb_contents(deb)

    def no_second_read(*args):
        raise AssertionError("read again")

    monkeypatch.setattr(module, "_read", no_second_read)
    assert deb_contents(deb) == first


def test_a_damaged_cache_entry_is_read_afresh(tmp_path, cache):
    deb = setuid_deb(tmp_path)
    first = deb_contents(deb)
    entry = cache / f"{first.sha256}.json"
    for damage in ("{not json", '{"format": 1, "sha256": "other"}', "[]"):
        entry.write_text(damage)
        assert deb_contents(deb) == first


def test_an_unwritable_cache_is_no_error(tmp_path, cache):
    cache.parent.mkdir(parents=True)
    cache.write_text("a file where the cache's directory goes")
    assert deb_contents(setuid_deb(tmp_path)).special
