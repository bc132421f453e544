"""The LXD image of a build-base: built locally with mmdebstrap, or an official one.

The image holds what a build needs (python3 with venv and python-apt for rockpack and
craft-parts, gpg for package-repositories, and the usual build tools). A project that
uses snaps gets an image of its own that also holds snapd and boots systemd, which
snapd needs; the image's alias is a hash of its recipe, package list included.
Debian build-bases are built from this host's apt sources, imported once into
rockpack's LXD project, and reused until their recipe changes. Ubuntu build-bases are
built the same way from the Ubuntu mirror the user names in ROCKPACK_UBUNTU_MIRROR;
without one, the official image comes from LXD's 'ubuntu' image server and the tools
are installed when the base instance is prepared.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from urllib.parse import urlparse

from rockpack.errors import ProviderError
from rockpack.lxd.lxc import Lxc
from rockpack.lxd.timed_step import timed_step

RECIPE_VERSION = 1
PACKAGES = (
    "gpg",  # craft-archives imports repository keys with it,
    "gpg-agent",  # which gpg needs to import them
    "dirmngr",  # and its keyserver client
    "python3",
    "python3-venv",
    "python3-apt",
    "ca-certificates",
    "build-essential",
    "git",
    "xz-utils",
    "zstd",
    "file",
    "fuse-overlayfs",
    "perl-base",
)
# For snaps: snapd, systemd as init (snapd needs it), and squashfuse, with which snapd
# mounts snaps in a container.
SNAPD_PACKAGES = ("systemd-sysv", "dbus", "snapd", "squashfuse", "fuse3")
DEBIAN_SUITES = {"debian@12": "bookworm", "debian@13": "trixie"}
UBUNTU_SUITES = {
    "ubuntu@22.04": "jammy",
    "ubuntu@24.04": "noble",
    "ubuntu@25.10": "questing",
    "ubuntu@26.04": "resolute",
}
UBUNTU_MIRROR_ENV = "ROCKPACK_UBUNTU_MIRROR"
UBUNTU_KEYRING = Path("/usr/share/keyrings/ubuntu-archive-keyring.gpg")
UBUNTU_REMOTE = "ubuntu"  # LXD's own remote for cloud-images.ubuntu.com/releases
IMAGE_EPOCH = 1700000000


@dataclass(frozen=True)
class ImageRecipe:
    """An image rockpack builds with mmdebstrap and imports under ``alias``."""

    build_base: str
    suite: str
    architecture: str
    mirror: str = ""  # empty: this host's apt sources
    keyring: str = ""
    components: str = "main"
    snapd: bool = False  # with snapd, and systemd as init

    @property
    def packages(self) -> tuple[str, ...]:
        return PACKAGES + (SNAPD_PACKAGES if self.snapd else ())

    @property
    def alias(self) -> str:
        text = (
            f"{RECIPE_VERSION} {self.suite} {self.architecture} {self.components} "
            f"{' '.join(self.packages)}"
        )
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        return f"rockpack-buildbase-{self.build_base.replace('@', '-').replace('.', '')}-{digest}"

    @property
    def archive_host(self) -> str:
        """The package archive the image's apt sources name (mmdebstrap's default: Debian)."""
        if not self.mirror:
            return "deb.debian.org"
        return urlparse(self.mirror).hostname or self.mirror

    def mmdebstrap_arguments(self, output: Path) -> list[str]:
        arguments = [
            "--variant=minbase",
            "--mode=unshare",
            "--skip=output/dev",
            "-q",
            f"--include={','.join(self.packages)}",
            f"--components={self.components}",
        ]
        if self.keyring:
            arguments.append(f"--keyring={self.keyring}")
        arguments += [self.suite, str(output)]
        return arguments + ([self.mirror] if self.mirror else [])


@dataclass(frozen=True)
class RemoteImage:
    """An official image LXD fetches from an image server; the tools go in later."""

    build_base: str
    remote: str
    version: str
    snapd: bool = False  # boot its systemd, and have snapd

    @property
    def packages(self) -> tuple[str, ...]:
        """What the base instance installs (an official image has systemd already)."""
        return PACKAGES + (SNAPD_PACKAGES if self.snapd else ())

    @property
    def reference(self) -> str:
        return f"{self.remote}:{self.version}"

    @property
    def archive_host(self) -> str:
        """The package archive the official image's apt sources name."""
        return "archive.ubuntu.com"


ImageSource = ImageRecipe | RemoteImage


