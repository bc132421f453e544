"""Files into and out of a build instance.

Every transfer is a stream through ``lxc exec`` (a tar stream for trees), the one way in
and out that works the same whatever the storage pool; artifacts land on the host under
their names only when complete.
"""

from __future__ import annotations

import os
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from craft_cli import emit

from rockpack.build.workspace import STATE_DIR_NAME
from rockpack.errors import ProviderError
from rockpack.lxd.lxc import Lxc
from rockpack.oci.rock_archive import read_rock

if TYPE_CHECKING:
    from rockpack.lxd.clean_build import CleanBuild

PROJECT_DIR = "/root/project"
OUTPUT_DIR = "/root/output"


def push_file(lxc: Lxc, instance: str, source: Path, target: str) -> None:
    """One executable from this host, through ``lxc exec`` like every other transfer."""
    emit.debug(f"Pushing {source} to {target} in the instance")
    with source.open("rb") as handle:
        lxc.exec(instance, ["sh", "-c", 'cat > "$0" && chmod 755 "$0"', target], stdin=handle)


def push_project(lxc: Lxc, instance: str, project_dir: Path) -> None:
    emit.progress("Sending the project into the instance")
    lxc.exec(instance, ["rm", "-rf", PROJECT_DIR, OUTPUT_DIR])
    lxc.exec(instance, ["mkdir", "-p", PROJECT_DIR, OUTPUT_DIR])
    push_tree(lxc, instance, project_dir, PROJECT_DIR, exclude=(STATE_DIR_NAME, ".git", "*.rock"))


def push_tree(lxc: Lxc, instance: str, source: Path, target: str, exclude: tuple[str, ...]) -> None:
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


def push_pebble_source(lxc: Lxc, instance: str, build: CleanBuild) -> dict[str, str]:
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
        push_tree(lxc, instance, home, "/root", exclude=())
    return {}


def pull_artifacts(lxc: Lxc, instance: str, build: CleanBuild) -> list[Path]:
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
