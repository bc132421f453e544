"""The host's Pebble for a clean build, whose instance has no network of its own.

The host obtains and checks each release archive the build needs (from its cache, or
one download), then lays out, under a directory standing for the instance's home, what
the rockpack inside looks for: the archives in its cache and their trust entries in its
trust file. The inner run then takes the same default path as a build on the host, offline,
and writes the same Pebble metadata.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

from rockpack.pebble import trust
from rockpack.pebble.cache import PebbleCache
from rockpack.pebble.fetch import ReleaseBinary, release_pebble

CACHE_IN_HOME = Path(".cache/rockpack/pebble")  # user_cache_dir() / "pebble" with XDG unset
TRUST_IN_HOME = Path(".config/rockpack") / trust.TRUST_FILE_NAME


def seed_home(build_fors: Iterable[str], home: Path, environ: Mapping[str, str]) -> list[Path]:
    """Fill ``home`` with the release Pebble of each of ``build_fors``; the files written."""
    trust_file = trust.trust_file_path()
    releases: list[ReleaseBinary] = [
        release_pebble(build_for, environ, PebbleCache.default(), trust_file)
        for build_for in sorted(set(build_fors))
    ]
    inner = PebbleCache(home / CACHE_IN_HOME)
    written = []
    for release in releases:
        target = inner.archive_path(release.archive_sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(release.archive, target)
        written.append(target)
    entries = trust.entries_for([r.asset for r in releases], trust_file)
    if entries:  # official digests need no entry
        path = home / TRUST_IN_HOME
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(entries, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written
