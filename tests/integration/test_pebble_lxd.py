"""A clean LXD build gets the host's Pebble: the instance has no network of its own.

The host downloads the release from the mirror (or takes it from its cache), checks it,
and puts it with its trust entry into the instance's cache; the rock gets the same Pebble,
and the same metadata, as a build on the host.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from rockpack.oci.rock_archive import read_rock
from tests.conftest import MINIMAL, write_project
from tests.integration.oci_tools import layer_tar
from tests.integration.test_lxd import timed_pack
from tests.integration.test_pebble import (
    archive_binary,
    mirrored_env,
    pebble_archive,
    real_mirror,
    sha256,
)
from tests.unit.pebble.fakes import Mirror

pytestmark = pytest.mark.integration

SERVICES = MINIMAL.replace("    entrypoint-command: /bin/hello [ world ]\n", "") + (
    "    services:\n      hello:\n        override: replace\n        command: /bin/hello\n"
)


@pytest.fixture
def pebble_mirror(tmp_path) -> Iterator[Mirror]:
    with real_mirror(tmp_path / "mirror") as mirror:
        yield mirror


def rock_files(rock: Path) -> dict[str, bytes]:
    """Every regular file of every layer of ``rock`` (a later layer wins)."""
    files: dict[str, bytes] = {}
    for number in range(len(read_rock(rock).layers)):
        with layer_tar(rock, number) as tar:
            for member in tar.getmembers():
                if member.isfile():
                    files[member.name] = tar.extractfile(member).read()
    return files


def test_a_clean_build_gets_the_hosts_release_pebble(lxd, pebble_mirror, tmp_path):
    env = mirrored_env(lxd, pebble_mirror, tmp_path)
    clean, host = tmp_path / "clean", tmp_path / "host"
    write_project(clean, SERVICES)
    write_project(host, SERVICES)
    result, _ = timed_pack(clean, env)
    assert result.returncode == 0, result.stderr
    assert "in a clean LXD instance" in result.stdout
    assert len(pebble_mirror.requests) == 1  # by the host
    destructive, _ = timed_pack(host, env, "--destructive-mode")
    assert destructive.returncode == 0, destructive.stderr
    assert len(pebble_mirror.requests) == 1  # the host's cache
    rock = "hello_1.0_amd64.rock"
    inside, outside = rock_files(clean / rock), rock_files(host / rock)
    assert inside["usr/bin/pebble"] == outside["usr/bin/pebble"] == archive_binary("amd64")
    metadata = yaml.safe_load(inside[".rock/metadata.yaml"])
    assert metadata == yaml.safe_load(outside[".rock/metadata.yaml"])
    assert metadata["pebble"]["version"] == "v1.32.1"
    assert metadata["pebble"]["archive-sha256"] == sha256(pebble_archive("amd64").read_bytes())
