"""apt's and dpkg's run-time leftovers never reach a rock."""

from __future__ import annotations

import pytest

from rockpack.layer.volatile import is_volatile, without_volatile
from rockpack.oci.entries import Entry, Kind


@pytest.mark.parametrize(
    "path",
    [
        "var/cache/apt/pkgcache.bin",
        "var/cache/apt/srcpkgcache.bin",
        "var/cache/apt/archives/tree_2.1.0-1_amd64.deb",
        "var/log/apt/history.log",
        "var/log/apt/term.log",
        "var/log/dpkg.log",
        "var/lib/dpkg/status-old",
        "var/cache/debconf/config.dat-old",
        "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease",
    ],
)
def test_volatile_paths(path):
    assert is_volatile(path)


@pytest.mark.parametrize(
    "path",
    ["var/lib/dpkg/status", "var/lib/dpkg/info/tree.list", "usr/bin/tree", "var/log/app.log"],
)
def test_what_the_image_needs_stays(path):
    assert not is_volatile(path)


def test_directories_stay_and_files_go():
    entries = [
        Entry("var/log/apt", Kind.DIR, 0o755),
        Entry("var/log/apt/history.log", Kind.FILE, 0o644, content=b"Start-Date: now"),
        Entry("var/lib/dpkg/status", Kind.FILE, 0o644, content=b"Package: tree"),
    ]
    assert [e.path for e in without_volatile(entries)] == ["var/log/apt", "var/lib/dpkg/status"]
