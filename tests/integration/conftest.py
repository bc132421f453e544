"""Real infrastructure for integration tests: a Debian base built with mmdebstrap and a
docker-registry on 127.0.0.1 serving it. Both are made once per test session."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO, require_tool, run_rockpack, unavailable

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


def cached_rootfs(
    name: str, extra: list[str], is_good: Callable[[Path], bool], timeout: float | None = None
) -> Path:
    """A Debian bookworm minbase rootfs tar built by mmdebstrap, byte-identical on every
    build and cached as ``name``. A cache entry that is not good (a directory, a truncated
    tar, another architecture's) is rebuilt, never trusted."""
    ROOTFS_CACHE.mkdir(parents=True, exist_ok=True)
    tar = ROOTFS_CACHE / name
    if is_good(tar):
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
            *extra,
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
        timeout=timeout,
    )
    if not is_good(partial):
        pytest.fail(f"mmdebstrap did not write a good rootfs tar at {partial}")
    partial.replace(tar)
    return tar


@pytest.fixture(scope="session")
def debian_rootfs() -> Path:
    """The host architecture's Debian bookworm minbase rootfs tar; cached."""
    return cached_rootfs(f"bookworm-minbase-{BASE_EPOCH}.tar", [], _is_rootfs_tar)


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
def podman_env(tmp_path) -> Iterator[dict[str, str]]:
    """podman with its store, runtime and network settings inside the test's directory.

    Its run root is a short path of its own: under pytest's long temporary path, every
    'podman run' waits 20 s (a socket path too long for conmon)."""
    require_tool("podman")
    run_root = Path(tempfile.mkdtemp(prefix="rp-", dir="/tmp"))
    conf = tmp_path / "containers.conf"
    conf.write_text(
        '[containers]\nnetns = "none"\n'
        'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n'
        '[engine]\nruntime = "runc"\n'
    )
    storage = tmp_path / "storage.conf"
    storage.write_text(
        f'[storage]\ndriver = "vfs"\nrunroot = "{run_root}"\ngraphroot = "{tmp_path}/graph"\n'
    )
    try:
        yield {"CONTAINERS_CONF": str(conf), "CONTAINERS_STORAGE_CONF": str(storage)}
    finally:
        shutil.rmtree(run_root, ignore_errors=True)


@pytest.fixture(scope="session")
def lxd() -> Iterator[dict[str, str]]:
    """An LXD daemon of the test session's own: a dir pool, no network, then shut down.

    Shared by every clean-build test module (test_lxd, test_package_repositories,
    test_snaps_chisel): one daemon, one image cache, per session.
    """
    daemon, client = require_tool("lxd"), require_tool("lxc")
    # Unprivileged containers run as shifted uids, which must be able to traverse the
    # path to their root filesystem: pytest's own temporary root is private (0700).
    work = Path(tempfile.mkdtemp(prefix="rockpack-lxd-", dir="/var/tmp"))
    work.chmod(0o755)
    env = {
        "LXD_DIR": str(work / "var"),
        "LXD_CONF": str(work / "conf"),
        "XDG_CACHE_HOME": str(work / "cache"),
    }
    for name in ("var", "conf", "pool"):
        (work / name).mkdir()
    full = {**os.environ, **env}
    log = (work / "lxd.out").open("wb")
    process = subprocess.Popen(
        [daemon, "--group", "root", "--logfile", str(work / "lxd.log")],
        env=full,
        stdout=log,
        stderr=log,
    )
    try:
        subprocess.run([daemon, "waitready", "--timeout", "60"], env=full, check=True)
        preseed = (
            'config:\n  images.auto_update_interval: "0"\n'
            f"storage_pools:\n- name: default\n  driver: dir\n  config: {{source: {work}/pool}}\n"
            "profiles:\n- name: default\n  devices:\n"
            "    root: {path: /, pool: default, type: disk}\n"
        )
        subprocess.run([daemon, "init", "--preseed"], input=preseed.encode(), env=full, check=True)
        assert subprocess.run([client, "info"], env=full, capture_output=True).returncode == 0
        yield env
    finally:
        subprocess.run(
            [daemon, "shutdown", "--timeout", "60"], env=full, check=False, capture_output=True
        )
        if process.poll() is None:
            process.kill()
        process.wait()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


# Foreign architectures (arm64 on an amd64 machine): qemu-user through binfmt_misc, the
# host's apt with arm64 lists, and an arm64 Debian base beside the amd64 one.

ARM64_ROOTFS_MINUTES = 15  # mmdebstrap --arch=arm64 runs its scripts emulated (~1.5 min here)


