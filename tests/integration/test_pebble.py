"""Rocks with services under the real Pebble (v1.32.1 from ../shared/tools/pebble, served
as a release mirror on 127.0.0.1): the injected binary, its layer, run-user, under runc."""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from tests.conftest import require_file, require_tool, run_rockpack, write_project
from tests.integration.oci_tools import runc_run, umoci_unpack, validate_rock
from tests.integration.pebble_binary import PEBBLE_ARCHIVES, read_pebble
from tests.unit.pebble.fakes import Mirror, serve

pytestmark = pytest.mark.integration

EPOCH = "1700000000"
RUN_USER = 584792

SERVICES_PROJECT = """
    name: svc-check
    version: "1"
    summary: Services under Pebble
    description: Two services, one check of each kind, as _daemon_.
    base: debian@12
    run-user: _daemon_
    platforms:
      amd64:
    services:
      web:
        override: replace
        command: /bin/sleep [ 1000 ]
        startup: enabled
      idle:
        override: replace
        command: /bin/sleep 3000
        startup: enabled
        after: [web]
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
      page:
        override: replace
        http: {url: "http://localhost:8080/"}
    entrypoint-service: web
    parts:
      nothing:
        plugin: nil
"""


# Helpers shared with the other test_pebble_*.py modules


def pebble_archive(arch: str) -> Path:
    """A real Pebble v1.32.1 release archive; in CI its absence fails the run."""
    path = PEBBLE_ARCHIVES / f"pebble_v1.32.1_linux_{arch}.tar.gz"
    return require_file(path, "the real Pebble archives are needed (see test-env.md)")


def archive_binary(arch: str) -> bytes:
    """The pebble binary inside the real archive for ``arch``."""
    return read_pebble(pebble_archive(arch))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@contextmanager
def real_mirror(root: Path) -> Iterator[Mirror]:
    """The real archives served like GitHub's release downloads, on 127.0.0.1."""
    with serve(root) as mirror:
        for arch in ("amd64", "arm64"):
            mirror.put(arch, pebble_archive(arch).read_bytes())
        yield mirror


def mirrored_env(base: dict[str, str], mirror: Mirror, tmp_path: Path) -> dict[str, str]:
    """No Pebble variable but the mirror; the test's own user config (and cache, in base)."""
    return {
        **base,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "ROCKPACK_PEBBLE_MIRROR": mirror.url,
        "ROCKPACK_PEBBLE_SOURCE": "",
        "ROCKPACK_PEBBLE_ACCEPT": "",
        "SOURCE_DATE_EPOCH": EPOCH,
    }


@pytest.fixture
def pebble_mirror(tmp_path) -> Iterator[Mirror]:
    with real_mirror(tmp_path / "mirror") as mirror:
        yield mirror


@pytest.fixture
def pebble_env(base_env, pebble_mirror, tmp_path) -> dict[str, str]:
    return mirrored_env(base_env, pebble_mirror, tmp_path)


def pack(project: Path, env: dict[str, str]):
    return run_rockpack("pack", "--destructive-mode", "--project-dir", project, env=env)


def pack_services(tmp_path: Path, env: dict[str, str], text: str = SERVICES_PROJECT) -> Path:
    project = tmp_path / "project"
    write_project(project, text)
    result = pack(project, env)
    assert result.returncode == 0, result.stderr
    [rock] = project.glob("*.rock")
    return rock


@contextmanager
def running(bundle: Path, args: list[str] | None = None) -> Iterator[str]:
    """The bundle's process (or ``args``) running detached under runc; yields its id."""
    runc = require_tool("runc")
    config_path = bundle / "config.json"
    config = json.loads(config_path.read_text())
    config["process"]["terminal"] = False
    if args is not None:
        config["process"]["args"] = args
    config_path.write_text(json.dumps(config))
    container = f"rockpack-pebble-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        [runc, "run", "-d", "--bundle", str(bundle), container],
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield container
    finally:
        subprocess.run([runc, "kill", container, "KILL"], capture_output=True, check=False)
        time.sleep(0.5)
        subprocess.run([runc, "delete", "--force", container], capture_output=True, check=False)


def in_container(container: str, *command: str) -> str:
    runc = require_tool("runc")
    return subprocess.run(
        [runc, "exec", container, *command], capture_output=True, text=True, check=False
    ).stdout


def wait_for(container: str, command: list[str], ready, timeout: float = 30) -> str:
    """``command``'s output once ``ready(output)`` holds (or the last one after ``timeout``)."""
    deadline = time.monotonic() + timeout
    output = ""
    while time.monotonic() < deadline:
        output = in_container(container, *command)
        if ready(output):
            break
        time.sleep(0.5)
    return output


def table(output: str) -> dict[str, list[str]]:
    """`pebble services` / `pebble checks` output: first column -> the row's columns."""
    rows = [line.split() for line in output.splitlines()[1:] if line.strip()]
    return {row[0]: row for row in rows}


def checks_ran(output: str) -> bool:
    """`alive` has succeeded and `port` has failed: Pebble really runs the checks."""
    checks = table(output)
    alive, port = checks.get("alive", []), checks.get("port", [])
    return len(alive) > 4 and alive[4].isdigit() and int(alive[4]) >= 1 and "down" in port


def process_uids(container: str) -> dict[str, int]:
    """Command line -> real uid of each process in the container."""
    script = (
        "for p in /proc/[0-9]*; do "
        "printf '%s|' \"$(tr '\\0' ' ' < $p/cmdline)\"; "
        "awk '/^Uid:/ {print $2}' $p/status; done"
    )
    out = in_container(container, "/bin/sh", "-c", script)
    uids = {}
    for line in out.splitlines():
        command, _, uid = line.rpartition("|")
        if uid.strip().isdigit():
            uids[command.strip()] = int(uid)
    return uids


