"""Clean builds: run the very same rockpack, in destructive mode, inside an LXD instance.

A prepared base instance (the build-base image plus rockpack in a venv) is cached per
image and rockpack source. Each build starts from a clean copy of it (copy-on-write
pools) or from a clean snapshot (the 'dir' pool); the project goes in and the artifacts
come out as tar streams through ``lxc exec``. ROCKPACK_MANAGED=1 tells the inner run
where it is.

What the project needs besides the build tools is decided on the host, before any image
is made: an image with snapd whose instances boot systemd (snaps), chisel pushed in
(slices), and this host's loopback ports forwarded in (package-repositories served on
127.0.0.1), like the package archives, which the instance reaches through a host proxy.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from craft_cli import emit

from rockpack.build.chisel import check_slices_build_base, declares_chisel_snap
from rockpack.build.providers import MANAGED_ENV
from rockpack.build.repositories import HOST_PROJECT_DIR_ENV
from rockpack.build.snaps import snaps_of
from rockpack.build.workspace import STATE_DIR_NAME, Workspace, project_lock, user_cache_dir
from rockpack.errors import ProviderError
from rockpack.lxd.chisel import chisel_for_instance
from rockpack.lxd.image import (
    UBUNTU_MIRROR_ENV,
    ImageSource,
    RemoteImage,
    ensure_image,
    image_source,
)
from rockpack.lxd.lxc import Lxc, lxc_error
from rockpack.lxd.proxy import HostProxy
from rockpack.lxd.timed_step import timed_step
from rockpack.lxd.wheels import Target, ensure_wheels, source_key, source_tree
from rockpack.oci.rock_archive import read_rock
from rockpack.project.architectures import host_arch
from rockpack.project.model import LoadedProject
from rockpack.project.repositories import check_applicable, loopback_ports, repositories_of

VENV = "/opt/rockpack/venv"
PROJECT_DIR = "/root/project"
OUTPUT_DIR = "/root/output"
INIT = "lxc.init.cmd = /bin/sleep infinity"  # instances without snapd
PROXY_PORT = 3142
CHISEL = "/usr/local/bin/chisel"
BOOT_TIMEOUT = 120.0  # seconds for systemd to start snapd's socket
# Environment a clean build passes through to the inner run.
PASSED_ENV = (
    "SOURCE_DATE_EPOCH",
    "ROCKPACK_REGISTRY_MIRROR",
    "ROCKPACK_INSECURE_REGISTRIES",
    "ROCKPACK_REGISTRY_TIMEOUT",
    "ROCKPACK_PEBBLE_SOURCE",
)
# Brings up loopback in an instance whose init is not systemd (python3 is in the image).
_LOOPBACK_UP = (
    "import fcntl, socket, struct\n"
    "s = socket.socket()\n"
    "req = struct.pack('16sH14x', b'lo', 0)\n"
    "flags = struct.unpack('16sH14x', fcntl.ioctl(s, 0x8913, req))[1]\n"
    "fcntl.ioctl(s, 0x8914, struct.pack('16sH14x', b'lo', flags | 1))\n"
)


@dataclass(frozen=True)
class CleanBuild:
    """One clean build of a project: what to run inside and where results go."""

    loaded: LoadedProject
    command: str  # pack, prime, ...
    arguments: list[str]  # passed on to the inner rockpack
    output: Path | None
    interactive: bool  # --shell, --shell-after or --debug were given
    source_date: int


@dataclass(frozen=True)
class InstanceNeeds:
    """What a project needs in its instance besides the build tools."""

    snapd: bool = False  # snapd running, so systemd as init
    chisel: Path | None = None  # a chisel binary (of this host) to push in
    forwarded_ports: tuple[int, ...] = ()  # package-repositories on this host's loopback


def instance_needs(loaded: LoadedProject, cache: Path) -> InstanceNeeds:
    """Decided on the host, before any image or instance is made; what cannot be had fails."""
    project = loaded.project
    build_base = project.effective_build_base
    repositories = repositories_of(project.package_repositories)
    check_applicable(repositories, build_base, managed=True, apply_on_host=False)
    check_slices_build_base(project.parts, build_base)
    snapd = bool(snaps_of(project.parts)) or declares_chisel_snap(project.parts)
    chisel = chisel_for_instance(
        project.parts, arch=host_arch(), cache=cache / "chisel", instance_has_snapd=snapd
    )
    return InstanceNeeds(snapd, chisel, tuple(loopback_ports(repositories)))


def run_clean_build(build: CleanBuild, lxc: Lxc | None = None) -> list[Path]:
    """Run ``build`` in an instance; return the artifacts copied back to the host."""
    lxc = lxc or Lxc()
    lxc.check_usable()
    lxc.ensure_project()
    project = build.loaded.project
    cache = user_cache_dir() / "lxd"
    needs = instance_needs(build.loaded, cache)
    source = image_source(project.effective_build_base, host_arch(), snapd=needs.snapd)
    started = time.monotonic()
    with _host_lock(cache / "prepare.lock"):
        image = ensure_image(lxc, source, cache)
        base = _ensure_base_instance(lxc, image, source, cache / "wheels")
    instance = _instance_name(project.name, build.loaded.project_dir)
    # Two builds of one project would share its instance: the second waits for nothing
    # and says so; builds of other projects use other instances and run side by side.
    with project_lock(Workspace(build.loaded.project_dir)):
        return _build_in(lxc, base, instance, build, started, source.archive_host, needs)


def _build_in(
    lxc: Lxc,
    base: str,
    instance: str,
    build: CleanBuild,
    started: float,
    archive_host: str,
    needs: InstanceNeeds | None = None,
) -> list[Path]:
    needs = needs or InstanceNeeds()
    _fresh_instance(lxc, base, instance)
    emit.debug(f"Instance {instance} ready in {time.monotonic() - started:.1f}s")
    try:
        lxc.start(instance)
        if needs.snapd:
            _wait_for_snapd(lxc, instance)
        lxc.exec(instance, ["python3", "-c", _LOOPBACK_UP])
        with _package_access(lxc, instance, archive_host, snapd=needs.snapd) as proxy_env:
            _forward_registry(lxc, instance)
            _forward_ports(lxc, instance, needs.forwarded_ports, proxied=bool(proxy_env))
            if needs.chisel is not None:
                _push_file(lxc, instance, needs.chisel, CHISEL)
            _push_project(lxc, instance, build.loaded.project_dir)
            # Messages of the inner run name project files by their path on this host.
            inner_env = {**proxy_env, HOST_PROJECT_DIR_ENV: str(build.loaded.project_dir)}
            code = _run_inner(lxc, instance, build, inner_env)
            if code != 0:
                raise ProviderError(
                    f"The build in the clean instance failed (exit status {code}).",
                    resolution="See the output above; --debug opens a shell in the instance "
                    "where it failed.",
                    retcode=code,
                )
            return _pull_artifacts(lxc, instance, build) if build.command == "pack" else []
    finally:
        lxc.stop(instance)  # forced: also when interrupted


def clean_instances(lxc: Lxc, project_name: str, project_dir: Path, *, everything: bool) -> None:
    """Delete the project's instance; with ``everything``, rockpack's bases and images too."""
    lxc.check_usable()
    lxc.ensure_project()
    names = lxc.instances()
    own = _instance_name(project_name, project_dir)
    for name in names:
        if name == own or (everything and name.startswith("rockpack-base-")):
            lxc.delete(name)
    if everything:
        for image in _own_images(lxc):
            lxc.run("image", "delete", image, check=False)


def _own_images(lxc: Lxc) -> list[str]:
    """rockpack's built images (by alias) and the official ones LXD cached (by fingerprint)."""
    images = json.loads(lxc.run("image", "list", "--format", "json").stdout)
    own = []
    for image in images:
        aliases = [a["name"] for a in image.get("aliases", []) if a["name"].startswith("rockpack-")]
        own += aliases or ([image["fingerprint"]] if image.get("cached") else [])
    return own


