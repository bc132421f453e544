"""The part that puts the Pebble binary at /usr/bin/pebble in a rock that needs it.

Its source is the binary source.py provided: already checked, in the cache under its
own digest, which craft-parts verifies again as it pulls it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rockpack.errors import RockpackError
from rockpack.pebble.release import SOURCE_ENV
from rockpack.pebble.source import ProvidedPebble

PART_NAME = "pebble"
_INSTALL = 'install -D -m 0755 "$CRAFT_PART_SRC/pebble" "$CRAFT_PART_INSTALL/usr/bin/pebble"\n'


def pebble_part(provided: ProvidedPebble) -> dict[str, Any]:
    """The craft-parts spec of the injected pebble part."""
    return {
        "plugin": "nil",
        "source": str(provided.binary),
        "source-type": "file",
        "source-checksum": f"sha256/{provided.sha256}",
        "override-build": _INSTALL,
        "stage": ["usr/bin/pebble"],
        "prime": ["usr/bin/pebble"],
    }


def check_user_part(parts: Mapping[str, Any]) -> None:
    """A project's own part named 'pebble' would silently replace the injected one."""
    if PART_NAME in parts:
        raise RockpackError(
            f"The project has a part named '{PART_NAME}', which rockpack uses for the "
            "Pebble binary.",
            resolution="Add 'pebble: project' to the project file to have your part provide "
            f"/usr/bin/pebble, rename the part, or set {SOURCE_ENV} to a binary.",
        )