# Tests


def test_run_user_and_pebble_layout(tmp_path, pebble_env):
    rock = pack_services(tmp_path, pebble_env)
    config = validate_rock(rock)["config"]
    assert config["Entrypoint"] == ["/usr/bin/pebble", "enter", "--args", "web"]
    assert config["Cmd"] == ["1000"]
    assert config["User"] == f"{RUN_USER}:{RUN_USER}"
    bundle = umoci_unpack(rock, tmp_path / "u")
    rootfs = bundle / "rootfs"
    binary = archive_binary("amd64")
    assert (rootfs / "usr/bin/pebble").read_bytes() == binary
    assert (rootfs / "usr/bin/pebble").stat().st_mode & 0o777 == 0o755
    metadata = yaml.safe_load((rootfs / ".rock/metadata.yaml").read_text())
    assert metadata["pebble"] == {
        "version": "v1.32.1",
        "sha256": sha256(binary),
        "archive-sha256": sha256(pebble_archive("amd64").read_bytes()),
    }
    layer = yaml.safe_load(
        (rootfs / "var/lib/pebble/default/layers/001-svc-check.yaml").read_text()
    )
    assert set(layer["services"]) == {"web", "idle"}
    assert set(layer["checks"]) == {"alive", "port", "page"}
    assert f"_daemon_:x:{RUN_USER}:{RUN_USER}:" in (rootfs / "etc/passwd").read_text()
    assert "root:x:0:0:" in (rootfs / "etc/passwd").read_text()  # the base's entries stay
    assert "_daemon_:!:19675:" in (rootfs / "etc/shadow").read_text()
    result = runc_run(bundle, ["/usr/bin/id", "-u"])
    assert (result.returncode, result.stdout) == (0, f"{RUN_USER}\n"), result.stderr
    result = runc_run(bundle, ["/bin/sh", "-c", "touch /var/lib/pebble/default/probe && echo ok"])
    assert result.stdout == "ok\n", result.stderr
    result = runc_run(bundle, ["/usr/bin/pebble", "version", "--client"])
    assert result.stdout.strip() == "v1.32.1", result.stderr


def test_pebble_runs_the_services_as_the_run_user_and_args_replace_defaults(tmp_path, pebble_env):
    rock = pack_services(tmp_path, pebble_env)
    bundle = umoci_unpack(rock, tmp_path / "u")
    with running(bundle, ["/usr/bin/pebble", "enter", "--args", "web", "2000"]) as container:
        services = table(
            wait_for(
                container,
                ["/usr/bin/pebble", "services"],
                lambda out: out.count(" active ") >= 2,
            )
        )
        assert services["web"][2] == "active" and services["idle"][2] == "active", services
        checks = table(
            wait_for(container, ["/usr/bin/pebble", "checks"], checks_ran),
        )
        assert checks["alive"][3] == "up" and int(checks["alive"][4]) >= 1, checks
        assert checks["port"][3] == "down", checks  # nothing listens on 8080
        uids = process_uids(container)
        assert uids.get("/bin/sleep 2000") == RUN_USER, uids
        assert uids.get("/bin/sleep 3000") == RUN_USER, uids
        assert "/bin/sleep 1000" not in uids  # --args replaced the default argument
        assert uids.get("/usr/bin/pebble enter --args web 2000") == RUN_USER, uids


def test_without_network_or_cache_the_pack_fails_before_building(tmp_path, base_env):
    project = tmp_path / "project"
    write_project(project, SERVICES_PROJECT)
    closed = "http://127.0.0.1:9"  # the discard port: nothing listens
    result = pack(
        project,
        {
            **base_env,
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "ROCKPACK_PEBBLE_MIRROR": closed,
            "ROCKPACK_PEBBLE_SOURCE": "",
        },
    )
    assert result.returncode == 1
    stderr = " ".join(result.stderr.split())
    assert "needs Pebble v1.32.1 for amd64" in stderr
    assert f"{closed}/v1.32.1/pebble_v1.32.1_linux_amd64.tar.gz" in stderr
    assert "ROCKPACK_PEBBLE_MIRROR" in stderr and "ROCKPACK_PEBBLE_SOURCE" in stderr
    assert "Traceback" not in result.stderr
    assert not list(project.glob("*.rock"))
    assert not (project / ".rockpack/work").exists()  # no part ran


def test_the_projects_own_pebble_part_when_it_says_so(tmp_path, base_env):
    project = tmp_path / "own"
    own_part = (
        "    pebble: project\n    parts:\n      pebble:\n        plugin: dump\n"
        "        source: own\n        organize:\n          my-pebble: usr/bin/pebble\n"
    )
    write_project(
        project,
        SERVICES_PROJECT.replace("    parts:\n      nothing:\n        plugin: nil\n", own_part),
    )
    (project / "own").mkdir()
    (project / "own/my-pebble").write_bytes(b"\x7fELF my own pebble")
    (project / "own/my-pebble").chmod(0o755)
    result = pack(project, {**base_env, "ROCKPACK_PEBBLE_SOURCE": ""})
    assert result.returncode == 0, result.stderr
    rootfs = umoci_unpack(project / "svc-check_1_amd64.rock", tmp_path / "u") / "rootfs"
    assert (rootfs / "usr/bin/pebble").read_bytes() == b"\x7fELF my own pebble"
    assert "pebble" not in yaml.safe_load((rootfs / ".rock/metadata.yaml").read_text())