def _instance_name(name: str, project_dir: Path) -> str:
    digest = hashlib.sha1(str(project_dir.resolve()).encode()).hexdigest()[:8]
    return f"rockpack-{name}-{digest}"[:63]


def _ensure_base_instance(lxc: Lxc, image: str, source: ImageSource, wheel_cache: Path) -> str:
    """An instance of ``image`` with the build tools and this rockpack installed, stopped."""
    # An official image serves both inits: the one that boots systemd is another base.
    kind = f"{image} systemd" if source.snapd else image
    key = hashlib.sha256(kind.encode()).hexdigest()[:8]
    name = f"rockpack-base-{key}-{source_key(source_tree())[:8]}"
    existing = lxc.instances().get(name)
    if existing and lxc.config_get(name, "user.rockpack.status") == "READY":
        return name
    if existing:
        lxc.delete(name)  # a preparation that did not finish
    with timed_step("Installing rockpack in a base instance (once per image and version)"):
        _prepare_base(lxc, image, name, source, wheel_cache)
    lxc.config_set(name, "user.rockpack.status", "READY")
    return name


def _prepare_base(lxc: Lxc, image: str, name: str, source: ImageSource, wheel_cache: Path) -> None:
    _init_base(lxc, image, name, source)
    try:
        lxc.start(name)
        if source.snapd:
            _wait_for_boot(lxc, name)
        lxc.exec(name, ["python3", "-c", _LOOPBACK_UP])
        if isinstance(source, RemoteImage):
            _install_build_tools(lxc, name, source)
        wheels = ensure_wheels(wheel_cache, _python_of(lxc, name, source))
        lxc.exec(name, ["mkdir", "-p", "/tmp/wheels"])
        _push_tree(lxc, name, wheels, "/tmp/wheels", exclude=())
        lxc.exec(name, ["python3", "-m", "venv", "--system-site-packages", VENV])
        lxc.exec(
            name,
            [
                f"{VENV}/bin/pip",
                "install",
                "--quiet",
                "--no-index",
                "--disable-pip-version-check",
                "--find-links",
                "/tmp/wheels",
                "rockpack",
            ],
        )
        lxc.exec(name, ["rm", "-rf", "/tmp/wheels"])
    finally:
        lxc.stop(name)


