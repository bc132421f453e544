"""Pebble's share of rockpack's user cache, addressed by sha256 and shared by every project.

    $XDG_CACHE_HOME/rockpack/pebble/
      archives/sha256/<digest>          release archives, as downloaded
      binaries/sha256/<digest>/pebble   checked binaries, the source of the pebble part
      tmp/                              downloads and extractions in progress

A file enters only by rename, after its digest is known; a cached file is hashed again
whenever it is used, and one that no longer matches its name is thrown away.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from rockpack.build.workspace import user_cache_dir

_CHUNK = 1 << 20


@dataclass(frozen=True)
class PebbleCache:
    root: Path

    @classmethod
    def default(cls) -> PebbleCache:
        return cls(user_cache_dir() / "pebble")

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    def archive_path(self, sha256: str) -> Path:
        return self.root / "archives" / "sha256" / sha256

    def binary_path(self, sha256: str) -> Path:
        return self.root / "binaries" / "sha256" / sha256 / "pebble"

    def archive(self, sha256: str) -> Path | None:
        """The cached archive with this digest, verified; None if absent or damaged."""
        return _verified(self.archive_path(sha256), sha256)

    def store_archive(self, temporary: Path, sha256: str) -> Path:
        return _store(temporary, self.archive_path(sha256), sha256)

    def store_binary(self, temporary: Path, sha256: str) -> Path:
        return _store(temporary, self.binary_path(sha256), sha256)


def file_sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def _verified(path: Path, sha256: str) -> Path | None:
    if not path.is_file():
        return None
    if file_sha256(path) == sha256:
        return path
    path.unlink(missing_ok=True)  # damaged on disk: fetch it again
    return None


def _store(temporary: Path, target: Path, sha256: str) -> Path:
    """Move ``temporary`` (whose digest is ``sha256``) to ``target``, unless it is there."""
    if _verified(target, sha256) is not None:
        temporary.unlink(missing_ok=True)  # keep the cached file, and its mtime
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary.replace(target)
    return target
