"""Whole-pipeline cases (issue #20): `rockpack pack --destructive-mode` as a whole command,
interpreter included, and, when a locally prepared Rockcraft is given, `rockcraft pack
--destructive-mode` on the equivalent project, interleaved with it.

Each timed run is one child process (its whole tree): wall time, CPU (user+sys of every
process in it) and peak RSS (its largest process), from os.wait4's rusage. Before each
run, untimed: the case's preparation (clean the project, or change one file) and `sync`.
"""

from __future__ import annotations

import os
import shlex
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench_common import REPO, Registry, debian_tar, many_files_tree

ROCKCRAFT_FIGURE = 22.3  # s: Rockcraft, 170 MB from clean, bare (issue #20's table)
RSS_LIMIT_MB = 200
FILE_100K = "100k"


# -- measuring one command -------------------------------------------------------------


@dataclass
class Run:
    wall: float
    cpu: float  # user + sys of the whole process tree
    rss_mb: float  # peak RSS of its largest process
    ok: bool


def measure(command: list[str], cwd: Path, env: dict[str, str], log: Path) -> Run:
    with log.open("wb") as out:
        start = time.monotonic()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=out)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.monotonic() - start
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return Run(
        wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, process.returncode == 0
    )


# -- the contenders ----------------------------------------------------------------------


@dataclass
class Contender:
    name: str
    command: list[str]
    project_file: str
    env: dict[str, str]
    clean: Callable[[Path], None]
    skip: frozenset[str] = frozenset()  # cases it does not run

    def pack(self) -> list[str]:
        return [*self.command, "pack", "--destructive-mode"]


def rockpack_command() -> list[str]:
    script = REPO / ".venv/bin/rockpack"  # what a user runs
    return [str(script)] if script.exists() else [str(REPO / ".venv/bin/python"), "-m", "rockpack"]


def xdg_env(root: Path) -> dict[str, str]:
    """Every per-user dir in the scratch area (caches included: kept across rounds)."""
    env = {
        f"XDG_{kind.upper()}_HOME": str(root / kind)
        for kind in ("cache", "config", "data", "state")
    }
    runtime = root / "runtime"
    runtime.mkdir(parents=True, exist_ok=True)
    runtime.chmod(0o700)
    return {**env, "XDG_RUNTIME_DIR": str(runtime)}


def discard(path: Path, work: Path) -> None:
    """Move ``path`` into the work dir's trash, emptied after the timed runs. Deleting a
    170 MB tree just before a timed run would time the disk, not the packer: ext4 avoids
    reusing inodes freed in the last minutes, and makes new files slowly meanwhile."""
    if path.exists():
        trash = work / "trash"
        trash.mkdir(exist_ok=True)
        path.rename(trash / f"{len(list(trash.iterdir()))}-{path.name}")


def rockpack(work: Path, registry: Registry, command: str = "") -> Contender:
    """rockpack: this checkout's, or ``command`` (e.g. a frozen copy of a commit:
    `env PYTHONPATH=COPY .venv/bin/python -m rockpack`, so that edits made to the
    checkout while the benchmark runs do not count)."""

    def clean(project: Path) -> None:
        discard(project / ".rockpack", work)
        for rock in project.glob("*.rock"):
            rock.unlink()

    env = {**xdg_env(work / "xdg-rockpack"), "ROCKPACK_REGISTRY_MIRROR": registry.host}
    argv = shlex.split(command) if command else rockpack_command()
    return Contender("rockpack", argv, "rockpack.yaml", env, clean)