def image_source(
    build_base: str,
    architecture: str,
    environ: Mapping[str, str] = os.environ,
    *,
    snapd: bool = False,
) -> ImageSource:
    """Where the build-base's image comes from on this host (``snapd``: one with snapd)."""
    if build_base in DEBIAN_SUITES:
        return ImageRecipe(build_base, DEBIAN_SUITES[build_base], architecture, snapd=snapd)
    if build_base in UBUNTU_SUITES:
        mirror = environ.get(UBUNTU_MIRROR_ENV, "").strip()
        if not mirror:
            version = build_base.partition("@")[2]
            return RemoteImage(build_base, UBUNTU_REMOTE, version, snapd=snapd)
        return ImageRecipe(
            build_base,
            UBUNTU_SUITES[build_base],
            architecture,
            mirror=mirror,
            keyring=str(UBUNTU_KEYRING),
            components="main,universe",
            snapd=snapd,
        )
    raise ProviderError(
        f"Clean builds for build-base {build_base} are not available.",
        details="rockpack runs inside the build instance, and needs Python 3.10 or newer "
        "there; ubuntu@20.04 has 3.8."
        if build_base == "ubuntu@20.04"
        else None,
        resolution="Use a debian@12, debian@13 or ubuntu@22.04 (or newer) build-base, or "
        f"--destructive-mode on a {build_base} host.",
    )


def ensure_image(lxc: Lxc, source: ImageSource, work: Path) -> str:
    """What 'lxc init' launches: the recipe's imported alias, or the remote image."""
    if isinstance(source, RemoteImage):
        if source.remote not in lxc.remotes():
            raise ProviderError(
                f"LXD has no '{source.remote}' image server to get {source.build_base} from.",
                resolution=f"Add it ('lxc remote add {source.remote} "
                "https://cloud-images.ubuntu.com/releases --protocol simplestreams'), or set "
                f"{UBUNTU_MIRROR_ENV} to an Ubuntu archive mirror so that rockpack builds the "
                "image itself.",
            )
        return source.reference
    recipe = source
    if lxc.image_exists(recipe.alias):
        return recipe.alias
    if recipe.keyring and not Path(recipe.keyring).is_file():
        raise ProviderError(
            f"Building the {recipe.build_base} image needs Ubuntu's archive keyring "
            f"({recipe.keyring}).",
            resolution="Install it ('apt install ubuntu-keyring'), or unset "
            f"{UBUNTU_MIRROR_ENV} to use LXD's Ubuntu image server.",
        )
    mmdebstrap = shutil.which("mmdebstrap")
    if mmdebstrap is None:
        raise ProviderError(
            "Building the clean-build image needs mmdebstrap, which is not installed.",
            resolution="Install it ('apt install mmdebstrap'), or use --destructive-mode.",
        )
    work.mkdir(parents=True, exist_ok=True)
    building = f"Building the {recipe.build_base} build image with mmdebstrap (once)"
    with timed_step(building), tempfile.TemporaryDirectory(dir=work) as scratch:
        rootfs = Path(scratch) / "rootfs.tar"
        result = subprocess.run(
            [mmdebstrap, *recipe.mmdebstrap_arguments(rootfs)],
            env={**os.environ, "SOURCE_DATE_EPOCH": str(IMAGE_EPOCH)},
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise ProviderError(
                f"Building the {recipe.build_base} image with mmdebstrap failed.",
                details=result.stderr[-4000:],
                resolution=f"Check that {recipe.mirror} serves {recipe.suite}, then try again."
                if recipe.mirror
                else "Check that this host's apt sources can serve "
                f"{recipe.suite} (apt-get update), then try again.",
            )
        metadata = Path(scratch) / "metadata.tar.gz"
        _write_metadata(metadata, recipe)
        lxc.image_import(metadata, rootfs, recipe.alias)
    return recipe.alias


def _write_metadata(path: Path, recipe: ImageRecipe) -> None:
    text = (
        f"architecture: {'x86_64' if recipe.architecture == 'amd64' else recipe.architecture}\n"
        f"creation_date: {IMAGE_EPOCH}\n"
        f"properties: {{description: rockpack build base {recipe.build_base}, "
        f"os: {recipe.build_base.partition('@')[0]}, "
        f"release: {recipe.suite}}}\ntemplates: {{}}\n"
    ).encode()
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo("metadata.yaml")
        info.size = len(text)
        archive.addfile(info, BytesIO(text))
