"""The SBOM's readers, one metadata format each, on small real files."""

from __future__ import annotations

import io
import json
import os
import subprocess
import textwrap
import zipfile
from pathlib import Path

import pytest

from rockpack.image.sbom.debs import overlay_debs, read_deb, staged_debs
from rockpack.image.sbom.dpkg import (
    DebPackage,
    Distro,
    distro_from_base_name,
    distro_from_os_release,
    installed_packages,
    os_release,
    parse_stanzas,
)
from rockpack.image.sbom.go_modules import read_go_program
from rockpack.image.sbom.jars import read_jar
from rockpack.image.sbom.npm import is_package_json, read_package_json
from rockpack.image.sbom.prime_scan import scan_prime
from rockpack.image.sbom.python_dists import read_dist_info
from tests.conftest import require_tool

STATUS = """\
Package: libc6
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u4
Description: GNU C Library: Shared libraries
 Contains the standard libraries
 .
 that are used by nearly all programs.

Package: gone
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0

Package: zlib1g
Status: install ok installed
Architecture: amd64
Source: zlib (1:1.2.13.dfsg-1)
Version: 1:1.2.13.dfsg-1+b1
"""
DEP5 = """\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: *
Copyright: 2020 Someone
License: GPL-3+
"""


def test_dpkg_status_lists_the_installed_packages():
    packages = installed_packages(STATUS)
    assert [p.name for p in packages] == ["libc6", "zlib1g"]
    assert packages[0] == DebPackage("libc6", "2.36-9+deb12u4", "amd64", source="glibc")
    assert (packages[1].source, packages[1].source_version) == ("zlib", "1:1.2.13.dfsg-1")
    assert parse_stanzas(STATUS)[0]["description"].endswith("that are used by nearly all programs.")


def test_os_release_names_the_distribution():
    text = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'
    assert distro_from_os_release(os_release(text)) == Distro("debian", "debian-12")
    assert distro_from_os_release(os_release("ID=debian\nVERSION_CODENAME=trixie\n")) == Distro(
        "debian", "debian-trixie"
    )
    assert distro_from_os_release({}) is None
    assert distro_from_base_name("ubuntu@24.04") == Distro("ubuntu", "ubuntu-24.04")
    assert distro_from_base_name("bare") is None


def test_python_distribution_metadata_and_record(tmp_path):
    site = tmp_path / "usr/lib/python3/dist-packages"
    info = site / "gunicorn-21.2.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: gunicorn\nVersion: 21.2.0\nLicense: MIT\n"
        "Classifier: License :: OSI Approved :: MIT License\n\nName: not-a-header\n"
    )
    (info / "RECORD").write_text(
        "gunicorn/__init__.py,sha256=x,10\n../../../bin/gunicorn,,\n/etc/escape,,\n"
        "../../../../../../outside,,\n"
    )
    dist = read_dist_info(tmp_path, "usr/lib/python3/dist-packages/gunicorn-21.2.0.dist-info")
    assert (dist.name, dist.version, dist.license) == ("gunicorn", "21.2.0", "MIT")
    assert "usr/lib/python3/dist-packages/gunicorn/__init__.py" in dist.files
    assert "usr/bin/gunicorn" in dist.files
    assert not any(f.startswith(("..", "/", "etc")) or "outside" in f for f in dist.files)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nSummary: nameless\n")
    assert (
        read_dist_info(tmp_path, "usr/lib/python3/dist-packages/gunicorn-21.2.0.dist-info") is None
    )


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("app/node_modules/express/package.json", True),
        ("app/node_modules/@types/node/package.json", True),
        ("app/node_modules/a/node_modules/b/package.json", True),
        ("app/package.json", False),  # the app itself, not a dependency
        ("app/node_modules/express/lib/package.json", False),  # inside a package
        ("app/node_modules/@types/package.json", False),
    ],
)
def test_which_package_json_files_are_packages(path, expected):
    assert is_package_json(path) is expected


def test_npm_package_json(tmp_path):
    directory = tmp_path / "node_modules/@scope/thing"
    directory.mkdir(parents=True)
    (directory / "package.json").write_text(
        json.dumps({"name": "@scope/thing", "version": "2.0.0", "license": "ISC"})
    )
    package = read_package_json(tmp_path, "node_modules/@scope/thing/package.json")
    assert (package.name, package.version, package.license) == ("@scope/thing", "2.0.0", "ISC")
    assert package.directory == "node_modules/@scope/thing"
    (directory / "package.json").write_text("[not an object")
    assert read_package_json(tmp_path, "node_modules/@scope/thing/package.json") is None


