"""Every Pebble test gets its own cache and config directories; ``mirror`` serves a
directory as a Pebble release mirror on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.pebble.fakes import Mirror, make_elf, release_archive, serve


@pytest.fixture(autouse=True)
def own_user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    for name in ("ROCKPACK_PEBBLE_SOURCE", "ROCKPACK_PEBBLE_MIRROR", "ROCKPACK_PEBBLE_ACCEPT"):
        monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[Mirror]:
    """A mirror holding a fake Pebble release archive for amd64 and for arm64."""
    with serve(tmp_path / "mirror") as served:
        served.put("amd64", release_archive(make_elf("amd64")))
        served.put("arm64", release_archive(make_elf("arm64")))
        yield served