def _init_base(lxc: Lxc, image: str, name: str, source: ImageSource) -> None:
    # snapd needs systemd, the image's own init; other instances need no init at all.
    config = {"user.rockpack.status": "PREPARING", **({} if source.snapd else {"raw.lxc": INIT})}
    if not isinstance(source, RemoteImage):
        lxc.init(image, name, config)
        _add_fuse(lxc, name, source)
        return
    emit.progress(f"Getting the {source.build_base} image from LXD's '{source.remote}' server")
    result = lxc.init(image, name, config, check=False)
    if result.returncode != 0:
        lxc.delete(name)
        raise ProviderError(
            f"LXD could not get the {source.build_base} image ({source.reference}).",
            details=lxc_error(result),
            resolution="Check that the LXD daemon reaches its image server, or set "
            f"{UBUNTU_MIRROR_ENV} to an Ubuntu archive mirror so that rockpack builds the "
            "image itself with mmdebstrap.",
        )
    _add_fuse(lxc, name, source)


def _add_fuse(lxc: Lxc, name: str, source: ImageSource) -> None:
    """snapd mounts snaps with squashfuse in a container: it needs /dev/fuse of its own."""
    if source.snapd and Path("/dev/fuse").exists():
        properties = {"source": "/dev/fuse", "path": "/dev/fuse", "mode": "0666"}
        lxc.add_device(name, "fuse", "unix-char", properties)


