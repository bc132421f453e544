"""The default Pebble, end to end with the real archives on a local release mirror:
download, trust file, cache, check, pack; then a pack with no download, a tampered mirror,
and wrong binaries given as ROCKPACK_PEBBLE_SOURCE."""

from __future__ import annotations

import gzip
import io
import json
import shutil
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import run_rockpack, write_project
from tests.integration.oci_tools import umoci_unpack, validate_rock
from tests.integration.test_pebble import (
    archive_binary,
    checks_ran,
    mirrored_env,
    pack,
    pebble_archive,
    real_mirror,
    running,
    sha256,
    table,
    wait_for,
)
from tests.unit.pebble.fakes import Mirror

pytestmark = pytest.mark.integration

ASSET = "/v1.32.1/pebble_v1.32.1_linux_amd64.tar.gz"

TWO_SERVICES = """
    name: two-services
    version: "1"
    summary: Two services and a check
    description: Packed with no Pebble setup but a mirror.
    base: debian@12
    platforms:
      amd64:
    services:
      first:
        override: replace
        command: /bin/sleep 1001
        startup: enabled
      second:
        override: replace
        command: /bin/sleep 1002
        startup: enabled
    checks:
      alive:
        override: replace
        period: 1s
        exec: {command: /bin/true}
      port:
        override: replace
        period: 1s
        threshold: 1
        tcp: {port: 8080}
    parts:
      nothing:
        plugin: nil
"""

BARE_SERVICES = """
    name: wrong-pebble
    version: "1"
    summary: Refused Pebble binaries
    description: Fails before building.
    base: bare
    build-base: debian@12
    platforms:
      amd64:
    services:
      s:
        override: replace
        command: /bin/s
    parts:
      nothing:
        plugin: nil
"""


@pytest.fixture
def pebble_mirror(tmp_path) -> Iterator[Mirror]:
    with real_mirror(tmp_path / "mirror") as mirror:
        yield mirror


@pytest.fixture
def pebble_env(base_env, pebble_mirror, tmp_path) -> dict[str, str]:
    return mirrored_env(base_env, pebble_mirror, tmp_path)


def pebble_cache(env: dict[str, str]) -> Path:
    return Path(env["XDG_CACHE_HOME"]) / "rockpack/pebble"


def trust_file(env: dict[str, str]) -> Path:
    return Path(env["XDG_CONFIG_HOME"]) / "rockpack/pebble-trust.json"


def cached_archives(env: dict[str, str]) -> list[str]:
    root = pebble_cache(env) / "archives/sha256"
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def one_line(text: str) -> str:
    return " ".join(text.split())


def timed_pack(project: Path, env: dict[str, str]):
    started = time.monotonic()
    result = pack(project, env)
    return result, time.monotonic() - started


def retarred(archive: Path, readme: bytes) -> bytes:
    """The real archive with another README: a valid Pebble release, other bytes."""
    out = io.BytesIO()
    with tarfile.open(archive) as source, tarfile.open(fileobj=out, mode="w") as tar:
        for member in source.getmembers():
            data = source.extractfile(member).read() if member.isfile() else b""
            if member.name == "README.md":
                data, member.size = readme, len(readme)
            tar.addfile(member, io.BytesIO(data))
    return gzip.compress(out.getvalue(), mtime=0)


def test_services_pack_from_the_mirror_run_and_repack_without_download(
    tmp_path, pebble_env, pebble_mirror
):
    project = tmp_path / "project"
    write_project(project, TWO_SERVICES)
    first, first_time = timed_pack(project, pebble_env)
    assert first.returncode == 0, first.stderr
    assert pebble_mirror.requests == [ASSET]
    rock = project / "two-services_1_amd64.rock"
    validate_rock(rock)
    archive_digest = sha256(pebble_archive("amd64").read_bytes())
    recorded = json.loads(trust_file(pebble_env).read_text())
    assert recorded["v1.32.1"]["amd64"] == {
        "sha256": archive_digest,
        "url": pebble_mirror.url + ASSET,
    }
    assert cached_archives(pebble_env) == [archive_digest]

    bundle = umoci_unpack(rock, tmp_path / "u")
    rootfs = bundle / "rootfs"
    assert (rootfs / "usr/bin/pebble").read_bytes() == archive_binary("amd64")
    metadata = yaml.safe_load((rootfs / ".rock/metadata.yaml").read_text())
    assert metadata["pebble"]["version"] == "v1.32.1"
    assert metadata["pebble"]["archive-sha256"] == archive_digest
    with running(bundle) as container:  # the image's own entrypoint: pebble enter
        services = table(
            wait_for(
                container,
                ["/usr/bin/pebble", "services"],
                lambda out: out.count(" active ") >= 2,
            )
        )
        assert services["first"][2] == "active" and services["second"][2] == "active"
        checks = table(wait_for(container, ["/usr/bin/pebble", "checks"], checks_ran))
        assert checks["alive"][3] == "up" and int(checks["alive"][4]) >= 1, checks

    first_bytes = rock.read_bytes()
    second, second_time = timed_pack(project, pebble_env)
    assert second.returncode == 0, second.stderr
    assert pebble_mirror.requests == [ASSET]  # no second download
    assert rock.read_bytes() == first_bytes
    print(f"\npack with download: {first_time:.2f} s; pack from the cache: {second_time:.2f} s")

    other = tmp_path / "other-project"  # the cache is shared by every project
    write_project(other, TWO_SERVICES.replace("name: two-services", "name: other"))
    assert pack(other, pebble_env).returncode == 0
    assert pebble_mirror.requests == [ASSET]


