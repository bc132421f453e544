"""Restore the setuid and setgid bits craft-parts strips from stage-packages.

craft-parts clears those bits while unpacking .deb files (snaps forbid them). A rock
needs them (``passwd`` must stay 4755), so the modes and owners are read back from the
packages craft-parts downloaded and applied to the layer entries, never to the files
(primed files are hardlinks into the parts' directories).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from rockpack.errors import LifecycleError
from rockpack.layer.scan import MetadataOverride

SPECIAL_BITS = 0o6000  # setuid | setgid


def special_modes_from_debs(debs: Iterable[Path]) -> dict[str, MetadataOverride]:
    """Files with setuid or setgid in the given packages, keyed by their path in the tree."""
    import apt_inst  # python-apt: Debian's own reader of .deb archives

    found: dict[str, MetadataOverride] = {}

    for deb in sorted(debs):

        def visit(member: object, _data: object, deb: Path = deb) -> None:
            mode = member.mode & 0o7777  # type: ignore[attr-defined]
            if member.isreg() and mode & SPECIAL_BITS:  # type: ignore[attr-defined]
                path = member.name.removeprefix("./")  # type: ignore[attr-defined]
                found[path] = MetadataOverride(
                    mode=mode,
                    uid=member.uid,  # type: ignore[attr-defined]
                    gid=member.gid,  # type: ignore[attr-defined]
                    expected_mode=mode & ~SPECIAL_BITS,
                    size=member.size,  # type: ignore[attr-defined]
                )

        try:
            apt_inst.DebFile(str(deb)).data.go(visit)
        except SystemError as err:  # python-apt reports a damaged archive this way
            raise LifecycleError(
                f"Cannot read the package {deb.name}: {err}.",
                resolution="Run 'rockpack clean' to download the stage-packages again.",
            ) from err
    return found


def stage_package_overrides(stage_package_dirs: Iterable[Path]) -> dict[str, MetadataOverride]:
    """Overrides for every .deb the parts staged."""
    debs = [deb for directory in stage_package_dirs for deb in directory.glob("*.deb")]
    return special_modes_from_debs(debs)
