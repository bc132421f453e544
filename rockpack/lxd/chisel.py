"""chisel for a clean build whose parts have slices: this host's own chisel, else the
chisel release archive, checked against the SHA-384 checksum its release publishes and
cached; pushed into the instance either way. When neither can be had, the build stops
here, before any image or instance is made (unless the instance gets snapd anyway, and
with it the chisel snap that craft-parts installs, as in Rockcraft).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from craft_cli import emit

from rockpack.build.chisel import RELEASES_PAGE, declares_chisel_snap, slices_of
from rockpack.errors import ProviderError, RockpackError
from rockpack.pebble.download import download

CHISEL_VERSION = "v1.4.1"
CHISEL_VERSION_ENV = "ROCKPACK_CHISEL_VERSION"
CHISEL_RELEASES_ENV = "ROCKPACK_CHISEL_RELEASES"  # a mirror of the release downloads
RELEASES_URL = f"{RELEASES_PAGE}/download"
MAX_ARCHIVE = 64 * 1024 * 1024
# Debian architecture -> the Go architecture in chisel's archive names.
GO_ARCH = {"amd64": "amd64", "arm64": "arm64", "armhf": "arm", "ppc64el": "ppc64le",
           "riscv64": "riscv64", "s390x": "s390x"}  # fmt: skip


def chisel_for_instance(
    parts: dict[str, dict[str, Any]],
    *,
    arch: str,
    cache: Path,
    instance_has_snapd: bool,
    environ: Mapping[str, str] = os.environ,
) -> Path | None:
    """The chisel binary to push into the instance; None when the parts need none."""
    slices = slices_of(parts)
    if not slices or declares_chisel_snap(parts):
        return None
    own = host_chisel()
    if own is not None:
        emit.debug(f"Parts have slices: using this host's chisel ({own})")
        return own
    try:
        return release_chisel(arch, cache, environ)
    except RockpackError as err:
        if instance_has_snapd:
            emit.debug(f"No chisel from its releases ({err.brief}): the chisel snap it is")
            return None
        listed = "; ".join(f"part '{p}': {', '.join(s)}" for p, s in slices.items())
        raise ProviderError(
            f"The parts use chisel slices ({listed}), and there is no chisel to put in the "
            f"build instance: no 'chisel' on this host's PATH, and its release archive "
            "could not be had.",
            details=str(err.brief) + (f"\n{err.details}" if err.details else ""),
            resolution="Install chisel on this host ('snap install chisel', or a binary from "
            f"{RELEASES_PAGE} on PATH), or set {CHISEL_RELEASES_ENV} to a mirror of the chisel "
            "release downloads that this host reaches.",
        ) from err


def host_chisel() -> Path | None:
    """This host's chisel binary (for the chisel snap, the binary inside it)."""
    found = shutil.which("chisel")
    if found is None:
        return None
    if Path(found).resolve().name == "snap":  # /snap/bin/chisel runs snapd's launcher
        inner = Path("/snap/chisel/current/bin/chisel")
        return inner if inner.is_file() else None
    return Path(found)


def release_chisel(arch: str, cache: Path, environ: Mapping[str, str] = os.environ) -> Path:
    """chisel from its release archive, verified by the published checksum; cached."""
    version = environ.get(CHISEL_VERSION_ENV, "").strip() or CHISEL_VERSION
    go_arch = GO_ARCH.get(arch, arch)
    target = cache / version / go_arch / "chisel"
    if target.is_file():
        return target
    base = (environ.get(CHISEL_RELEASES_ENV, "").strip() or RELEASES_URL).rstrip("/")
    name = f"chisel_{version}_linux_{go_arch}.tar.gz"
    url = f"{base}/{version}/{name}"
    emit.progress(f"Downloading chisel {version} for the build instance")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        sums = download(f"{url}.sha384", Path(scratch), max_bytes=4096).path
        archive = download(url, Path(scratch), max_bytes=MAX_ARCHIVE).path
        words = sums.read_text(errors="replace").split()
        expected = words[0].lower() if words else ""
        digest = hashlib.sha384(archive.read_bytes()).hexdigest()
        if digest != expected:
            raise ProviderError(
                f"The chisel archive {url} does not match its published checksum.",
                details=f"sha384 {digest}, published {expected or '(nothing)'}",
                resolution="Try again; if it persists, the download or the mirror is corrupt.",
            )
        binary = Path(scratch) / "chisel"
        with tarfile.open(archive) as tar:
            members = [m for m in tar if m.isfile() and m.name.lstrip("./") == "chisel"]
            source = tar.extractfile(members[0]) if members else None
            if source is None:
                raise ProviderError(f"The chisel archive {url} has no chisel binary.")
            with source, binary.open("wb") as out:
                shutil.copyfileobj(source, out)
        binary.chmod(0o755)
        binary.replace(target)
    return target
