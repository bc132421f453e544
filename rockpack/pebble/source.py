"""Where a rock's Pebble comes from, decided and checked before any part is built.

``ROCKPACK_PEBBLE_SOURCE``, when set, is the explicit override: a Pebble binary, a
directory or archive holding one, or an http(s) URL of either. Otherwise it is the
pinned release (see fetch.py). Either way the binary is checked (binary_check.py) and
lands in the cache under its own digest, which the pebble part then installs.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from craft_cli import emit

from rockpack.pebble import trust
from rockpack.pebble.archive import (
    MAX_BINARY,
    ExtractError,
    copy_hashed,
    extract_pebble,
    is_archive,
)
from rockpack.pebble.binary_check import check_pebble_binary
from rockpack.pebble.cache import PebbleCache, file_sha256
from rockpack.pebble.download import DownloadError, download
from rockpack.pebble.elf import is_elf
from rockpack.pebble.errors import ArchiveError, PebbleUnavailableError
from rockpack.pebble.fetch import release_pebble
from rockpack.pebble.release import PEBBLE_ARCHES, PEBBLE_VERSION, SOURCE_ENV


@dataclass(frozen=True)
class ProvidedPebble:
    """The checked Pebble binary a rock gets, and what its metadata says of it."""

    binary: Path  # in the cache, named by its digest
    sha256: str  # of the binary, as installed at /usr/bin/pebble
    version: str  # the release's, else what the binary's Go build info says
    archive_sha256: str | None  # of the release archive, when it came from one


def provide_pebble(build_for: str, environ: Mapping[str, str] | None = None) -> ProvidedPebble:
    """The Pebble for a rock built for ``build_for``, checked (the plan carries it to the
    rock's metadata)."""
    environ = os.environ if environ is None else environ
    cache = PebbleCache.default()
    trust_file = trust.trust_file_path()
    source = environ.get(SOURCE_ENV, "").strip()
    if source:
        provided = _from_override(source, build_for, cache, trust_file)
    else:
        release = release_pebble(build_for, environ, cache, trust_file)
        provided = ProvidedPebble(
            release.binary, release.sha256, release.asset.version, release.archive_sha256
        )
    emit.debug(f"Pebble for {build_for}: {provided}")
    return provided


def _from_override(
    source: str, build_for: str, cache: PebbleCache, trust_file: Path
) -> ProvidedPebble:
    arch = PEBBLE_ARCHES.get(build_for, build_for)
    resolution = (
        f"Point {SOURCE_ENV} at Canonical's Pebble for {build_for} (the 'pebble' binary of a "
        f"pebble_<version>_linux_{arch}.tar.gz release archive, or that archive), or unset it "
        f"to use the Pebble {PEBBLE_VERSION} release."
    )
    with tempfile.TemporaryDirectory(dir=_made(cache.tmp)) as scratch:
        local = local_source(source, Path(scratch))
        archive_sha256 = None
        shown = source if local.parent == Path(scratch) else str(local)
        try:
            if is_archive(local) and not _starts_elf(local):
                archive_sha256 = file_sha256(local)
                extracted = extract_pebble(local, Path(scratch), at_root=False)
                shown = f"'pebble' in {source}"
            else:
                with local.open("rb") as handle:
                    extracted = copy_hashed(handle, Path(scratch), limit=MAX_BINARY)
        except ExtractError as err:
            raise ArchiveError(f"{SOURCE_ENV} ({source})", str(err), resolution) from err
        checked = check_pebble_binary(extracted.path, build_for, resolution, name=shown)
        binary = cache.store_binary(extracted.path, extracted.sha256)
    known = trust.trusted_release(archive_sha256, trust_file) if archive_sha256 else None
    version = known[0] if known else checked.build_info.module_version or "unknown"
    return ProvidedPebble(binary, extracted.sha256, version, archive_sha256)


def local_source(source: str, scratch: Path) -> Path:
    """ROCKPACK_PEBBLE_SOURCE as a local file: downloaded into ``scratch`` if a URL, the
    file itself, or a directory's pebble."""
    if source.startswith(("http://", "https://")):
        emit.progress(f"Downloading Pebble from {source} ({SOURCE_ENV})")
        try:
            return download(source, scratch).path
        except DownloadError as err:
            raise PebbleUnavailableError(
                f"{SOURCE_ENV}: could not download {source}: {err.reason}.",
                resolution=f"Check the URL and the network, or point {SOURCE_ENV} at a local file.",
            ) from err
    path = Path(source)
    if not path.is_absolute():
        raise PebbleUnavailableError(
            f"{SOURCE_ENV}={source!r} is not an absolute path or an http(s) URL.",
            resolution=f"Set {SOURCE_ENV} to an absolute path, e.g. /opt/pebble/pebble.",
        )
    if not path.exists():
        raise PebbleUnavailableError(
            f"{SOURCE_ENV} names {source}, which does not exist.",
            resolution=f"Point {SOURCE_ENV} at a pebble binary, a directory or an archive.",
        )
    if path.is_dir():
        return _in_directory(path)
    return path


def _in_directory(directory: Path) -> Path:
    """``directory/pebble``, else the first file named pebble below it."""
    if (directory / "pebble").is_file():
        return directory / "pebble"
    found = sorted(p for p in directory.rglob("pebble") if p.is_file())
    if not found:
        raise PebbleUnavailableError(
            f"{SOURCE_ENV} names the directory {directory}, which holds no file named 'pebble'.",
            resolution=f"Point {SOURCE_ENV} at the Pebble binary itself, or at a directory "
            "holding it.",
        )
    return found[0]


def _starts_elf(path: Path) -> bool:
    with path.open("rb") as handle:
        return is_elf(handle.read(4))


def _made(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    return directory
