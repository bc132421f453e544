"""Real infrastructure for integration tests: a Debian base built with mmdebstrap and a
docker-registry on 127.0.0.1 serving it. Both are made once per test session."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tarfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO, require_tool, run_rockpack

BASE_EPOCH = "1700000000"
ROOTFS_CACHE = Path(os.environ.get("ROCKPACK_TEST_CACHE", Path.home() / ".cache/rockpack-tests"))


@dataclass(frozen=True)
class Registry:
    host: str  # 127.0.0.1:PORT
    log: Path

    def request_count(self) -> int:
        """Requests the registry has answered so far (from its access log)."""
        text = self.log.read_text(errors="replace")
        return text.count("response completed")


@dataclass(frozen=True)
class PushedBase:
    registry: Registry
    manifest_digest: str
    layer_digests: list[str]
    rootfs_tar: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _is_rootfs_tar(path: Path) -> bool:
    """A cached base tar is trusted only when it is a readable tar with a usrmerge root."""
    if not path.is_file():
        return False
    try:
        with tarfile.open(path) as archive:
            names = {member.name.lstrip("./") for member in archive.getmembers()}
    except (tarfile.TarError, OSError):
        return False
    return {"usr/bin/dpkg", "etc/debian_version", "bin"} <= names


@pytest.fixture(scope="session")
def debian_rootfs() -> Path:
    """A Debian bookworm minbase rootfs tar, byte-identical on every build; cached.

    A cache entry that is not a good tar (a directory, a truncated file) is rebuilt.
    """
    ROOTFS_CACHE.mkdir(parents=True, exist_ok=True)
    tar = ROOTFS_CACHE / f"bookworm-minbase-{BASE_EPOCH}.tar"
    if _is_rootfs_tar(tar):
        return tar
    mmdebstrap = require_tool("mmdebstrap")
    partial = tar.with_name(tar.name + ".partial")
    for stale in (tar, partial):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale)
        else:
            stale.unlink(missing_ok=True)
    subprocess.run(
        [
            mmdebstrap,
            "--variant=minbase",
            "--mode=unshare",
            "--format=tar",  # the output name's extension would otherwise choose it
            "--skip=output/dev",
            "-q",
            "bookworm",
            str(partial),
        ],
        env={**os.environ, "SOURCE_DATE_EPOCH": BASE_EPOCH},
        check=True,
    )
    if not _is_rootfs_tar(partial):
        pytest.fail(f"mmdebstrap did not write a rootfs tar at {partial}")
    partial.replace(tar)
    return tar


@pytest.fixture(scope="session")
def registry(tmp_path_factory) -> Iterator[Registry]:
    """docker-registry (distribution) on a free loopback port, for this session."""
    binary = require_tool("docker-registry")
    work = tmp_path_factory.mktemp("registry")
    port = free_port()
    config = work / "config.yml"
    config.write_text(
        "version: 0.1\n"
        f"storage: {{filesystem: {{rootdirectory: {work / 'data'}}}, delete: {{enabled: true}}}}\n"
        f"http: {{addr: 127.0.0.1:{port}}}\n"
        "log: {level: info, accesslog: {disabled: true}}\n"
    )
    log = work / "registry.log"
    with log.open("wb") as out:
        process = subprocess.Popen([binary, "serve", str(config)], stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail(f"docker-registry did not start: {log.read_text()[-2000:]}")
                time.sleep(0.1)
        yield Registry(host=f"127.0.0.1:{port}", log=log)
    finally:
        process.terminate()
        process.wait(timeout=10)


def oci_image_from_rootfs(rootfs_tar: Path, layout: Path, tag: str) -> None:
    """An OCI image of one layer made from ``rootfs_tar`` with umoci (not with rockpack)."""
    umoci = require_tool("umoci")
    subprocess.run([umoci, "init", "--layout", str(layout)], check=True)
    subprocess.run([umoci, "new", "--image", f"{layout}:{tag}"], check=True)
    subprocess.run(
        [umoci, "raw", "add-layer", "--image", f"{layout}:{tag}", str(rootfs_tar)], check=True
    )
    subprocess.run(
        [
            umoci,
            "config",
            "--image",
            f"{layout}:{tag}",
            "--config.env",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--config.label",
            "org.example.base-only=yes",
        ],
        check=True,
    )


def push(layout: Path, tag: str, registry: Registry, repository: str) -> str:
    """Push ``layout:tag`` to ``registry``; return the manifest digest it got there."""
    skopeo = require_tool("skopeo")
    digest_file = layout.parent / f"{tag}.digest"
    subprocess.run(
        [
            skopeo,
            "copy",
            "-q",
            "--dest-tls-verify=false",
            "--digestfile",
            str(digest_file),
            f"oci:{layout}:{tag}",
            f"docker://{registry.host}/{repository}:{tag}",
        ],
        check=True,
    )
    return digest_file.read_text().strip()


@pytest.fixture(scope="session")
def debian_base(debian_rootfs, registry, tmp_path_factory) -> PushedBase:
    """debian@12 as library/debian:bookworm in the session's registry."""
    layout = tmp_path_factory.mktemp("base") / "layout"
    oci_image_from_rootfs(debian_rootfs, layout, "bookworm")
    digest = push(layout, "bookworm", registry, "library/debian")
    index = json.loads((layout / "index.json").read_text())
    manifest_digest = index["manifests"][0]["digest"]
    manifest = json.loads((layout / "blobs/sha256" / manifest_digest[7:]).read_text())
    return PushedBase(
        registry, digest, [layer["digest"] for layer in manifest["layers"]], debian_rootfs
    )


@pytest.fixture
def base_env(debian_base, tmp_path) -> dict[str, str]:
    """Environment for rockpack: bases through the test registry, a cache of its own."""
    return {
        "ROCKPACK_REGISTRY_MIRROR": debian_base.registry.host,
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }


EXAMPLE_EPOCH = "1700000000"


@pytest.fixture(scope="session")
def example_rock(tmp_path_factory) -> Path:
    """The example project, packed once per session with SOURCE_DATE_EPOCH set."""
    project = tmp_path_factory.mktemp("example")
    shutil.copytree(REPO / "examples", project, dirs_exist_ok=True)
    result = run_rockpack(
        "pack",
        "--destructive-mode",
        "--project-dir",
        project,
        env={"SOURCE_DATE_EPOCH": EXAMPLE_EPOCH},
    )
    assert result.returncode == 0, result.stderr
    return project / "hello-busybox_1.0_amd64.rock"


@pytest.fixture
def podman_env(tmp_path) -> dict[str, str]:
    """podman with its store, runtime and network settings inside the test's directory."""
    require_tool("podman")
    conf = tmp_path / "containers.conf"
    conf.write_text(
        '[containers]\nnetns = "none"\n'
        'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n'
        '[engine]\nruntime = "runc"\n'
    )
    storage = tmp_path / "storage.conf"
    storage.write_text(
        f'[storage]\ndriver = "vfs"\nrunroot = "{tmp_path}/run"\ngraphroot = "{tmp_path}/graph"\n'
    )
    return {"CONTAINERS_CONF": str(conf), "CONTAINERS_STORAGE_CONF": str(storage)}