def rockcraft(work: Path, registry: Registry, command: str, skip: frozenset[str]) -> Contender:
    """A locally prepared Rockcraft (see /work/shared/rockcraft-anchor.md). The host check
    passes through a fake Ubuntu 24.04 os-release (UNIXCONFDIR, read by `distro`); the base
    registry is given as ROCKCRAFT_BASE_REGISTRY (upstream hard-codes ECR: the local copy
    must read it) and CONTAINERS_REGISTRIES_CONF (marks the loopback registry insecure;
    Debian's skopeo needs a wrapper that passes it on)."""
    etc = work / "rockcraft-etc"
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "os-release").write_text(
        'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\n'
        'VERSION="24.04 LTS (Noble Numbat)"\nVERSION_CODENAME=noble\n'
        'PRETTY_NAME="Ubuntu 24.04 LTS"\nUBUNTU_CODENAME=noble\n'
    )
    registries = work / "rockcraft-registries.conf"
    registries.write_text(f'[[registry]]\nlocation = "{registry.host}"\ninsecure = true\n')
    xdg = work / "xdg-rockcraft"
    env = {
        **xdg_env(xdg),
        "CRAFT_STATE_DIR": str(xdg / "craft-state"),
        "UNIXCONFDIR": str(etc),
        "ROCKCRAFT_BASE_REGISTRY": f"{registry.host}/ubuntu",
        "CONTAINERS_REGISTRIES_CONF": str(registries),
    }

    def clean(project: Path) -> None:
        # What `rockcraft clean` removes in destructive mode; its OCI store (images/)
        # stays, as it does for `rockcraft clean` (base blobs kept, like rockpack's cache).
        for name in ("parts", "stage", "prime", "overlay", "bundles"):
            discard(project / name, work)
        for rock in project.glob("*.rock"):
            rock.unlink()

    return Contender("rockcraft", shlex.split(command), "rockcraft.yaml", env, clean, skip)


# -- the cases ----------------------------------------------------------------------------

HEADER = """name: bench
version: '1'
summary: benchmark
description: benchmark
license: Apache-2.0
"""


def project_yaml(contender: Contender, base: str, tail: str) -> str:
    """The same project for both, but Rockcraft's bases and build-bases: `ubuntu@24.04`
    (the registry serves the Debian tree under that name) where rockpack has `debian@12`."""
    if contender.name == "rockcraft":
        build_base = "ubuntu@24.04"
        base = "bare" if base == "bare" else "ubuntu@24.04"
    else:
        build_base = "debian@12"
    lines = f"base: {base}\n" + (f"build-base: {build_base}\n" if base == "bare" else "")
    return HEADER + lines + "platforms:\n  amd64:\n" + tail


ROOTFS_TAR_PART = """entrypoint-command: /bin/bash
parts:
  rootfs:
    plugin: dump
    source: rootfs.tar
    source-type: tar
"""
# On a base, Rockcraft's hidden _apt-upgrade overlay leaves an empty etc/resolv.conf that
# collides with the tree's own (rockcraft-anchor.md, #9): both leave it out.
ROOTFS_TAR_PART_ON_BASE = ROOTFS_TAR_PART + "    stage: [-etc/resolv.conf]\n"
ROOTFS_DIR_PART = """entrypoint-command: /bin/bash
parts:
  rootfs:
    plugin: dump
    source: rootfs
"""
PYTHON3_PART = """entrypoint-command: /usr/bin/python3
parts:
  python:
    plugin: nil
    stage-packages: [python3]
"""
FILES_PART = """entrypoint-command: /bin/true
parts:
  files:
    plugin: dump
    source: files
"""


@dataclass
class Case:
    key: str
    title: str
    setup: Callable[[Path, Contender], None]  # writes the project (once)
    prepare: str  # before each timed run: "clean", "touch" (change one file) or "none"


def tar_project(base: str, on_base: bool = False) -> Callable[[Path, Contender], None]:
    def setup(project: Path, contender: Contender) -> None:
        link_or_copy(debian_tar(), project / "rootfs.tar")
        part = ROOTFS_TAR_PART_ON_BASE if on_base else ROOTFS_TAR_PART
        (project / contender.project_file).write_text(project_yaml(contender, base, part))

    return setup


def dir_project(project: Path, contender: Contender) -> None:
    (project / "rootfs").mkdir()
    subprocess.run(["tar", "-C", project / "rootfs", "-xf", debian_tar()], check=True)
    (project / contender.project_file).write_text(project_yaml(contender, "bare", ROOTFS_DIR_PART))


def python3_project(project: Path, contender: Contender) -> None:
    (project / contender.project_file).write_text(project_yaml(contender, "bare", PYTHON3_PART))


