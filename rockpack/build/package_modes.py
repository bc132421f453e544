"""Restore the setuid and setgid bits craft-parts strips from stage-packages.

craft-parts clears those bits while unpacking .deb files (snaps forbid them). A rock
needs them (``passwd`` must stay 4755), so the modes and owners are read back from the
packages craft-parts downloaded and applied to the layer entries, never to the files
(primed files are hardlinks into the parts' directories).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from rockpack.build.deb_contents import SPECIAL_BITS, deb_contents
from rockpack.layer.scan import MetadataOverride


def special_modes_from_debs(debs: Iterable[Path]) -> dict[str, MetadataOverride]:
    """Files with setuid or setgid in the given packages, keyed by their path in the tree."""
    found: dict[str, MetadataOverride] = {}
    for deb in sorted(debs):
        for file in deb_contents(deb).special:
            found[file.path] = MetadataOverride(
                mode=file.mode,
                uid=file.uid,
                gid=file.gid,
                expected_mode=file.mode & ~SPECIAL_BITS,
                size=file.size,
            )
    return found


def stage_package_overrides(stage_package_dirs: Iterable[Path]) -> dict[str, MetadataOverride]:
    """Overrides for every .deb the parts staged."""
    debs = [deb for directory in stage_package_dirs for deb in directory.glob("*.deb")]
    return special_modes_from_debs(debs)