def _jar(entries: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_jar_coordinates_from_pom_properties_and_nested_jars(tmp_path):
    pom = "META-INF/maven/{}/pom.properties"
    inner = _jar({pom.format("com.x/inner"): "groupId=com.x\nartifactId=inner\nversion=2\n"})
    manifest_only = _jar(
        {"META-INF/MANIFEST.MF": "Implementation-Title: lonely\nImplementation-Version: 3.1\n"}
    )
    outer = _jar(
        {
            "META-INF/MANIFEST.MF": "Manifest-Version: 1.0\nBundle-License: Apache-2.0\n",
            pom.format("org.example/app"): "# made by Maven\ngroupId=org.example\n"
            "artifactId=app\nversion=1.0\n",
            "BOOT-INF/lib/inner-2.jar": inner,
            "BOOT-INF/lib/lonely.jar": manifest_only,
        }
    )
    (tmp_path / "app.jar").write_bytes(outer)
    found = {(a.group, a.artifact, a.version): a for a in read_jar(tmp_path, "app.jar")}
    assert set(found) == {
        ("org.example", "app", "1.0"),
        ("com.x", "inner", "2"),
        ("", "lonely", "3.1"),
    }
    assert found["org.example", "app", "1.0"].license == "Apache-2.0"
    assert found["com.x", "inner", "2"].path == "app.jar!/BOOT-INF/lib/inner-2.jar"
    (tmp_path / "broken.jar").write_bytes(b"PK not a zip")
    assert read_jar(tmp_path, "broken.jar") == []


def test_go_program_build_info(tmp_path):
    go = require_tool("go")
    source = tmp_path / "src"
    source.mkdir()
    (source / "go.mod").write_text("module example.com/hello\n\ngo 1.19\n")
    (source / "main.go").write_text("package main\n\nfunc main() {}\n")
    env = {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-buildvcs=false", "GOPROXY": "off"}
    subprocess.run(
        [go, "build", "-o", str(tmp_path / "hello"), "."], cwd=source, env=env, check=True
    )
    program = read_go_program(tmp_path, "hello")
    assert (program.module, program.module_version) == ("example.com/hello", "(devel)")
    assert program.go_version.startswith("go1.")
    (tmp_path / "script").write_text("#!/bin/sh\n")
    assert read_go_program(tmp_path, "script") is None
    assert read_go_program(tmp_path, "missing") is None


def test_scan_prime_walks_once_without_following_symlinks(tmp_path):
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin/tool").write_bytes(b"12345")
    (tmp_path / "bin/tool").chmod(0o755)
    (tmp_path / "lib/app/node_modules/x").mkdir(parents=True)
    (tmp_path / "lib/app/node_modules/x/package.json").write_text("{}")
    (tmp_path / "lib/p-1.0.dist-info").mkdir()
    (tmp_path / "lib/a.jar").write_bytes(b"")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside/secret").write_text("x")
    (tmp_path / "lib/link").symlink_to(tmp_path / "outside")
    found = scan_prime(tmp_path)
    assert found.sizes["bin/tool"] == 5 and found.sizes["lib/link"] == 0
    assert "lib/link/secret" not in found.sizes
    assert found.executables == ["bin/tool"]
    assert found.package_jsons == ["lib/app/node_modules/x/package.json"]
    assert found.dist_infos == ["lib/p-1.0.dist-info"]
    assert found.jars == ["lib/a.jar"]


def build_deb(tmp_path: Path, name: str = "demo", version: str = "1.0-1") -> Path:
    dpkg_deb = require_tool("dpkg-deb")
    root = tmp_path / f"{name}-root"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN/control").write_text(
        textwrap.dedent(
            f"""\
            Package: {name}
            Version: {version}
            Architecture: amd64
            Maintainer: Someone <someone@example.com>
            Source: demo-src
            Description: a demo
            """
        )
    )
    (root / "usr/bin").mkdir(parents=True)
    (root / f"usr/bin/{name}").write_text("#!/bin/sh\n")
    (root / f"usr/share/doc/{name}").mkdir(parents=True)
    (root / f"usr/share/doc/{name}/copyright").write_text(DEP5)
    (root / "usr/bin/alias").symlink_to(name)
    deb = tmp_path / "stage_packages" / f"{name}_{version}_amd64.deb"
    deb.parent.mkdir(exist_ok=True)
    subprocess.run(  # SOURCE_DATE_EPOCH: the same .deb bytes (and sha256) every build
        [dpkg_deb, "--root-owner-group", "--build", str(root), str(deb)],
        check=True,
        capture_output=True,
        env={**os.environ, "SOURCE_DATE_EPOCH": "1700000000"},
    )
    return deb


def test_a_staged_deb_gives_its_package_files_licence_and_digest(tmp_path):
    deb = build_deb(tmp_path)
    found = read_deb(deb)
    assert found.package == DebPackage("demo", "1.0-1", "amd64", source="demo-src")
    assert {"usr/bin/demo", "usr/bin/alias", "usr/share/doc/demo/copyright"} <= found.files
    assert "usr/bin" not in found.files  # directories are not claimed
    assert found.license == "GPL-3.0-or-later"
    import hashlib

    assert found.sha256 == hashlib.sha256(deb.read_bytes()).hexdigest()
    assert [d.package.name for d in staged_debs(deb.parent)] == ["demo"]


def test_a_damaged_deb_is_a_clear_error(tmp_path):
    from rockpack.errors import LifecycleError

    bad = tmp_path / "bad_1_amd64.deb"
    bad.write_bytes(b"!<arch>\nnot really")
    with pytest.raises(LifecycleError, match=r"Cannot read the package bad_1_amd64\.deb"):
        read_deb(bad)


def test_overlay_packages_are_the_status_entries_the_base_lacks(tmp_path):
    status = tmp_path / "var/lib/dpkg/status"
    status.parent.mkdir(parents=True)
    status.write_text(
        STATUS
        + "\nPackage: tree\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.1.0-1\n"
    )
    (tmp_path / "var/lib/dpkg/info").mkdir()
    (tmp_path / "var/lib/dpkg/info/tree.list").write_text("/.\n/usr\n/usr/bin\n/usr/bin/tree\n")
    (tmp_path / "usr/share/doc/tree").mkdir(parents=True)
    (tmp_path / "usr/share/doc/tree/copyright").write_text(DEP5)
    base = installed_packages(STATUS)
    (tree,) = overlay_debs(tmp_path, base)
    assert (tree.package.name, tree.package.version, tree.license) == (
        "tree",
        "2.1.0-1",
        "GPL-3.0-or-later",
    )
    assert "usr/bin/tree" in tree.files
    upgraded = [DebPackage("zlib1g", "1:1.2.13.dfsg-1", "amd64"), base[0]]
    assert {d.package.name for d in overlay_debs(tmp_path, upgraded)} == {"tree", "zlib1g"}
    assert overlay_debs(tmp_path / "nothing", base) == []


def test_the_base_system_is_read_from_its_layers_then_from_the_cache(tmp_path):
    from rockpack.base.index import build_index
    from rockpack.base.resolve import BaseImage
    from rockpack.image.sbom.base_packages import base_system
    from rockpack.oci.blobs import BlobStore
    from rockpack.oci.entries import Entry, Kind
    from rockpack.oci.layer import write_layer
    from rockpack.oci.reference import parse_reference

    def file(path: str, text: str) -> Entry:
        return Entry(path, Kind.FILE, 0o644, size=len(text.encode()), content=text.encode())

    def directory(path: str) -> Entry:
        return Entry(path, Kind.DIR, 0o755)

    store = BlobStore(tmp_path / "blobs")
    lower = write_layer(
        [
            directory("etc"),
            Entry("etc/os-release", Kind.SYMLINK, 0o777, link_target="../usr/lib/os-release"),
            directory("usr"),
            directory("usr/lib"),
            file("usr/lib/os-release", "ID=debian\nVERSION_ID=12\n"),
            directory("usr/share"),
            directory("usr/share/doc"),
            directory("usr/share/doc/libc6"),
            file("usr/share/doc/libc6/copyright", DEP5),
            directory("var"),
            directory("var/lib"),
            directory("var/lib/dpkg"),
            file("var/lib/dpkg/status", STATUS),
        ],
        store,
    )
    upper = write_layer(  # a distroless-style package on top
        [
            directory("var"),
            directory("var/lib"),
            directory("var/lib/dpkg"),
            directory("var/lib/dpkg/status.d"),
            file(
                "var/lib/dpkg/status.d/tzdata",
                "Package: tzdata\nVersion: 2024a\nArchitecture: all\n",
            ),
        ],
        store,
    )
    layers = [lower.descriptor, upper.descriptor]
    base = BaseImage(
        "debian@12",
        parse_reference("example.com/debian:12"),
        "sha256:" + "9" * 64,
        "application/vnd.oci.image.manifest.v1+json",
        {},
        layers,
    )
    index = build_index([store.path(layer.digest) for layer in layers])
    system = base_system(base, store, index, tmp_path / "cache")
    assert system.distro == Distro("debian", "debian-12")
    assert [p.name for p in system.packages] == ["libc6", "zlib1g", "tzdata"]
    assert system.licenses == {"libc6": "GPL-3.0-or-later"}
    for layer in layers:  # the layers are not read again
        store.path(layer.digest).unlink()
    assert base_system(base, store, index, tmp_path / "cache") == system
