"""Where a build-base's image comes from, and how an official Ubuntu image is prepared."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rockpack.errors import ProviderError
from rockpack.lxd import base_instance
from rockpack.lxd.image import (
    UBUNTU_MIRROR_ENV,
    ImageRecipe,
    RemoteImage,
    ensure_image,
    image_source,
)
from rockpack.lxd.lxc import Lxc
from rockpack.lxd.wheels import Target, _binary_for

MIRROR = "http://mirror.example/ubuntu"


def test_debian_is_built_from_the_hosts_apt_sources():
    source = image_source("debian@13", "amd64", {})
    assert source == ImageRecipe("debian@13", "trixie", "amd64")
    arguments = source.mmdebstrap_arguments(Path("/tmp/rootfs.tar"))
    assert arguments[-2:] == ["trixie", "/tmp/rootfs.tar"]  # no mirror: the host's sources
    assert not any(a.startswith("--keyring") for a in arguments)
    assert source.archive_host == "deb.debian.org"  # mmdebstrap's default sources


def test_ubuntu_with_a_mirror_is_built_locally_against_it():
    source = image_source("ubuntu@24.04", "amd64", {UBUNTU_MIRROR_ENV: MIRROR})
    assert isinstance(source, ImageRecipe)
    arguments = source.mmdebstrap_arguments(Path("/tmp/rootfs.tar"))
    assert arguments[-3:] == ["noble", "/tmp/rootfs.tar", MIRROR]
    assert "--keyring=/usr/share/keyrings/ubuntu-archive-keyring.gpg" in arguments
    assert "--components=main,universe" in arguments  # fuse-overlayfs is in universe
    assert source.alias.startswith("rockpack-buildbase-ubuntu-2404-")
    assert source.archive_host == "mirror.example"


def test_ubuntu_without_a_mirror_comes_from_the_image_server():
    assert image_source("ubuntu@22.04", "amd64", {}) == RemoteImage(
        "ubuntu@22.04", "ubuntu", "22.04"
    )


def test_ubuntu_2004_is_refused_for_its_python():
    with pytest.raises(ProviderError, match="not available") as info:
        image_source("ubuntu@20.04", "amd64", {})
    assert "3.8" in info.value.details


def test_a_missing_image_server_names_both_fixes(fake_lxc):
    fake_lxc({"remote list": {"stdout": json.dumps({"local": {}, "images": {}})}})
    with pytest.raises(ProviderError, match="no 'ubuntu' image server") as info:
        ensure_image(Lxc(), RemoteImage("ubuntu@24.04", "ubuntu", "24.04"), Path("/nowhere"))
    assert "lxc remote add ubuntu" in info.value.resolution
    assert UBUNTU_MIRROR_ENV in info.value.resolution


def test_the_image_server_reference_is_launched_as_is(fake_lxc):
    fake_lxc({"remote list": {"stdout": json.dumps({"ubuntu": {}})}})
    source = RemoteImage("ubuntu@24.04", "ubuntu", "24.04")
    assert ensure_image(Lxc(), source, Path("/nowhere")) == "ubuntu:24.04"


def test_a_mirror_recipe_without_the_keyring_says_what_to_install(fake_lxc, tmp_path):
    fake_lxc({"image list": {"stdout": "[]"}})
    recipe = ImageRecipe("ubuntu@24.04", "noble", "amd64", MIRROR, str(tmp_path / "none.gpg"))
    with pytest.raises(ProviderError, match="keyring") as info:
        ensure_image(Lxc(), recipe, tmp_path)
    assert "ubuntu-keyring" in info.value.resolution


@pytest.fixture
def wheels_for(monkeypatch, tmp_path):
    """Stands in for the pip calls; records the Python the wheels were asked for."""
    asked: list[Target] = []

    def fake_wheels(cache: Path, target: Target) -> Path:
        asked.append(target)
        return tmp_path

    monkeypatch.setattr(base_instance, "ensure_wheels", fake_wheels)
    return asked


def test_an_official_image_gets_build_tools_then_wheels_for_its_python(fake_lxc, wheels_for):
    handle = fake_lxc(
        {
            "list": {"stdout": "[]"},
            "~-- getent hosts archive.ubuntu.com": {"code": 0},
            "~import platform": {"stdout": "3 12 x86_64\n"},
        }
    )
    source = RemoteImage("ubuntu@24.04", "ubuntu", "24.04")
    name = base_instance.ensure_base_instance(Lxc(), "ubuntu:24.04", source, Path("/cache"))
    commands = [c[2:] for c in handle.calls if c[:2] == ["--project", "rockpack"]]
    assert commands[1][:3] == ["init", "ubuntu:24.04", name]
    execs = [c[c.index("--") + 1 :] for c in commands if c[0] == "exec"]
    install = next(c for c in execs if c[:2] == ["apt-get", "install"])
    assert {"python3-venv", "python3-apt", "build-essential"} <= set(install)
    assert execs.index(install) < execs.index(
        ["python3", "-m", "venv", "--system-site-packages", base_instance.VENV]
    )
    assert wheels_for == [Target("3.12", "x86_64")]
    assert commands[-1] == ["config", "set", name, "user.rockpack.status", "READY"]


def test_an_unreachable_image_server_fails_clearly_and_leaves_nothing(fake_lxc, wheels_for):
    handle = fake_lxc(
        {
            "list": {"stdout": "[]"},
            "init": {"code": 1, "stderr": "Error: Failed getting remote image info\n"},
        }
    )
    source = RemoteImage("ubuntu@24.04", "ubuntu", "24.04")
    with pytest.raises(ProviderError, match=r"could not get the ubuntu@24\.04 image") as info:
        base_instance.ensure_base_instance(Lxc(), "ubuntu:24.04", source, Path("/cache"))
    assert UBUNTU_MIRROR_ENV in info.value.resolution
    assert "Failed getting remote image info" in info.value.details
    assert any(c[2:4] == ["delete", "--force"] for c in handle.calls)
    assert wheels_for == []


def test_an_old_python_inside_is_refused(fake_lxc, wheels_for):
    fake_lxc({"list": {"stdout": "[]"}, "~import platform": {"stdout": "3 8 x86_64\n"}})
    source = ImageRecipe("debian@12", "bookworm", "amd64")
    with pytest.raises(ProviderError, match=r"Python 3\.8"):
        base_instance.ensure_base_instance(Lxc(), "rockpack-buildbase-x", source, Path("/c"))


def test_wheels_for_another_python_are_binary_wheels_for_its_abi():
    arguments = _binary_for(Target("3.13", "aarch64"))
    assert "--only-binary=:all:" in arguments
    assert arguments[arguments.index("--abi") + 1] == "cp313"
    assert "manylinux_2_17_aarch64" in arguments
