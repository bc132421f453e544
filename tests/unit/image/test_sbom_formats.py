"""Package URLs, licences as SPDX expressions, and Debian's machine-readable copyright."""

from __future__ import annotations

import pytest

from rockpack.image.sbom.debian_copyright import copyright_license, debian_expression
from rockpack.image.sbom.licenses import npm_license, python_license, spdx_expression
from rockpack.image.sbom.purl import (
    deb_purl,
    generic_purl,
    golang_purl,
    maven_purl,
    npm_purl,
    oci_purl,
    purl,
    pypi_purl,
)


@pytest.mark.parametrize(
    ("built", "expected"),
    [
        # the form; '+' percent-encoded, ':' of an epoch kept (purl spec)
        (
            deb_purl("debian", "libc6", "2.36-9+deb12u4", "amd64", "debian-12"),
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12",
        ),
        (
            deb_purl("Debian", "Perl-Base", "1:5.36.0-7", "all", ""),
            "pkg:deb/debian/perl-base@1:5.36.0-7?arch=all",
        ),
        (pypi_purl("Flask_SQLAlchemy", "3.1.1"), "pkg:pypi/flask-sqlalchemy@3.1.1"),
        (npm_purl("@types/node", "20.1.0"), "pkg:npm/%40types/node@20.1.0"),
        (npm_purl("left-pad", "1.3.0"), "pkg:npm/left-pad@1.3.0"),
        (
            golang_purl("github.com/BurntSushi/toml", "v1.3.2"),
            "pkg:golang/github.com/BurntSushi/toml@v1.3.2",
        ),
        (golang_purl("example.com/app", "(devel)"), "pkg:golang/example.com/app"),
        (
            maven_purl("org.apache", "commons-io", "2.15.0"),
            "pkg:maven/org.apache/commons-io@2.15.0",
        ),
        (
            generic_purl("pebble", "v1.32.1", "ab" * 32),
            f"pkg:generic/pebble@v1.32.1?checksum=sha256:{'ab' * 32}",
        ),
        (
            oci_purl("docker.io/library/debian", "sha256:" + "0" * 64, "bookworm", "amd64"),
            "pkg:oci/debian@sha256:" + "0" * 64 + "?arch=amd64"
            "&repository_url=docker.io%2Flibrary%2Fdebian&tag=bookworm",
        ),
        # qualifiers sorted, empty ones dropped; spaces and '#' encoded
        (
            purl("generic", "a b#c", "1", qualifiers={"z": "1", "a": "", "b": "x y"}),
            "pkg:generic/a%20b%23c@1?b=x%20y&z=1",
        ),
    ],
)
def test_purls_follow_the_specification(built, expected):
    assert built == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("MIT", "MIT"),
        ("mit OR apache-2.0", "MIT OR Apache-2.0"),
        ("GPL-2.0+", "GPL-2.0-or-later"),
        ("BSD", None),  # not an SPDX identifier
        ("SEE LICENSE IN LICENSE.txt", None),
        ("Copyright (c) someone. All rights reserved.", None),
        ("", None),
        (None, None),
        ("MIT" * 400, None),
    ],
)
def test_only_spdx_expressions_of_known_licences_are_kept(text, expected):
    assert spdx_expression(text) == expected


def test_python_licence_prefers_the_expression_then_the_field_then_one_classifier():
    mit = "License :: OSI Approved :: MIT License"
    assert python_license("Apache-2.0", "MIT", [mit]) == "Apache-2.0"
    assert python_license(None, "BSD-3-Clause", []) == "BSD-3-Clause"
    assert python_license(None, "The MIT License, see LICENSE", [mit]) == "MIT"
    bsd = "License :: OSI Approved :: BSD License"  # which BSD? no assertion
    assert python_license(None, None, [bsd]) is None
    assert python_license(None, None, [mit, bsd]) is None  # two: which applies?


def test_npm_licence_forms():
    assert npm_license({"license": "MIT"}) == "MIT"
    assert npm_license({"license": {"type": "ISC"}}) == "ISC"
    assert npm_license({"licenses": [{"type": "BSD-2-Clause"}]}) == "BSD-2-Clause"
    assert npm_license({"licenses": [{"type": "MIT"}, {"type": "GPL-2.0-only"}]}) is None
    assert npm_license({"license": "UNLICENSED"}) is None
    assert npm_license({}) is None


DEP5 = """\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: demo

Files: *
Copyright: 2020 Someone
License: GPL-2+

Files: lib/*
Copyright: 2021 Else
License: Expat or GPL-2+

Files: debian/*
Copyright: 2022 Debian
License: GPL-2+
 This paragraph's text is the licence's, not another name.

License: Expat
 Permission is hereby granted...
"""


def test_a_machine_readable_copyright_file_gives_all_of_its_licences():
    assert copyright_license(DEP5) == "GPL-2.0-or-later AND (MIT OR GPL-2.0-or-later)"


def test_one_licence_that_does_not_map_makes_no_assertion():
    assert (
        copyright_license(DEP5.replace("License: Expat or GPL-2+", "License: public-domain"))
        is None
    )
    assert (
        copyright_license("This package was debianized by someone.\n\nGPL, see /usr/share") is None
    )
    assert copyright_license("") is None


@pytest.mark.parametrize(
    ("short", "expected"),
    [
        ("GPL-2", "GPL-2.0-only"),
        ("LGPL-2.1+", "LGPL-2.1-or-later"),
        ("GFDL-NIV-1.3+", "GFDL-1.3-no-invariants-or-later"),
        ("Artistic", "Artistic-1.0-Perl"),
        ("Apache-2", "Apache-2.0"),
        ("BSD-3-clause", "BSD-3-Clause"),
        ("GPL-1+ or Artistic", "GPL-1.0-or-later OR Artistic-1.0-Perl"),
        ("GPL-1+ or Artistic, and Expat", "(GPL-1.0-or-later OR Artistic-1.0-Perl) AND MIT"),
        ("GPL-2+ with OpenSSL exception", None),
        ("GPL", None),
        ("LGPL", None),
        ("public-domain", None),
        ("BSD-3-clause, Expat", None),
    ],
)
def test_debian_short_names(short, expected):
    assert debian_expression(short) == expected
