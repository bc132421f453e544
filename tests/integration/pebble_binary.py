"""The real Pebble v1.32.1 release archives in ../shared/tools/pebble, and their binary."""

from __future__ import annotations

import tarfile
from pathlib import Path

from tests.conftest import REPO

PEBBLE_ARCHIVES = REPO.parent / "shared" / "tools" / "pebble"
PEBBLE_ARCHIVE = PEBBLE_ARCHIVES / "pebble_v1.32.1_linux_amd64.tar.gz"


def read_pebble(archive: Path) -> bytes:
    """The ``pebble`` binary inside a release ``archive``."""
    with tarfile.open(archive) as tar:
        member = tar.extractfile("pebble")
        assert member is not None
        return member.read()


def write_pebble(archive: Path, binary: Path) -> Path:
    """``archive``'s pebble binary written, executable, at ``binary``."""
    binary.write_bytes(read_pebble(archive))
    binary.chmod(0o755)
    return binary
