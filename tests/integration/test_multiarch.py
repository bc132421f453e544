"""Multi-arch on an amd64 machine: arm64 rocks built here (Debian multiarch stage-packages,
the base's arm64 image, qemu-user for target code), one multi-platform rock, and an index
assembled in a registry from rocks pushed by digest, without pulling a layer.

Judged by real tools only: runc (binfmt_misc runs the arm64 binaries), podman picking a
platform with --arch, skopeo copying every platform, docker-registry's own request log.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rockpack.build.emulation import elf_kind
from rockpack.oci.rock_archive import RockIndex, read_rock, read_rock_contents
from rockpack.project.architectures import host_arch
from tests.conftest import REPO, require_file, require_tool, run_rockpack, write_project
from tests.integration.oci_tools import (
    layer_tar,
    rock_config,
    runc_run,
    umoci_unpack,
    validate_rock,
)

pytestmark = pytest.mark.integration

EPOCH = "1700000000"
PEBBLE_ARCHIVES = REPO.parent / "shared" / "tools" / "pebble"

BARE = """
    name: hello-multi
    version: "1.0"
    summary: busybox for two architectures
    description: busybox-static from Debian, for amd64 and arm64.
    base: bare
    build-base: debian@12
    entrypoint-command: /bin/busybox uname -m
    platforms:
      amd64:
      arm64:
        build-on: [amd64]
        build-for: [arm64]
    parts:
      busybox:
        plugin: nil
        stage-packages: [busybox-static]
"""

ON_DEBIAN = """
    name: deb-arm
    version: "1.0"
    summary: busybox on Debian for arm64
    description: An arm64 rock on the arm64 image of a two-platform Debian base.
    base: debian@12
    build-base: debian@12
    entrypoint-command: /bin/sh -c "uname -m; cat /etc/build-arch; busybox | head -1"
    platforms:
      arm64:
        build-on: [amd64]
        build-for: [arm64]
    parts:
      busybox:
        plugin: nil
        stage-packages: [busybox-static]
        overlay-script: |
          chroot "$CRAFT_OVERLAY" /usr/bin/uname -m > "$CRAFT_OVERLAY/etc/build-arch"
"""

SERVICES = """
    name: svc-arm
    version: "1.0"
    summary: Pebble for arm64
    description: An arm64 rock whose entrypoint is Pebble.
    base: bare
    build-base: debian@12
    platforms:
      arm64:
        build-on: [amd64]
        build-for: [arm64]
    services:
      hello:
        override: replace
        command: /bin/busybox sleep 1000
        startup: enabled
    parts:
      busybox:
        plugin: nil
        stage-packages: [busybox-static]
"""


@dataclass(frozen=True)
class Packed:
    project: Path
    amd64: Path
    arm64: Path
    index: Path


def pack(project: Path, env: dict[str, str], *args: str) -> None:
    result = run_rockpack("pack", "--destructive-mode", "--project-dir", project, *args, env=env)
    assert result.returncode == 0, result.stderr[-4000:]


def packed_bare(directory: Path) -> Packed:
    project = directory / "project"
    write_project(project, BARE)
    env = {"SOURCE_DATE_EPOCH": EPOCH, "XDG_CACHE_HOME": str(directory / "cache")}
    pack(project, env, "--index")
    return Packed(
        project,
        project / "hello-multi_1.0_amd64.rock",
        project / "hello-multi_1.0_arm64.rock",
        project / "hello-multi_1.0.rock",
    )


@pytest.fixture(scope="module")
def packed(arm64_host, tmp_path_factory) -> Packed:
    """The bare project packed once, with --index: two rocks and the index rock."""
    return packed_bare(tmp_path_factory.mktemp("multiarch"))


def files_of(rock: Path) -> dict[str, tuple[int, bytes]]:
    """Every regular file of the rock's layers: path -> (mode, first 20 bytes)."""
    found = {}
    for number in range(len(read_rock(rock).layers)):
        with layer_tar(rock, number) as tar:
            for member in tar.getmembers():
                handle = tar.extractfile(member) if member.isfile() else None
                if handle is not None:
                    found[member.name.lstrip("./")] = (member.mode, handle.read(20))
    return found


def test_each_rock_holds_its_architectures_binaries_and_says_so(packed):
    for rock, arch, variant, machine in (
        (packed.amd64, "amd64", None, "amd64"),
        (packed.arm64, "arm64", "v8", "arm64"),
    ):
        config = validate_rock(rock)
        assert config["architecture"] == arch and config.get("variant") == variant
        binaries = {
            path: elf_kind(head).arch
            for path, (_, head) in files_of(rock).items()
            if elf_kind(head) is not None
        }
        assert binaries and set(binaries.values()) == {machine}, binaries
        assert "bin/busybox" in binaries or "usr/bin/busybox" in binaries


def test_the_arm64_rock_runs_under_emulation(packed, tmp_path):
    bundle = umoci_unpack(packed.arm64, tmp_path)
    result = runc_run(bundle)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "aarch64"
    assert runc_run(bundle, ["/bin/busybox", "echo", "hello from arm64"]).stdout.strip() == (
        "hello from arm64"
    )


