"""The base instance every clean build of an image starts from, prepared once.

Installing the build tools and this rockpack (wheels into a venv) takes minutes; doing it
once per image and rockpack source, and marking the result READY only when it is
complete, lets each build start from a copy in seconds.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from craft_cli import emit

from rockpack.errors import ProviderError
from rockpack.lxd.image import UBUNTU_MIRROR_ENV, ImageSource, RemoteImage
from rockpack.lxd.instance_network import LOOPBACK_UP, package_access
from rockpack.lxd.lxc import Lxc, lxc_error
from rockpack.lxd.timed_step import timed_step
from rockpack.lxd.transfer import push_tree
from rockpack.lxd.wheels import Target, ensure_wheels, source_key, source_tree

VENV = "/opt/rockpack/venv"
INIT = "lxc.init.cmd = /bin/sleep infinity"  # instances without snapd
BOOT_TIMEOUT = 120.0  # seconds for systemd to start snapd's socket


def ensure_base_instance(lxc: Lxc, image: str, source: ImageSource, wheel_cache: Path) -> str:
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
        lxc.exec(name, ["python3", "-c", LOOPBACK_UP])
        if isinstance(source, RemoteImage):
            _install_build_tools(lxc, name, source)
        wheels = ensure_wheels(wheel_cache, _python_of(lxc, name, source))
        lxc.exec(name, ["mkdir", "-p", "/tmp/wheels"])
        push_tree(lxc, name, wheels, "/tmp/wheels", exclude=())
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


def wait_for_snapd(lxc: Lxc, instance: str) -> None:
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
    with package_access(lxc, instance, source.archive_host) as proxy_env:
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