def test_a_tampered_archive_is_refused_with_both_digests(tmp_path, pebble_env, pebble_mirror):
    project = tmp_path / "project"
    write_project(project, TWO_SERVICES)
    assert pack(project, pebble_env).returncode == 0
    rock = project / "two-services_1_amd64.rock"
    earlier = sha256(rock.read_bytes())
    trusted = sha256(pebble_archive("amd64").read_bytes())
    shutil.rmtree(pebble_cache(pebble_env))  # a fresh machine with the same trust file
    tampered = retarred(pebble_archive("amd64"), b"# Pebble, tampered\n")
    pebble_mirror.put("amd64", tampered)
    # The project changes, so the pack really runs (an unchanged project is a no-op).
    (project / "rockpack.yaml").write_text((project / "rockpack.yaml").read_text() + "\n")

    result = pack(project, pebble_env)
    assert result.returncode == 1
    stderr = one_line(result.stderr)
    assert trusted in stderr and sha256(tampered) in stderr
    assert f"ROCKPACK_PEBBLE_ACCEPT=sha256:{sha256(tampered)}" in stderr
    assert str(trust_file(pebble_env)) in stderr
    assert "Traceback" not in result.stderr
    assert cached_archives(pebble_env) == []  # nothing cached
    assert not (pebble_cache(pebble_env) / "binaries").exists()
    assert json.loads(trust_file(pebble_env).read_text())["v1.32.1"]["amd64"]["sha256"] == trusted
    assert sha256(rock.read_bytes()) == earlier  # the earlier rock is intact

    accepted = {**pebble_env, "ROCKPACK_PEBBLE_ACCEPT": f"sha256:{sha256(tampered)}"}
    assert pack(project, accepted).returncode == 0  # accepted deliberately
    assert cached_archives(pebble_env) == [sha256(tampered)]


def test_the_wrong_archive_on_first_use_is_neither_trusted_nor_cached(
    tmp_path, pebble_env, pebble_mirror
):
    pebble_mirror.put("amd64", pebble_archive("arm64").read_bytes())
    project = tmp_path / "project"
    write_project(project, BARE_SERVICES)
    result = pack(project, pebble_env)
    assert result.returncode == 1
    stderr = one_line(result.stderr)
    assert "executable for AArch64, not for amd64" in stderr
    assert "ROCKPACK_PEBBLE_MIRROR" in stderr
    assert not trust_file(pebble_env).exists() and cached_archives(pebble_env) == []


def wrong_sources(tmp_path: Path) -> dict[str, tuple[Path, str, str]]:
    """Kind -> (ROCKPACK_PEBBLE_SOURCE, what the message calls it, the problem)."""
    acme = tmp_path / "acme/pebble"  # like Debian's ACME pebble: a dynamic executable
    acme.parent.mkdir()
    shutil.copy("/bin/true", acme)
    text = tmp_path / "text/pebble"
    text.parent.mkdir()
    text.write_text("#!/bin/sh\nexec echo pebble\n")
    arm64 = pebble_archive("arm64")
    return {
        "dynamic": (
            acme,
            str(acme),
            "it is dynamically linked (interpreter /lib64/ld-linux-x86-64.so.2",
        ),
        "other arch": (
            arm64,
            f"'pebble' in {arm64}",
            "it is an executable for AArch64, not for amd64",
        ),
        "not ELF": (
            text,
            str(text),
            "it is a script (interpreter /bin/sh), not an ELF executable",
        ),
    }


def test_wrong_binaries_are_refused_each_with_its_own_message(tmp_path, pebble_env):
    messages = set()
    for kind, (source, name, problem) in wrong_sources(tmp_path).items():
        project = tmp_path / kind.replace(" ", "-")
        write_project(project, BARE_SERVICES)
        result = run_rockpack(
            "pack",
            "--destructive-mode",
            "--project-dir",
            project,
            env={**pebble_env, "ROCKPACK_PEBBLE_SOURCE": str(source)},
        )
        assert result.returncode == 1, kind
        stderr = one_line(result.stderr)
        assert f"{name} cannot be the rock's Pebble: {problem}" in stderr, (kind, stderr)
        assert "Needed: Pebble for amd64, a statically linked ELF executable for x86-64" in (
            stderr
        ), kind
        assert "Traceback" not in result.stderr
        assert not (project / ".rockpack/work").exists() and not list(project.glob("*.rock"))
        messages.add(problem)
    assert len(messages) == 3
