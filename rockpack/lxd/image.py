"""The LXD image of a build-base: built locally with mmdebstrap, named by its recipe.

The image holds what a build needs (python3 with venv and python-apt for rockpack and
craft-parts, and the usual build tools); it is built from this host's apt sources,
imported once into rockpack's LXD project, and reused until its recipe changes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from rockpack.errors import ProviderError
from rockpack.lxd.lxc import Lxc

RECIPE_VERSION = 1
PACKAGES = (
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
SUITES = {"debian@12": "bookworm", "debian@13": "trixie"}
IMAGE_EPOCH = 1700000000


@dataclass(frozen=True)
class ImageRecipe:
    build_base: str
    suite: str
    architecture: str

    @property
    def alias(self) -> str:
        text = f"{RECIPE_VERSION} {self.suite} {self.architecture} {' '.join(PACKAGES)}"
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        return f"rockpack-buildbase-{self.build_base.replace('@', '-').replace('.', '')}-{digest}"


def recipe_for(build_base: str, architecture: str) -> ImageRecipe:
    suite = SUITES.get(build_base)
    if suite is None:
        raise ProviderError(
            f"Clean builds for build-base {build_base} are not available yet.",
            details="rockpack builds its LXD images with mmdebstrap from this host's apt "
            "sources, which serve Debian.",
            resolution="Use a debian@12 or debian@13 build-base, or --destructive-mode on a "
            f"{build_base} host.",
        )
    return ImageRecipe(build_base, suite, architecture)


def ensure_image(lxc: Lxc, recipe: ImageRecipe, work: Path) -> str:
    """The recipe's image alias, building and importing the image if LXD lacks it."""
    if lxc.image_exists(recipe.alias):
        return recipe.alias
    mmdebstrap = shutil.which("mmdebstrap")
    if mmdebstrap is None:
        raise ProviderError(
            "Building the clean-build image needs mmdebstrap, which is not installed.",
            resolution="Install it ('apt install mmdebstrap'), or use --destructive-mode.",
        )
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work) as scratch:
        rootfs = Path(scratch) / "rootfs.tar"
        result = subprocess.run(
            [
                mmdebstrap,
                "--variant=minbase",
                "--mode=unshare",
                "--skip=output/dev",
                "-q",
                f"--include={','.join(PACKAGES)}",
                recipe.suite,
                str(rootfs),
            ],
            env={**os.environ, "SOURCE_DATE_EPOCH": str(IMAGE_EPOCH)},
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise ProviderError(
                f"Building the {recipe.build_base} image with mmdebstrap failed.",
                details=result.stderr[-4000:],
                resolution="Check that this host's apt sources can serve "
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
        f"properties: {{description: rockpack build base {recipe.build_base}, os: debian, "
        f"release: {recipe.suite}}}\ntemplates: {{}}\n"
    ).encode()
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo("metadata.yaml")
        info.size = len(text)
        archive.addfile(info, BytesIO(text))