def files_project(tree: Path) -> Callable[[Path, Contender], None]:
    def setup(project: Path, contender: Contender) -> None:
        if not tree.exists():
            many_files_tree(tree)
        subprocess.run(["cp", "-a", tree, project / "files"], check=True)
        (project / contender.project_file).write_text(project_yaml(contender, "bare", FILES_PART))

    return setup


def example_project(project: Path, contender: Contender) -> None:
    """examples/ as it is; for Rockcraft, with build-base ubuntu@24.04."""
    shutil.copytree(REPO / "examples", project, dirs_exist_ok=True, symlinks=True)
    text = (project / "rockpack.yaml").read_text()
    if contender.name == "rockcraft":
        (project / "rockpack.yaml").unlink()
        text = text.replace("build-base: debian@12", "build-base: ubuntu@24.04")
        # Rockcraft's SPDX list (spdx-lookup) predates the "-only" identifiers.
        text = text.replace("license: GPL-2.0-only", "license: GPL-2.0")
    (project / contender.project_file).write_text(text)


def link_or_copy(source: Path, target: Path) -> None:
    """A copy of its own (a reflink where the filesystem has them): a hard link would
    share the inode, whose ctime every further link changes, as no user's file does."""
    subprocess.run(["cp", "--reflink=auto", source, target], check=True)


def cases(work: Path) -> list[Case]:
    tree = work / "tree-100k"
    return [
        Case("tar-clean", "170 MB Debian tar, bare, from clean", tar_project("bare"), "clean"),
        Case(
            "base-clean",
            "the same on a registry base, from clean",
            tar_project("debian@12", on_base=True),
            "clean",
        ),
        Case("python3-clean", "stage-packages: [python3], from clean", python3_project, "clean"),
        Case("dir-changed", "170 MB directory source, one file changed", dir_project, "touch"),
        Case("tar-noop", "170 MB Debian tar, bare, nothing changed", tar_project("bare"), "none"),
        Case(
            "base-noop",
            "registry base, nothing changed",
            tar_project("debian@12", on_base=True),
            "none",
        ),
        Case(f"{FILE_100K}-clean", "100,000 small files, from clean", files_project(tree), "clean"),
        Case(
            f"{FILE_100K}-noop", "100,000 small files, nothing changed", files_project(tree), "none"
        ),
        Case(
            "example-noop", "examples/ (ordinary project), nothing changed", example_project, "none"
        ),
    ]


# -- running them ------------------------------------------------------------------------


@dataclass
class Result:
    case: Case
    contender: str
    runs: list[Run] = field(default_factory=list)
    failure: str = ""

    def ok_runs(self) -> list[Run]:
        return [run for run in self.runs if run.ok]

    def median(self) -> float | None:
        runs = self.ok_runs()
        return statistics.median(run.wall for run in runs) if runs else None


def prepare(case: Case, contender: Contender, project: Path, round_number: int) -> None:
    if case.prepare == "clean":
        contender.clean(project)
    elif case.prepare == "touch":
        motd = project / "rootfs/etc/motd"
        motd.write_text(motd.read_text() + f"round {round_number}\n")
    subprocess.run(["sync"], check=True)


def run_pipeline(
    work: Path, contenders: list[Contender], selected: list[str], rounds: int
) -> list[Result]:
    chosen = [case for case in cases(work) if case.key in selected or "all" in selected]
    results: dict[tuple[str, str], Result] = {}
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "ROCKPACK_"))}
    for case in chosen:  # set up every project, and pack once where the case starts warm
        for contender in contenders:
            if case.key in contender.skip:
                continue
            result = results[case.key, contender.name] = Result(case, contender.name)
            project = work / contender.name / case.key
            project.mkdir(parents=True)
            case.setup(project, contender)
            print(f"set up {case.key} for {contender.name}", flush=True)
    for (key, name), result in results.items():  # once every project is in place
        if result.case.prepare == "clean":
            continue
        contender = next(c for c in contenders if c.name == name)
        log = logs / f"{key}-{name}-warmup.log"
        run = measure(contender.pack(), work / name / key, {**base_env, **contender.env}, log)
        if not run.ok:
            result.failure = f"warm-up pack failed, see {log}"
    for number in range(rounds):
        order = contenders if number % 2 == 0 else contenders[::-1]  # alternate who goes first
        for case in chosen:
            for contender in order:
                if (case.key, contender.name) not in results:
                    continue  # a case this contender skips
                result = results[case.key, contender.name]
                if result.failure:
                    continue
                project = work / contender.name / case.key
                prepare(case, contender, project, number)
                log = logs / f"{case.key}-{contender.name}-{number}.log"
                run = measure(contender.pack(), project, {**base_env, **contender.env}, log)
                result.runs.append(run)
                if not run.ok:
                    result.failure = f"pack failed in round {number + 1}, see {log}"
                print(
                    f"round {number + 1} {case.key:14} {contender.name:9} "
                    f"{run.wall:7.2f} s {run.cpu:7.2f} s CPU {run.rss_mb:6.0f} MB"
                    + ("" if run.ok else "  FAILED"),
                    flush=True,
                )
    shutil.rmtree(work / "trash", ignore_errors=True)  # every timed run is done
    return list(results.values())


