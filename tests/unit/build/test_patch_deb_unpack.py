"""Stage-packages extracted side by side: upstream's install dir, origins and errors."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from craft_parts.packages import deb

from rockpack.build import patch_deb_unpack
from tests.conftest import require_tool
from tests.unit.build.awkward_tree import snapshot

ORIGIN = "user.craft_parts.origin_stage_package"


def make_deb(directory: Path, name: str, files: dict[str, str]) -> None:
    root = directory / f"{name}-root"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN/control").write_text(
        f"Package: {name}\nVersion: 1.0\nArchitecture: amd64\n"
        "Maintainer: Someone <someone@example.com>\nDescription: a test package\n"
    )
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    packages = directory / "stage_packages"
    packages.mkdir(exist_ok=True)
    subprocess.run(
        [
            require_tool("dpkg-deb"),
            "--root-owner-group",
            "--build",
            str(root),
            str(packages / f"{name}_1.0_amd64.deb"),
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "SOURCE_DATE_EPOCH": "1700000000"},
    )


def unpack(how, packages: Path, install: Path, track: bool) -> None:
    install.mkdir(parents=True)
    how.__get__(None, deb.Ubuntu)(
        stage_packages_path=packages, install_path=install, track_stage_packages=track
    )


@pytest.mark.parametrize("track", [False, True])
def test_the_install_dir_is_upstreams(tmp_path, track):
    for number in range(6):  # more packages than cores, and two shipping one path
        files = {
            f"usr/share/p{number}/data": f"package {number}\n",
            "usr/bin/shared": f"{number}\n",
        }
        make_deb(tmp_path, f"pkg{number}", files)
    packages = tmp_path / "stage_packages"
    upstream, patched = tmp_path / "a/install", tmp_path / "b/install"
    unpack(patch_deb_unpack.upstream_unpack_stage_debs, packages, upstream, track)
    unpack(classmethod(patch_deb_unpack.unpack_stage_debs), packages, patched, track)
    assert snapshot(patched) == snapshot(upstream)
    assert (patched / "usr/share/p3/data").read_text() == "package 3\n"
    if track:
        for path in ("usr/share/p4/data", "usr/bin/shared"):
            assert os.getxattr(patched / path, ORIGIN) == os.getxattr(upstream / path, ORIGIN)
    assert sorted(p.name for p in patched.parent.iterdir()) == ["install"]  # no scratch left


def test_a_damaged_package_fails_as_upstream_does(tmp_path):
    make_deb(tmp_path, "good", {"usr/share/good/data": "good\n"})
    (tmp_path / "stage_packages/bad_1.0_amd64.deb").write_bytes(b"!<arch>\nnot a package")
    packages = tmp_path / "stage_packages"
    errors = []
    for how, where in (
        (patch_deb_unpack.upstream_unpack_stage_debs, "a"),
        (classmethod(patch_deb_unpack.unpack_stage_debs), "b"),
    ):
        with pytest.raises(Exception) as raised:
            unpack(how, packages, tmp_path / where / "install", False)
        message = str(raised.value).replace(f"/{where}/", "/")
        errors.append((type(raised.value), re.sub(r"tmp\w+deb-extract", "SCRATCH", message)))
        assert sorted(p.name for p in (tmp_path / where).iterdir()) == ["install"]
    assert errors[0] == errors[1]
