"""The default Pebble: the pinned release archive, from the cache or downloaded once.

The archive's digest must be the official one when rockpack knows it, else the one
trusted on first use. A download is checked (digest, then the binary inside) before it
is trusted or cached; a cached archive is hashed again before it is used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from craft_cli import emit

from rockpack.pebble import trust
from rockpack.pebble.archive import ExtractError, extract_pebble
from rockpack.pebble.binary_check import CheckedPebble, check_pebble_binary
from rockpack.pebble.cache import PebbleCache
from rockpack.pebble.download import DownloadError, download
from rockpack.pebble.errors import (
    PROVIDE_HINT,
    ArchiveError,
    PebbleUnavailableError,
    ReleaseDownloadError,
)
from rockpack.pebble.release import MIRROR_ENV, PEBBLE_ARCHES, ReleaseAsset, release_asset


@dataclass(frozen=True)
class ReleaseBinary:
    """The checked binary of a trusted release archive, both in the cache."""

    asset: ReleaseAsset
    archive: Path
    archive_sha256: str
    binary: Path
    sha256: str
    checked: CheckedPebble


def release_pebble(
    build_for: str, environ: Mapping[str, str], cache: PebbleCache, trust_file: Path
) -> ReleaseBinary:
    """Pebble for ``build_for`` from its release archive: cached, or downloaded once."""
    asset = _asset(build_for, environ)
    expected = trust.expected_digest(asset, trust_file)
    archive = cache.archive(expected.sha256) if expected else None
    if archive is not None and expected is not None:
        emit.debug(f"Pebble {asset.version} for {asset.arch}: cached {archive}")
        return _binary(build_for, asset, archive, expected.sha256, cache, where=str(archive))
    return _download(build_for, asset, expected, environ, cache, trust_file)


def _asset(build_for: str, environ: Mapping[str, str]) -> ReleaseAsset:
    mirror = environ.get(MIRROR_ENV, "").strip()
    if mirror and not mirror.startswith(("http://", "https://")):
        raise PebbleUnavailableError(
            f"{MIRROR_ENV}={mirror!r} is not an http:// or https:// URL.",
            resolution=f"Set {MIRROR_ENV} to the URL under which <version>/pebble_<version>"
            "_linux_<arch>.tar.gz are found, as on GitHub's release downloads.",
        )
    asset = release_asset(build_for, environ)
    if asset is None:
        raise PebbleUnavailableError(
            f"This rock needs Pebble, and Pebble has no release for {build_for}.",
            details=f"Releases exist for {', '.join(sorted(PEBBLE_ARCHES))}.",
            resolution=f"Build Pebble for {build_for} yourself and {PROVIDE_HINT}.",
        )
    return asset


def _download(
    build_for: str,
    asset: ReleaseAsset,
    expected: trust.Expected | None,
    environ: Mapping[str, str],
    cache: PebbleCache,
    trust_file: Path,
) -> ReleaseBinary:
    emit.progress(f"Downloading Pebble {asset.version} for {asset.arch} from {asset.url}")
    try:
        got = download(asset.url, cache.tmp)
    except DownloadError as err:
        raise ReleaseDownloadError(asset, err.reason, cache.root) from err
    try:
        if expected is not None and got.sha256 != expected.sha256:
            _refuse_unless_accepted(asset, expected, got.sha256, environ)
        release = _binary(build_for, asset, got.path, got.sha256, cache, where=asset.url)
        if expected is None or expected.sha256 != got.sha256:
            trust.record(asset, got.sha256, trust_file, replace=expected is not None)
            emit.progress(
                f"Trusting sha256:{got.sha256} from now on ({trust_file})", permanent=True
            )
        archive = cache.store_archive(got.path, got.sha256)
    finally:
        got.path.unlink(missing_ok=True)
    return ReleaseBinary(
        asset, archive, got.sha256, release.binary, release.sha256, release.checked
    )


def _refuse_unless_accepted(
    asset: ReleaseAsset, expected: trust.Expected, actual: str, environ: Mapping[str, str]
) -> None:
    """A new digest passes only when named in ROCKPACK_PEBBLE_ACCEPT, and never an official."""
    if expected.official or not trust.accepted(actual, environ):
        raise trust.DigestMismatchError(asset, expected, actual, asset.url)


def _binary(
    build_for: str,
    asset: ReleaseAsset,
    archive: Path,
    archive_sha256: str,
    cache: PebbleCache,
    where: str,
) -> ReleaseBinary:
    """The archive's binary, checked, then in the binary cache."""
    resolution = (
        f"The release archive at {where} is not Pebble for {asset.arch}: check {MIRROR_ENV} "
        f"and the mirror's contents, or {PROVIDE_HINT}."
    )
    try:
        extracted = extract_pebble(archive, cache.tmp, at_root=True)
    except ExtractError as err:
        raise ArchiveError(where, str(err), resolution) from err
    try:
        checked = check_pebble_binary(
            extracted.path, build_for, resolution, name=f"'pebble' in {where}"
        )
        binary = cache.store_binary(extracted.path, extracted.sha256)
    finally:
        extracted.path.unlink(missing_ok=True)
    return ReleaseBinary(asset, archive, archive_sha256, binary, extracted.sha256, checked)