# -- the report -----------------------------------------------------------------------------


def table(results: list[Result]) -> str:
    lines = [
        "| case | contender | wall median s | min-max s | CPU median s | peak RSS MB | "
        "Rockcraft / rockpack |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    medians = {(r.case.key, r.contender): r.median() for r in results}
    for result in results:
        runs = result.ok_runs()
        if not runs:
            lines.append(f"| {result.case.title} | {result.contender} | FAILED: {result.failure} |")
            continue
        walls = [run.wall for run in runs]
        ratio = ""
        if result.contender == "rockpack":
            other = medians.get((result.case.key, "rockcraft"))
            ratio = f"{other / statistics.median(walls):.2f}x" if other else ""
        note = f" ({len(runs)} ok; {result.failure})" if result.failure else ""
        lines.append(
            f"| {result.case.title} | {result.contender}{note} | {statistics.median(walls):.2f} | "
            f"{min(walls):.2f}-{max(walls):.2f} | "
            f"{statistics.median(run.cpu for run in runs):.2f} | "
            f"{max(run.rss_mb for run in runs):.0f} | {ratio} |"
        )
    return "\n".join(lines)


def targets(results: list[Result]) -> str:
    """Issue #20's targets, each PASS or MISS (or "not run")."""
    ours = {r.case.key: r for r in results if r.contender == "rockpack"}
    theirs = {r.case.key: r.median() for r in results if r.contender == "rockcraft"}
    lines = ["| target | measured | limit | result |", "| --- | ---: | ---: | --- |"]

    def check(label: str, key: str, limit: float) -> None:
        median = ours[key].median() if key in ours else None
        if median is None:
            lines.append(f"| {label} | not run | {limit:.2f} s | - |")
        else:
            verdict = "PASS" if median <= limit else "MISS"
            lines.append(f"| {label} | {median:.2f} s | {limit:.2f} s | {verdict} |")

    measured = theirs.get("tar-clean")
    anchors = [("Rockcraft's figure in issue #20", ROCKCRAFT_FIGURE)]
    if measured:
        anchors.append(("Rockcraft measured here", measured))
    for source, anchor in anchors:
        for factor in (3, 5):
            check(
                f"170 MB from clean: {factor}x faster than {source} ({anchor:.1f} s)",
                "tar-clean",
                anchor / factor,
            )
    check("100,000 small files from clean: under 30 s", f"{FILE_100K}-clean", 30.0)
    check("100,000 small files, nothing changed: under 1.5 s", f"{FILE_100K}-noop", 1.5)
    check("ordinary project (examples/), nothing changed: under 0.5 s", "example-noop", 0.5)
    runs = [(run.rss_mb, key) for key, r in ours.items() for run in r.ok_runs()]
    if runs:
        peak, where = max(runs)
        verdict = "PASS" if peak < RSS_LIMIT_MB else "MISS"
        lines.append(
            f"| peak RSS under {RSS_LIMIT_MB} MB in every case | {peak:.0f} MB ({where}) | "
            f"{RSS_LIMIT_MB} MB | {verdict} |"
        )
    return "\n".join(lines)
