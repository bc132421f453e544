"""A thin wrapper over the ``lxc`` command line, in rockpack's own LXD project.

The only module that runs ``lxc``. Every call names the project; instances are always
stopped with --force (a build instance holds nothing worth a clean shutdown, and a
graceful stop of an instance whose init ignores SIGPWR never returns).
"""

from __future__ import annotations

import grp
import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from rockpack.errors import ProviderError

PROJECT = "rockpack"
# Printed by every start of an instance without a NIC; true and harmless here.
_NO_NETWORK_WARNING = "doesn't have any network attached to it"


class LxdUnusableError(ProviderError):
    """LXD is missing, stopped, unreachable or not initialised."""


@dataclass(frozen=True)
class Lxc:
    """``lxc`` in one LXD project."""

    project: str = PROJECT
    binary: str = "lxc"

    def run(
        self,
        *args: str,
        stdin: IO[bytes] | None = None,
        stdout: IO[bytes] | None = None,
        check: bool = True,
        project: bool = True,
        timeout: float | None = None,
        passthrough: bool = False,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run lxc; with ``passthrough`` its output goes to ours as it comes."""
        command = [self.binary, *((["--project", self.project]) if project else []), *args]
        result = subprocess.run(
            command,
            stdin=stdin,
            stdout=None if passthrough else stdout if stdout is not None else subprocess.PIPE,
            stderr=None if passthrough else subprocess.PIPE,
            check=False,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise ProviderError(
                f"'lxc {' '.join(args[:2])}' failed: {lxc_error(result)}",
                details=" ".join(command),
                resolution="Check 'lxc info' and the LXD log; 'rockpack clean --all' removes "
                "rockpack's instances and images.",
            )
        return result

    # -- checks ---------------------------------------------------------------------

    def check_usable(self) -> None:
        """Raise LxdUnusableError, saying what to do, unless LXD can run instances."""
        if shutil.which(self.binary) is None:
            raise LxdUnusableError(
                "LXD is not installed.",
                resolution="Install it ('apt install lxd' or 'snap install lxd'), then run "
                "'lxd init'.",
            )
        info = self.run("info", check=False, project=False)
        if info.returncode != 0:
            text = lxc_error(info)
            if "permission denied" in text.lower():
                raise LxdUnusableError(
                    "You may not use LXD (permission denied on its socket).",
                    details=text,
                    resolution="Add yourself to the 'lxd' group and log in again.",
                )
            raise LxdUnusableError(
                "The LXD daemon is not running or cannot be reached.",
                details=text,
                resolution=f"Start it with '{lxd_start_command()}' (or set LXD_DIR if it "
                "runs elsewhere).",
            )
        pool = self.run("storage", "show", "default", check=False, project=False)
        if pool.returncode != 0:
            raise LxdUnusableError(
                "LXD has no 'default' storage pool.",
                details=lxc_error(pool),
                resolution="Initialise LXD with 'lxd init' (or a preseed that creates one).",
            )

    def storage_driver(self) -> str:
        data = json.loads(self.run("query", "/1.0/storage-pools/default", project=False).stdout)
        return str(data.get("driver", "dir"))

    def ensure_project(self) -> None:
        projects = json.loads(self.run("project", "list", "--format", "json", project=False).stdout)
        if not any(p.get("name") == self.project for p in projects):
            self.run(
                "project",
                "create",
                self.project,
                "-c",
                "features.images=true",
                "-c",
                "features.profiles=false",
                project=False,
            )

    # -- images and instances -------------------------------------------------------

    def image_exists(self, alias: str) -> bool:
        images = json.loads(self.run("image", "list", "--format", "json").stdout)
        return any(a.get("name") == alias for image in images for a in image.get("aliases", []))

    def image_import(self, metadata: Path, rootfs: Path, alias: str) -> None:
        self.run("image", "import", str(metadata), str(rootfs), "--alias", alias)

    def remotes(self) -> set[str]:
        """The image servers this client knows by name."""
        data = json.loads(self.run("remote", "list", "--format", "json", project=False).stdout)
        return set(data)

    def instances(self) -> dict[str, dict[str, Any]]:
        data = json.loads(self.run("list", "--format", "json").stdout)
        return {item["name"]: item for item in data}

    def init(
        self, image: str, name: str, config: dict[str, str], *, check: bool = True
    ) -> subprocess.CompletedProcess[bytes]:
        args = ["init", image, name]
        for key, value in sorted(config.items()):
            args += ["-c", f"{key}={value}"]
        return self.run(*args, check=check)

    def copy(self, source: str, target: str) -> None:
        self.run("copy", source, target)

    def start(self, name: str) -> None:
        self.run("start", name)

    def stop(self, name: str) -> None:
        self.run("stop", "--force", name, check=False)

    def delete(self, name: str) -> None:
        self.run("delete", "--force", name, check=False)

    def snapshot(self, name: str, snapshot: str) -> None:
        self.run("snapshot", name, snapshot)

    def restore(self, name: str, snapshot: str) -> None:
        self.run("restore", name, snapshot)

    def config_set(self, name: str, key: str, value: str) -> None:
        self.run("config", "set", name, key, value)

    def config_get(self, name: str, key: str) -> str:
        return self.run("config", "get", name, key).stdout.decode().strip()

    def add_proxy(self, name: str, device: str, listen: str, connect: str) -> None:
        self.run(
            "config",
            "device",
            "add",
            name,
            device,
            "proxy",
            f"listen={listen}",
            f"connect={connect}",
            "bind=instance",
        )

    def add_device(self, name: str, device: str, kind: str, properties: dict[str, str]) -> None:
        options = [f"{key}={value}" for key, value in sorted(properties.items())]
        self.run("config", "device", "add", name, device, kind, *options)

    def exec(
        self,
        name: str,
        command: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        stdin: IO[bytes] | None = None,
        stdout: IO[bytes] | None = None,
        check: bool = True,
        passthrough: bool = False,
    ) -> subprocess.CompletedProcess[bytes]:
        args = ["exec", "-T", name]
        for key, value in sorted((env or {}).items()):
            args += ["--env", f"{key}={value}"]
        if cwd:
            args += ["--cwd", cwd]
        return self.run(
            *args, "--", *command, stdin=stdin, stdout=stdout, check=check, passthrough=passthrough
        )

    def interactive(self, name: str, command: Sequence[str], env: dict[str, str], cwd: str) -> int:
        """Run with the user's terminal (for --shell and --debug)."""
        args = [self.binary, "--project", self.project, "exec", name, "--cwd", cwd]
        for key, value in sorted(env.items()):
            args += ["--env", f"{key}={value}"]
        return subprocess.run([*args, "--", *command], check=False).returncode


def lxc_error(result: subprocess.CompletedProcess[bytes]) -> str:
    """What a failed lxc call said, without LXD's warning about instances with no network."""
    lines = result.stderr.decode(errors="replace").strip().splitlines()
    return "\n".join(line for line in lines if _NO_NETWORK_WARNING not in line) or (
        f"exit status {result.returncode}"
    )


def lxd_start_command() -> str:
    """How to start LXD on this machine: by snap, by systemd, or by hand without either."""
    sudo = "" if os.geteuid() == 0 else "sudo "
    if Path("/snap/bin/lxd").exists():
        return f"{sudo}snap start lxd"
    if Path("/run/systemd/system").is_dir():  # systemd is the init
        return f"{sudo}systemctl start lxd"
    group = "lxd" if _group_exists("lxd") else "root"
    return f"{sudo}lxd --group {group} & {sudo}lxd waitready"


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True