def _wait_for_boot(lxc: Lxc, instance: str) -> None:
    """Until systemd answers in the instance (lxc exec fails early in its boot)."""
    deadline = time.monotonic() + BOOT_TIMEOUT
    while True:
        state = lxc.exec(instance, ["systemctl", "is-system-running"], check=False)
        # "starting": its jobs still run (snapd.seeded waits for the store), exec works
        if state.stdout.strip() in (b"starting", b"degraded", b"running"):
            return
        if time.monotonic() > deadline:
            raise ProviderError(
                f"systemd did not come up in the instance {instance} within {BOOT_TIMEOUT:.0f} s.",
                details=lxc_error(state),
                resolution="Run 'rockpack clean --all' and build again.",
            )
        time.sleep(0.5)


def _wait_for_snapd(lxc: Lxc, instance: str) -> None:
    """Until systemd listens on snapd's socket (snapd itself starts on the first request)."""
    with timed_step("Booting the build instance (systemd, for snapd)"):
        _wait_for_boot(lxc, instance)
        deadline = time.monotonic() + BOOT_TIMEOUT
        command = ["systemctl", "is-active", "--quiet", "snapd.socket"]
        while lxc.exec(instance, command, check=False).returncode != 0:
            if time.monotonic() > deadline:
                status = lxc.exec(instance, ["systemctl", "status", "snapd.socket"], check=False)
                raise ProviderError(
                    f"snapd's socket did not start in the instance {instance}.",
                    details=status.stdout.decode(errors="replace")[-2000:],
                    resolution="Run 'rockpack clean --all' so that the image is made again.",
                )
            time.sleep(0.5)


def _install_build_tools(lxc: Lxc, instance: str, source: RemoteImage) -> None:
    """An official image lacks the build tools: apt installs them, through the host if need be."""
    emit.progress(f"Installing build tools in the {source.build_base} base instance")
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    with _package_access(lxc, instance, source.archive_host) as proxy_env:
        for command in (
            ["apt-get", "update", "--quiet"],
            [
                "apt-get",
                "install",
                "--quiet",
                "--yes",
                "--no-install-recommends",
                *source.packages,
            ],
        ):
            result = lxc.exec(instance, command, env={**env, **proxy_env}, check=False)
            if result.returncode != 0:
                raise ProviderError(
                    f"Installing the build tools in the {source.build_base} instance failed.",
                    details=lxc_error(result),
                    resolution="Check that this host reaches the Ubuntu archive, then run "
                    "the build again.",
                )


def _python_of(lxc: Lxc, instance: str, source: ImageSource) -> Target:
    """The instance's Python, which the wheels must be built for."""
    script = "import platform, sys; print(*sys.version_info[:2], platform.machine())"
    major, minor, machine = lxc.exec(instance, ["python3", "-c", script]).stdout.split()
    target = Target(f"{int(major)}.{int(minor)}", machine.decode())
    if (int(major), int(minor)) < (3, 10):
        raise ProviderError(
            f"The {source.build_base} instance has Python {target.python}; rockpack needs 3.10 "
            "or newer inside it.",
            resolution="Use a newer build-base, or --destructive-mode on a matching host.",
        )
    return target


def _fresh_instance(lxc: Lxc, base: str, instance: str) -> None:
    """The project's instance, as clean as the base: a copy, or a snapshot restored."""
    existing = lxc.instances().get(instance)
    copy_on_write = lxc.storage_driver() in ("btrfs", "zfs", "lvm", "ceph")
    if existing and existing.get("config", {}).get("user.rockpack.base") != base:
        lxc.delete(instance)  # made from an older base
        existing = None
    if copy_on_write or not existing:
        if existing:
            lxc.delete(instance)
        lxc.copy(base, instance)
        lxc.config_set(instance, "user.rockpack.base", base)
        if not copy_on_write:
            lxc.snapshot(instance, "clean")
        return
    lxc.stop(instance)
    lxc.restore(instance, "clean")


