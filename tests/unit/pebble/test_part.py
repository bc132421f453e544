"""The injected part that installs the checked binary at /usr/bin/pebble."""

from __future__ import annotations

from pathlib import Path

import pytest

from rockpack.errors import RockpackError
from rockpack.pebble.part import check_user_part, pebble_part
from rockpack.pebble.source import ProvidedPebble

PROVIDED = ProvidedPebble(
    binary=Path("/cache/pebble/binaries/sha256/abc/pebble"),
    sha256="abc" + "0" * 61,
    version="v1.32.1",
    archive_sha256="def" + "0" * 61,
)


def test_the_part_installs_the_cached_binary_and_craft_parts_checks_its_digest():
    part = pebble_part(PROVIDED)
    assert part == {
        "plugin": "nil",
        "source": "/cache/pebble/binaries/sha256/abc/pebble",
        "source-type": "file",
        "source-checksum": f"sha256/{PROVIDED.sha256}",
        "override-build": 'install -D -m 0755 "$CRAFT_PART_SRC/pebble" '
        '"$CRAFT_PART_INSTALL/usr/bin/pebble"\n',
        "stage": ["usr/bin/pebble"],
        "prime": ["usr/bin/pebble"],
    }


def test_a_project_part_named_pebble_is_refused():
    check_user_part({"other": {"plugin": "nil"}})
    with pytest.raises(RockpackError, match="part named 'pebble'") as info:
        check_user_part({"pebble": {"plugin": "dump", "source": "."}})
    assert "'pebble: project'" in info.value.resolution
