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

This module is the flow; the base instance, the instance's network and the transfers in
and out are in base_instance.py, instance_network.py and transfer.py.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
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
from rockpack.build.workspace import Workspace, project_lock, user_cache_dir
from rockpack.errors import ProviderError
from rockpack.lxd.base_instance import VENV, ensure_base_instance, wait_for_snapd
from rockpack.lxd.chisel import chisel_for_instance
from rockpack.lxd.image import ensure_image, image_source
from rockpack.lxd.instance_network import (
    LOOPBACK_UP,
    forward_ports,
    forward_registry,
    package_access,
)
from rockpack.lxd.lxc import Lxc
from rockpack.lxd.transfer import (
    OUTPUT_DIR,
    PROJECT_DIR,
    pull_artifacts,
    push_file,
    push_pebble_source,
    push_project,
)
from rockpack.project.architectures import host_arch
from rockpack.project.model import LoadedProject
from rockpack.project.repositories import check_applicable, loopback_ports, repositories_of

CHISEL = "/usr/local/bin/chisel"
# Environment a clean build passes through to the inner run.
PASSED_ENV = (
    "SOURCE_DATE_EPOCH",
    "ROCKPACK_REGISTRY_MIRROR",
    "ROCKPACK_INSECURE_REGISTRIES",
    "ROCKPACK_REGISTRY_TIMEOUT",
    "ROCKPACK_PEBBLE_SOURCE",
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
        base = ensure_base_instance(lxc, image, source, cache / "wheels")
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
            wait_for_snapd(lxc, instance)
        lxc.exec(instance, ["python3", "-c", LOOPBACK_UP])
        with package_access(lxc, instance, archive_host, snapd=needs.snapd) as proxy_env:
            forward_registry(lxc, instance)
            forward_ports(lxc, instance, needs.forwarded_ports, proxied=bool(proxy_env))
            if needs.chisel is not None:
                push_file(lxc, instance, needs.chisel, CHISEL)
            push_project(lxc, instance, build.loaded.project_dir)
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
            return pull_artifacts(lxc, instance, build) if build.command == "pack" else []
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


def _run_inner(lxc: Lxc, instance: str, build: CleanBuild, proxy_env: dict[str, str]) -> int:
    env = {MANAGED_ENV: "1", **proxy_env}
    for key in PASSED_ENV:
        if os.environ.get(key):
            env[key] = os.environ[key]
    # The same date as a build on the host: the host knows the project's git history.
    env.setdefault("SOURCE_DATE_EPOCH", str(build.source_date))
    env.update(push_pebble_source(lxc, instance, build))
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


@contextmanager
def _host_lock(path: Path) -> Iterator[None]:
    """One preparation of images and base instances at a time on this host."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