@contextmanager
def _package_access(
    lxc: Lxc, instance: str, archive_host: str, *, snapd: bool = False
) -> Iterator[dict[str, str]]:
    """Package archives inside: the instance's own network, or the host's through a proxy
    (for apt, for pip and chisel by the environment, and for snapd's store)."""
    probe = lxc.exec(instance, ["getent", "hosts", archive_host], check=False)
    if probe.returncode == 0:
        yield {}
        return
    with HostProxy() as proxy:
        device = "rockpack-proxy"
        lxc.run("config", "device", "remove", instance, device, check=False)
        lxc.add_proxy(
            instance, device, f"tcp:127.0.0.1:{PROXY_PORT}", f"tcp:127.0.0.1:{proxy.port}"
        )
        address = f"http://127.0.0.1:{PROXY_PORT}"
        conf = f'Acquire::http::Proxy "{address}";\n'.encode()
        with tempfile.TemporaryFile() as handle:
            handle.write(conf)
            handle.seek(0)
            lxc.exec(instance, ["tee", "/etc/apt/apt.conf.d/01rockpack-proxy"], stdin=handle)
        if snapd:
            _proxy_snapd(lxc, instance, address)
        yield {"http_proxy": address, "https_proxy": address}


def _proxy_snapd(lxc: Lxc, instance: str, address: str) -> None:
    proxies = [f"proxy.http={address}", f"proxy.https={address}"]
    result = lxc.exec(instance, ["snap", "set", "system", *proxies], check=False)
    if result.returncode != 0:
        emit.debug(f"snapd keeps no proxy, so it reaches no store: {lxc_error(result)}")


def _forward_registry(lxc: Lxc, instance: str) -> None:
    """A registry on the host's loopback (a test or local mirror) is reachable inside too."""
    mirror = os.environ.get("ROCKPACK_REGISTRY_MIRROR", "")
    host, _, port = mirror.rpartition(":")
    if host in ("127.0.0.1", "localhost") and port.isdigit():
        device = "rockpack-registry"
        lxc.run("config", "device", "remove", instance, device, check=False)
        lxc.add_proxy(instance, device, f"tcp:127.0.0.1:{port}", f"tcp:127.0.0.1:{port}")


def _forward_ports(lxc: Lxc, instance: str, ports: tuple[int, ...], *, proxied: bool) -> None:
    """Package repositories on this host's loopback answer on the instance's loopback too."""
    for port in ports:
        if proxied and port == PROXY_PORT:
            continue  # that port is the proxy's inside; through it apt reaches this one
        device = f"rockpack-port-{port}"
        lxc.run("config", "device", "remove", instance, device, check=False)
        lxc.add_proxy(instance, device, f"tcp:127.0.0.1:{port}", f"tcp:127.0.0.1:{port}")


def _push_file(lxc: Lxc, instance: str, source: Path, target: str) -> None:
    """One executable from this host, through ``lxc exec`` like every other transfer."""
    emit.debug(f"Pushing {source} to {target} in the instance")
    with source.open("rb") as handle:
        lxc.exec(instance, ["sh", "-c", 'cat > "$0" && chmod 755 "$0"', target], stdin=handle)


def _push_project(lxc: Lxc, instance: str, project_dir: Path) -> None:
    emit.progress("Sending the project into the instance")
    lxc.exec(instance, ["rm", "-rf", PROJECT_DIR, OUTPUT_DIR])
    lxc.exec(instance, ["mkdir", "-p", PROJECT_DIR, OUTPUT_DIR])
    _push_tree(lxc, instance, project_dir, PROJECT_DIR, exclude=(STATE_DIR_NAME, ".git", "*.rock"))


def _push_tree(
    lxc: Lxc, instance: str, source: Path, target: str, exclude: tuple[str, ...]
) -> None:
    """A tar stream of ``source`` into ``target`` (owners kept as root's when not root)."""
    command = ["tar", "-C", str(source), "--numeric-owner", "-cf", "-"]
    if os.geteuid() != 0:
        command[1:1] = ["--owner=0", "--group=0"]
    command += [f"--exclude=./{pattern}" for pattern in exclude] + ["."]
    with subprocess.Popen(command, stdout=subprocess.PIPE) as tar:
        assert tar.stdout is not None
        lxc.exec(instance, ["tar", "-C", target, "--numeric-owner", "-xf", "-"], stdin=tar.stdout)
    if tar.returncode != 0:
        raise ProviderError(f"Could not read {source} to send it into the instance.")


