"""Rocks with services: the injected Pebble binary, its layer, run-user, under runc."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import yaml

from tests.conftest import require_tool, run_rockpack, write_project
from tests.integration.oci_tools import runc_run, umoci_unpack, validate_rock

pytestmark = pytest.mark.integration

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
        exec: {command: /bin/true}
      port:
        override: replace
        tcp: {port: 8080}
      page:
        override: replace
        http: {url: "http://localhost:8080/"}
    entrypoint-service: web
    parts:
      nothing:
        plugin: nil
"""


def pack_services_project(tmp_path: Path, env: dict[str, str], pebble_source: str):
    """(the project directory, the finished `rockpack pack` of the services project)."""
    project = tmp_path / "project"
    write_project(project, SERVICES_PROJECT)
    result = run_rockpack(
        "pack",
        "--destructive-mode",
        "--project-dir",
        project,
        env={**env, "ROCKPACK_PEBBLE_SOURCE": pebble_source, "SOURCE_DATE_EPOCH": "1700000000"},
    )
    return project, result


def pack_services(tmp_path: Path, env: dict[str, str], pebble: Path) -> Path:
    project, result = pack_services_project(tmp_path, env, str(pebble))
    assert result.returncode == 0, result.stderr
    return project / "svc-check_1_amd64.rock"


def test_run_user_and_pebble_layout(tmp_path, base_env):
    stand_in = tmp_path / "pebble"  # only where the binary lands is checked here
    shutil.copy("/bin/true", stand_in)
    rock = pack_services(tmp_path, base_env, stand_in)
    config = validate_rock(rock)["config"]
    assert config["Entrypoint"] == ["/usr/bin/pebble", "enter", "--args", "web"]
    assert config["Cmd"] == ["1000"]
    assert config["User"] == "584792:584792"
    bundle = umoci_unpack(rock, tmp_path / "u")
    rootfs = bundle / "rootfs"
    assert (rootfs / "usr/bin/pebble").read_bytes() == stand_in.read_bytes()
    assert (rootfs / "usr/bin/pebble").stat().st_mode & 0o777 == 0o755
    layer = yaml.safe_load(
        (rootfs / "var/lib/pebble/default/layers/001-svc-check.yaml").read_text()
    )
    assert set(layer["services"]) == {"web", "idle"} and set(layer["checks"]) == {
        "alive",
        "port",
        "page",
    }
    assert "_daemon_:x:584792:584792:" in (rootfs / "etc/passwd").read_text()
    assert "root:x:0:0:" in (rootfs / "etc/passwd").read_text()  # the base's entries stay
    assert "_daemon_:!:19675:" in (rootfs / "etc/shadow").read_text()
    result = runc_run(bundle, ["/usr/bin/id", "-u"])
    assert (result.returncode, result.stdout) == (0, "584792\n"), result.stderr
    result = runc_run(bundle, ["/bin/sh", "-c", "touch /var/lib/pebble/default/probe && echo ok"])
    assert result.stdout == "ok\n", result.stderr


def test_without_pebble_the_pack_fails_before_building(tmp_path, base_env):
    project, result = pack_services_project(tmp_path, base_env, "")
    assert result.returncode == 1
    assert "needs Pebble" in result.stderr and "ROCKPACK_PEBBLE_SOURCE" in result.stderr
    assert not list(project.glob("*.rock"))
    assert not (project / ".rockpack/work").exists()  # no part ran


@pytest.fixture
def real_pebble() -> Path:
    value = os.environ.get("ROCKPACK_TEST_PEBBLE")
    if not value:
        pytest.skip(
            "set ROCKPACK_TEST_PEBBLE to a pebble binary to run Pebble itself "
            "(no archive reachable here ships Pebble)"
        )
    return Path(value)


def test_pebble_runs_the_services_and_args_replace_defaults(tmp_path, base_env, real_pebble):
    runc = require_tool("runc")
    rock = pack_services(tmp_path, base_env, real_pebble)
    bundle = umoci_unpack(rock, tmp_path / "u")
    config_path = bundle / "config.json"
    config = json.loads(config_path.read_text())
    config["process"]["terminal"] = False
    config["process"]["args"] = ["/usr/bin/pebble", "enter", "--args", "web", "2000"]
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
        deadline = time.monotonic() + 20
        services = ""
        while time.monotonic() < deadline:
            services = subprocess.run(
                [runc, "exec", container, "/usr/bin/pebble", "services"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            if services.count("active") >= 2:
                break
            time.sleep(0.5)
        assert "web" in services and "idle" in services and services.count("active") >= 2
        processes = subprocess.run(
            [
                runc,
                "exec",
                container,
                "/bin/sh",
                "-c",
                "for p in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $p; echo; done",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "/bin/sleep 2000" in processes and "/bin/sleep 1000" not in processes
    finally:
        subprocess.run([runc, "kill", container, "KILL"], capture_output=True, check=False)
        time.sleep(0.5)
        subprocess.run([runc, "delete", "--force", container], capture_output=True, check=False)


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
    result = run_rockpack(
        "pack",
        "--destructive-mode",
        "--project-dir",
        project,
        env={**base_env, "ROCKPACK_PEBBLE_SOURCE": ""},
    )
    assert result.returncode == 0, result.stderr
    rootfs = umoci_unpack(project / "svc-check_1_amd64.rock", tmp_path / "u") / "rootfs"
    assert (rootfs / "usr/bin/pebble").read_bytes() == b"\x7fELF my own pebble"