def _enable_arm64_emulation() -> str:
    """'' when arm64 binaries run here (in chroots too), else why not."""
    from rockpack.build.emulation import BINFMT_DIR, emulation_for

    if emulation_for("arm64", "amd64").usable:
        return ""
    if os.geteuid() != 0 or not shutil.which("update-binfmts"):
        return emulation_for("arm64", "amd64").reason + " (install qemu-user-static)"
    if not (BINFMT_DIR / "status").exists():
        subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT_DIR)], check=False)
    subprocess.run(["update-binfmts", "--enable", "qemu-aarch64"], check=False)
    return emulation_for("arm64", "amd64").reason


@pytest.fixture(scope="session")
def arm64_host() -> Iterator[None]:
    """This amd64 host runs arm64 binaries (qemu-user-static, binfmt_misc, flag F) and
    its apt has arm64 lists (dpkg --add-architecture arm64), as docs/multi-arch.md says a
    user sets it up; an architecture this fixture added is removed at the end."""
    from rockpack.project.architectures import host_arch

    if host_arch() != "amd64":
        pytest.skip("the foreign-architecture tests build arm64 on an amd64 host")
    why = _enable_arm64_emulation()
    if why:
        unavailable(f"arm64 emulation is unavailable: {why}")
    foreign = subprocess.run(
        ["dpkg", "--print-foreign-architectures"], capture_output=True, text=True, check=True
    ).stdout.split()
    added = "arm64" not in foreign
    if added:
        subprocess.run(["dpkg", "--add-architecture", "arm64"], check=True)
        subprocess.run(["apt-get", "update", "-q"], check=True, capture_output=True, timeout=600)
    try:
        yield
    finally:
        if added:
            subprocess.run(["dpkg", "--remove-architecture", "arm64"], check=False)


def _is_arm64_rootfs_tar(path: Path) -> bool:
    """A cached arm64 base: a good rootfs tar whose dpkg is an aarch64 binary."""
    if not _is_rootfs_tar(path):
        return False
    try:
        with tarfile.open(path) as archive:
            member = next(m for m in archive.getmembers() if m.name.lstrip("./") == "usr/bin/dpkg")
            handle = archive.extractfile(member)
            header = handle.read(20) if handle else b""
    except (tarfile.TarError, OSError, StopIteration):
        return False
    return header[:4] == b"\x7fELF" and header[18:20] == b"\xb7\x00"  # EM_AARCH64


@pytest.fixture(scope="session")
def debian_arm64_rootfs(arm64_host) -> Path:
    """The arm64 Debian bookworm minbase rootfs tar (mmdebstrap --arch=arm64, emulated)."""
    return cached_rootfs(
        f"bookworm-minbase-arm64-{BASE_EPOCH}.tar",
        ["--arch=arm64"],
        _is_arm64_rootfs_tar,
        timeout=ARM64_ROOTFS_MINUTES * 60,
    )


@dataclass(frozen=True)
class MultiarchBase:
    registry: Registry
    reference: str  # HOST/multiarch/debian:bookworm, a two-platform index
    index_digest: str
    manifests: dict[str, str]  # Debian architecture -> manifest digest


@pytest.fixture(scope="session")
def debian_multiarch_base(
    debian_rootfs, debian_arm64_rootfs, registry, tmp_path_factory
) -> MultiarchBase:
    """debian@12 for amd64 and arm64 as one OCI index, multiarch/debian:bookworm in the
    session's registry (made with umoci, skopeo and a plain PUT, not with rockpack)."""
    work = tmp_path_factory.mktemp("multiarch-base")
    repository = "multiarch/debian"
    manifests: dict[str, str] = {}
    entries = []
    for arch, rootfs in (("amd64", debian_rootfs), ("arm64", debian_arm64_rootfs)):
        layout = work / arch
        oci_image_from_rootfs(rootfs, layout, "bookworm")
        umoci = require_tool("umoci")
        config = [umoci, "config", "--image", f"{layout}:bookworm", "--architecture", arch]
        subprocess.run(config, check=True)
        digest = push(layout, "bookworm", registry, repository)
        url = f"http://{registry.host}/v2/{repository}/manifests/{digest}"
        request = urllib.request.Request(
            url, headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            size = len(answer.read())
        platform = {
            "architecture": arch,
            "os": "linux",
            **({"variant": "v8"} if arch == "arm64" else {}),
        }
        entries.append(
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": digest,
                "size": size,
                "platform": platform,
            }
        )
        manifests[arch] = digest
    body = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": entries,
        }
    ).encode()
    request = urllib.request.Request(
        f"http://{registry.host}/v2/{repository}/manifests/bookworm",
        data=body,
        method="PUT",
        headers={"Content-Type": "application/vnd.oci.image.index.v1+json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        index_digest = answer.headers["Docker-Content-Digest"]
    return MultiarchBase(
        registry, f"{registry.host}/{repository}:bookworm", index_digest, manifests
    )
