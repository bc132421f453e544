"""Why no Pebble binary can be had for a rock."""

from __future__ import annotations

from pathlib import Path

from rockpack.errors import RockpackError
from rockpack.pebble.release import MIRROR_ENV, RELEASE_HOST, SOURCE_ENV, ReleaseAsset

PROVIDE_HINT = (
    f"set {SOURCE_ENV} to a Pebble binary, a directory or archive holding one, or a URL of either"
)


class PebbleUnavailableError(RockpackError):
    """No Pebble binary can be had for this rock."""


class ReleaseDownloadError(PebbleUnavailableError):
    """The release archive could not be downloaded, and no trusted copy is cached."""

    def __init__(self, asset: ReleaseAsset, reason: str, cache_dir: Path) -> None:
        self.asset = asset
        self.reason = reason
        super().__init__(
            f"This rock needs Pebble {asset.version} for {asset.arch}, and it could not be "
            f"downloaded from {asset.url}: {reason}.",
            details=f"No trusted copy is in the cache ({cache_dir}). Only the first pack of "
            "a Pebble release needs the network; later ones, of any project, use the cache.",
            resolution=f"Connect to the network and pack again; or set {MIRROR_ENV} to a "
            f"mirror of {RELEASE_HOST} (same layout); or {PROVIDE_HINT}.",
        )


class ArchiveError(PebbleUnavailableError):
    """An archive holds no usable Pebble binary, or cannot be read."""

    def __init__(self, archive: str, problem: str, resolution: str) -> None:
        self.archive = archive
        self.problem = problem
        super().__init__(f"{archive}: {problem}.", resolution=resolution)
