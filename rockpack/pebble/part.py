"""The part that puts the Pebble binary at /usr/bin/pebble in a rock that needs it.

Its source is ROCKPACK_PEBBLE_SOURCE when set: a pebble binary, a directory or archive
holding one, or a URL of either. Otherwise it is the official release archive for the
architecture, pinned by version and sha256 in PEBBLE_RELEASES.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rockpack.errors import RockpackError

PART_NAME = "pebble"
SOURCE_ENV = "ROCKPACK_PEBBLE_SOURCE"
RELEASE_URL = (
    "https://github.com/canonical/pebble/releases/download/{version}/"
    "pebble_{version}_linux_{arch}.tar.gz"
)
# (version, architecture) -> sha256 of the release archive. Filled only with checksums
# verified against the real release files; see the README for why it can be empty.
PEBBLE_RELEASES: dict[tuple[str, str], str] = {}
_ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.xz", ".tar.bz2", ".tar.zst")

# Finds the binary in whatever the source unpacked to; a source of one file is the binary.
_INSTALL = """\
bin=$(find "$CRAFT_PART_SRC" -type f -name pebble -print -quit)
if [ -z "$bin" ] && [ "$(find "$CRAFT_PART_SRC" -type f | wc -l)" -eq 1 ]; then
    bin=$(find "$CRAFT_PART_SRC" -type f)
fi
if [ -z "$bin" ]; then
    echo "no file named 'pebble' in {source}" >&2
    exit 1
fi
install -D -m 0755 "$bin" "$CRAFT_PART_INSTALL/usr/bin/pebble"
"""


class PebbleUnavailableError(RockpackError):
    """No Pebble binary can be had for this rock."""


def pebble_part(build_for: str, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The craft-parts spec of the injected pebble part."""
    environ = os.environ if environ is None else environ
    source = environ.get(SOURCE_ENV, "").strip()
    if source:
        return _part(source, _source_type(source))
    pinned = [(v, s) for (v, arch), s in PEBBLE_RELEASES.items() if arch == build_for]
    if not pinned:
        raise PebbleUnavailableError(
            f"This rock needs Pebble, and rockpack has no pinned Pebble release for {build_for}.",
            details="Pebble runs a rock's services; rockpack downloads it only from a release "
            "whose sha256 it knows.",
            resolution=f"Set {SOURCE_ENV} to a pebble binary for {build_for}, a directory or "
            "archive holding one, or a URL of either.",
        )
    version, sha256 = max(pinned)
    url = RELEASE_URL.format(version=version, arch=build_for)
    part = _part(url, "tar")
    part["source-checksum"] = f"sha256/{sha256}"
    return part


def _part(source: str, source_type: str) -> dict[str, Any]:
    return {
        "plugin": "nil",
        "source": source,
        "source-type": source_type,
        "override-build": _INSTALL.replace("{source}", source.replace('"', "")),
        "stage": ["usr/bin/pebble"],
        "prime": ["usr/bin/pebble"],
    }


def _source_type(source: str) -> str:
    if source.startswith(("http://", "https://")):
        return "tar" if source.endswith(_ARCHIVE_SUFFIXES) else "file"
    path = Path(source)
    if not path.is_absolute():
        raise PebbleUnavailableError(
            f"{SOURCE_ENV}={source!r} is not an absolute path or a URL.",
            resolution=f"Set {SOURCE_ENV} to an absolute path, e.g. /opt/pebble/pebble.",
        )
    if not path.exists():
        raise PebbleUnavailableError(
            f"{SOURCE_ENV} names {source}, which does not exist.",
            resolution=f"Point {SOURCE_ENV} at a pebble binary, a directory or an archive.",
        )
    if path.is_dir():
        return "local"
    return "tar" if tarfile.is_tarfile(path) else "file"


def check_user_part(parts: Mapping[str, Any], injected: dict[str, Any]) -> None:
    """A project's own part named 'pebble' would silently replace the injected one."""
    own = parts.get(PART_NAME)
    if own is not None and own != injected:
        raise RockpackError(
            f"The project has a part named '{PART_NAME}', which rockpack uses for the "
            "Pebble binary.",
            resolution="Add 'pebble: project' to the project file to have your part provide "
            f"/usr/bin/pebble, rename the part, or set {SOURCE_ENV} to a binary.",
        )