def test_the_index_rock_holds_both_images_unchanged(packed):
    contents = read_rock_contents(packed.index)
    assert isinstance(contents, RockIndex)
    digests = {image.manifest.digest for image in contents.images}
    assert digests == {
        read_rock(packed.amd64).manifest.digest,
        read_rock(packed.arm64).manifest.digest,
    }
    index = json.loads(contents.raw)
    assert [m["platform"] for m in index["manifests"]] == [
        {"architecture": "amd64", "os": "linux"},
        {"architecture": "arm64", "os": "linux", "variant": "v8"},
    ]


@pytest.fixture
def podman_short_env() -> Iterator[dict[str, str]]:
    """podman_env's settings with its run root at a short path: under pytest's long
    temporary paths each 'podman run' waits 20 s (conmon's socket path is too long)."""
    require_tool("podman")
    work = Path(tempfile.mkdtemp(prefix="rp-podman-", dir="/tmp"))
    try:
        conf = work / "containers.conf"
        conf.write_text(
            '[containers]\nnetns = "none"\n'
            'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n'
            '[engine]\nruntime = "runc"\n'
        )
        storage = work / "storage.conf"
        storage.write_text(
            f'[storage]\ndriver = "vfs"\nrunroot = "{work}/run"\ngraphroot = "{work}/graph"\n'
        )
        yield {"CONTAINERS_CONF": str(conf), "CONTAINERS_STORAGE_CONF": str(storage)}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_skopeo_copies_every_platform_and_podman_picks_by_arch(packed, tmp_path, podman_short_env):
    skopeo, podman = require_tool("skopeo"), require_tool("podman")
    layout = tmp_path / "layout"
    subprocess.run(
        [skopeo, "copy", "-q", "--all", f"oci-archive:{packed.index}", f"oci:{layout}:all"],
        check=True,
        timeout=120,
    )
    [top] = json.loads((layout / "index.json").read_text())["manifests"]
    assert top["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert top["digest"] == read_rock_contents(packed.index).descriptor.digest
    env = {**podman_short_env, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    for arch, machine in (("arm64", "aarch64"), ("amd64", "x86_64")):
        result = subprocess.run(
            [podman, "run", "--rm", "--arch", arch, f"oci-archive:{packed.index}"],
            capture_output=True,
            text=True,
            env={**os.environ, **env},
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().splitlines()[-1] == machine


def test_the_same_inputs_give_the_same_index(packed, tmp_path):
    again = packed_bare(tmp_path)
    assert sha256(again.index) == sha256(packed.index)
    assert sha256(again.arm64) == sha256(packed.arm64)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# The registry: two builders push by digest, a third assembles the index.

_REQUEST = re.compile(r'http\.request\.method=(\w+) .*?http\.request\.uri="?([^"\s]+)')


def requests_since(log: Path, mark: int) -> list[tuple[str, str]]:
    lines = [line for line in log.read_text().splitlines() if "response completed" in line]
    return [m.groups() for line in lines[mark:] if (m := _REQUEST.search(line))]  # type: ignore[misc]


def mark(log: Path) -> int:
    return sum("response completed" in line for line in log.read_text().splitlines())


def rockpack_ok(*args: str | Path) -> str:
    result = run_rockpack(*args)
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stderr + result.stdout


def registry_index(host: str, repository: str, tag: str) -> tuple[str, dict]:
    skopeo = require_tool("skopeo")
    raw = subprocess.run(
        [skopeo, "inspect", "--raw", "--tls-verify=false", f"docker://{host}/{repository}:{tag}"],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    return "sha256:" + hashlib.sha256(raw).hexdigest(), json.loads(raw)


def test_an_index_of_rocks_pushed_by_digest_pulls_no_layer(packed, registry):
    amd64, arm64 = read_rock(packed.amd64), read_rock(packed.arm64)
    for rock, image in ((packed.amd64, amd64), (packed.arm64, arm64)):
        said = rockpack_ok("push", rock, f"{registry.host}/ci/app@{image.manifest.digest}")
        assert f"ci/app@{image.manifest.digest}" in said
    start = mark(registry.log)
    said = rockpack_ok(
        "index", f"{registry.host}/ci/app:1.0", arm64.manifest.digest, amd64.manifest.digest
    )
    digest, index = registry_index(registry.host, "ci/app", "1.0")
    assert digest in said
    assert {m["digest"] for m in index["manifests"]} == {
        amd64.manifest.digest,
        arm64.manifest.digest,
    }
    blob_gets = {
        uri.rsplit("/", 1)[1]
        for method, uri in requests_since(registry.log, start)
        if method == "GET" and "/blobs/" in uri
    }
    layers = {layer.digest for image in (amd64, arm64) for layer in image.layers}
    assert blob_gets <= {amd64.config.digest, arm64.config.digest}
    assert not blob_gets & layers
    # The same images give the same index, however it was made.
    assert digest == read_rock_contents(packed.index).descriptor.digest


def test_pushing_the_index_rock_or_both_rocks_gives_the_same_index(packed, registry):
    expected = read_rock_contents(packed.index).descriptor.digest
    rockpack_ok("push", packed.index, f"{registry.host}/multi/app")
    rockpack_ok("push", packed.arm64, packed.amd64, f"{registry.host}/pair/app:1.0")
    for repository in ("multi/app", "pair/app"):
        digest, index = registry_index(registry.host, repository, "1.0")
        assert digest == expected, repository
        assert len(index["manifests"]) == 2


def test_an_image_of_another_repository_is_linked_by_mounts(packed, registry):
    amd64, arm64 = read_rock(packed.amd64), read_rock(packed.arm64)
    for rock, image in ((packed.amd64, amd64), (packed.arm64, arm64)):
        rockpack_ok("push", rock, f"{registry.host}/builders/app@{image.manifest.digest}")
    start = mark(registry.log)
    rockpack_ok(
        "index",
        f"{registry.host}/release/app:1.0",
        f"{registry.host}/builders/app@{amd64.manifest.digest}",
        f"{registry.host}/builders/app@{arm64.manifest.digest}",
    )
    requests = requests_since(registry.log, start)
    assert any(method == "POST" and "mount=" in uri for method, uri in requests)
    assert not [uri for method, uri in requests if method in ("PATCH",)]  # nothing uploaded
    layers = {layer.digest for image in (amd64, arm64) for layer in image.layers}
    gets = {uri.rsplit("/", 1)[1] for method, uri in requests if method == "GET"}
    assert not gets & layers
    digest, _ = registry_index(registry.host, "release/app", "1.0")
    assert digest == read_rock_contents(packed.index).descriptor.digest


# A base image's arm64 manifest, and target code run in the overlay step.


def test_an_arm64_rock_on_the_arm64_image_of_a_two_platform_base(
    arm64_host, debian_multiarch_base, tmp_path
):
    project = tmp_path / "project"
    write_project(project, ON_DEBIAN)
    config_home = tmp_path / "config"
    (config_home / "rockpack").mkdir(parents=True)
    (config_home / "rockpack" / "bases.yaml").write_text(
        f"debian@12: {debian_multiarch_base.reference}\n"
    )
    env = {
        "SOURCE_DATE_EPOCH": EPOCH,
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "XDG_CONFIG_HOME": str(config_home),
    }
    pack(project, env)
    rock = project / "deb-arm_1.0_arm64.rock"
    config = validate_rock(rock)
    assert (config["architecture"], config.get("variant")) == ("arm64", "v8")
    labels = config["config"]["Labels"]
    assert (
        labels["org.opencontainers.image.base.digest"] == debian_multiarch_base.manifests["arm64"]
    )
    result = runc_run(umoci_unpack(rock, tmp_path / "run"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[:2] == ["aarch64", "aarch64"]  # at run time, and in the overlay step
    assert lines[2].startswith("BusyBox")


def test_the_pebble_of_an_arm64_rock_is_arm64s(arm64_host, tmp_path):
    archive = PEBBLE_ARCHIVES / "pebble_v1.32.1_linux_arm64.tar.gz"
    require_file(archive, "the real Pebble archives are needed (see test-env.md)")
    project = tmp_path / "project"
    write_project(project, SERVICES)
    env = {
        "SOURCE_DATE_EPOCH": EPOCH,
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "ROCKPACK_PEBBLE_SOURCE": str(archive),
    }
    pack(project, env)
    rock = project / "svc-arm_1.0_arm64.rock"
    assert rock_config(rock)["config"]["Entrypoint"][:2] == ["/usr/bin/pebble", "enter"]
    mode, head = files_of(rock)["usr/bin/pebble"]
    assert elf_kind(head).arch == "arm64" and mode & 0o111
    bundle = umoci_unpack(rock, tmp_path / "run")
    result = runc_run(bundle, ["/usr/bin/pebble", "version", "--client"])
    assert result.returncode == 0, result.stderr
    assert "v1.32.1" in result.stdout


# What cannot be built for arm64 here is refused before any part runs.

on_amd64 = pytest.mark.skipif(host_arch() != "amd64", reason="builds arm64 on an amd64 host")


@on_amd64
def test_a_compiling_part_for_arm64_is_refused_before_it_runs(tmp_path):
    project = tmp_path / "project"
    write_project(
        project,
        BARE.replace("plugin: nil", "plugin: make\n        source: .").replace(
            "      amd64:\n", ""
        ),
    )
    result = run_rockpack("pack", "--destructive-mode", "--project-dir", project)
    assert result.returncode != 0
    assert "part 'busybox' uses the 'make' plugin" in result.stderr
    assert "rockpack index" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list(project.glob("*.rock")) and not (project / ".rockpack" / "work").exists()


@on_amd64
def test_the_lifecycle_commands_refuse_foreign_stage_packages(tmp_path):
    project = tmp_path / "project"
    write_project(project, BARE)
    result = run_rockpack(
        "prime", "--destructive-mode", "--build-for", "arm64", "--project-dir", project
    )
    assert result.returncode != 0
    assert "rockpack pack --build-for arm64" in result.stderr