def _push_pebble_source(lxc: Lxc, instance: str, build: CleanBuild) -> dict[str, str]:
    """The host's Pebble for the inner run, whose instance has no network: its environment.

    ROCKPACK_PEBBLE_SOURCE (a host path, or a URL fetched here) is sent in and the inner run
    points at the copy. Otherwise the release archives the build needs are obtained and
    checked here (cache, or one download) and put, with their trust entries, where the inner
    rockpack looks for them: it takes the same default path as on the host, offline.
    """
    from rockpack.build.targets import build_targets
    from rockpack.image.spec import needs_pebble
    from rockpack.pebble.release import SOURCE_ENV
    from rockpack.pebble.seed import seed_home
    from rockpack.pebble.source import local_source

    project = build.loaded.project
    if not needs_pebble(project) or project.pebble == "project":
        return {}
    source = os.environ.get(SOURCE_ENV, "").strip()
    with tempfile.TemporaryDirectory(prefix="rockpack-pebble-") as scratch:
        if source:
            target = "/root/pebble-source"  # a binary or an archive: told apart by content
            with local_source(source, Path(scratch)).open("rb") as handle:
                lxc.exec(instance, ["sh", "-c", 'cat > "$0"', target], stdin=handle)
            return {SOURCE_ENV: target}
        flags = dict(zip(build.arguments, build.arguments[1:], strict=False))  # flag -> value
        targets = build_targets(
            project, platform=flags.get("--platform"), build_for=flags.get("--build-for")
        )
        home = Path(scratch) / "home"
        seed_home([t.build_for for t in targets], home, os.environ)
        _push_tree(lxc, instance, home, "/root", exclude=())
    return {}


def _run_inner(lxc: Lxc, instance: str, build: CleanBuild, proxy_env: dict[str, str]) -> int:
    env = {MANAGED_ENV: "1", **proxy_env}
    for key in PASSED_ENV:
        if os.environ.get(key):
            env[key] = os.environ[key]
    # The same date as a build on the host: the host knows the project's git history.
    env.setdefault("SOURCE_DATE_EPOCH", str(build.source_date))
    env.update(_push_pebble_source(lxc, instance, build))
    command = [
        f"{VENV}/bin/rockpack",
        build.command,
        "--destructive-mode",
        "--project-dir",
        PROJECT_DIR,
        *build.arguments,
    ]
    if build.command == "pack":
        command += ["--output", OUTPUT_DIR]
    emit.progress(f"Running 'rockpack {build.command}' in the clean instance")
    if build.interactive:
        with emit.pause():
            return lxc.interactive(instance, command, env, PROJECT_DIR)
    with emit.pause():
        result = lxc.exec(
            instance, command, env=env, cwd=PROJECT_DIR, check=False, passthrough=True
        )
    return result.returncode


def _pull_artifacts(lxc: Lxc, instance: str, build: CleanBuild) -> list[Path]:
    """Copy the rocks out; each lands under its name only when complete."""
    destination = build.output or build.loaded.project_dir
    directory = destination if destination.suffix != ".rock" else destination.parent
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(dir=directory, prefix=".rockpack-pull-") as scratch:
        archive = Path(scratch) / "out.tar"
        with archive.open("wb") as handle:
            lxc.exec(instance, ["tar", "-C", OUTPUT_DIR, "-cf", "-", "."], stdout=handle)
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                if not (member.isfile() and member.name.endswith(".rock")):
                    continue
                name = Path(member.name).name
                target = destination if destination.suffix == ".rock" else directory / name
                part = Path(scratch) / name
                with tar.extractfile(member) as src, part.open("wb") as dst:  # type: ignore[union-attr]
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
                part.chmod(0o644)
                part.replace(target)
                written.append(target)
    for path in written:
        digest = read_rock(path).manifest.digest
        emit.message(f"Packed {path} ({digest}) in a clean LXD instance")
    return written


@contextmanager
def _host_lock(path: Path) -> Iterator[None]:
    """One preparation of images and base instances at a time on this host."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
