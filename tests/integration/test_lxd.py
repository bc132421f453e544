"""Clean builds in a real LXD daemon (started for the session, no network inside)."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import (
    MINIMAL,
    REPO,
    report_summary,
    run_rockpack,
    write_project,
)
from tests.integration.oci_tools import layer_tar

pytestmark = pytest.mark.integration

EPOCH = "1700000000"
TIMES: dict[str, float] = {}


def timed_pack(project: Path, env: dict[str, str], *extra: str):
    """A pack whose rock can be compared byte for byte across build modes: the provenance
    (left out here; tests/integration/test_sbom.py covers it) records the build mode."""
    started = time.monotonic()
    result = run_rockpack(
        "pack",
        "--project-dir",
        project,
        "--no-attestations",
        *extra,
        env={**env, "SOURCE_DATE_EPOCH": EPOCH},
    )
    return result, time.monotonic() - started


def pack_argv(project: Path, *extra: str) -> list[str]:
    """The real command line, as a user types it, for a child process of its own."""
    return [sys.executable, "-m", "rockpack", "pack", *extra, "--project-dir", str(project)]


def dated(env: dict[str, str]) -> dict[str, str]:
    """The whole environment plus the fixed source date the byte comparisons rely on."""
    return {**os.environ, **env, "SOURCE_DATE_EPOCH": EPOCH}


def instances(env: dict[str, str]) -> dict[str, str]:
    """rockpack's instances, by name, with their status (Running, Stopped)."""
    out = subprocess.run(
        ["lxc", "--project", "rockpack", "list", "--format", "json"],
        env={**os.environ, **env},
        capture_output=True,
        check=True,
    ).stdout
    return {item["name"]: item["status"] for item in json.loads(out)}


def test_clean_build_matches_a_host_build_byte_for_byte(lxd, tmp_path):
    clean, host = tmp_path / "clean", tmp_path / "host"
    shutil.copytree(REPO / "examples", clean)
    shutil.copytree(REPO / "examples", host)
    result, TIMES["cold clean build"] = timed_pack(clean, lxd)  # LXD is the default
    assert result.returncode == 0, result.stderr
    rock = "hello-busybox_1.0_amd64.rock"
    shown = result.stdout + result.stderr
    assert "/root/output" not in shown  # the instance's own paths stay inside
    assert shown.count(f"Packed {clean / rock} (sha256:") == 1, shown
    if "Installing rockpack in a base instance" in shown:  # cold: long steps say how long
        assert (
            "Installing rockpack in a base instance (once per image and version): done in" in shown
        )
    destructive, TIMES["destructive build"] = timed_pack(host, lxd, "--destructive-mode")
    assert destructive.returncode == 0, destructive.stderr
    assert (clean / rock).read_bytes() == (host / rock).read_bytes()

    again, TIMES["warm clean build"] = timed_pack(clean, lxd)
    assert again.returncode == 0, again.stderr
    assert "Installing rockpack in a base instance" not in again.stderr  # the base is reused
    assert (clean / rock).read_bytes() == (host / rock).read_bytes()
    report_summary("clean builds: " + ", ".join(f"{k} {v:.1f}s" for k, v in TIMES.items()))

    assert run_rockpack("clean", "--project-dir", clean, env=lxd).returncode == 0
    assert not [name for name in instances(lxd) if name.startswith("rockpack-hello-busybox")]
    assert [name for name in instances(lxd) if name.startswith("rockpack-base-")]


def test_stage_packages_reach_a_clean_build_and_match_a_host_build(lxd, tmp_path):
    """The instance has no network: its apt goes through rockpack's proxy on the host."""
    text = MINIMAL.replace("plugin: nil", "plugin: nil\n        stage-packages: [hello]")
    clean, host = tmp_path / "clean", tmp_path / "host"
    write_project(clean, text)
    write_project(host, text)
    result, TIMES["clean build with stage-packages"] = timed_pack(clean, lxd)
    assert result.returncode == 0, result.stderr
    assert "in a clean LXD instance" in result.stdout
    destructive, _ = timed_pack(host, lxd, "--destructive-mode")
    assert destructive.returncode == 0, destructive.stderr
    rock = "hello_1.0_amd64.rock"
    with layer_tar(clean / rock, 0) as tar:
        assert tar.getmember("usr/bin/hello").isfile()
    assert (clean / rock).read_bytes() == (host / rock).read_bytes()


def test_a_failing_clean_build_is_reported_and_leaves_no_rock(lxd, tmp_path):
    project = tmp_path / "failing"
    write_project(
        project,
        MINIMAL.replace(
            "plugin: nil", "plugin: nil\n        override-build: echo broken >&2; exit 3"
        ),
    )
    result, _ = timed_pack(project, lxd, "--use-lxd")
    assert result.returncode != 0
    assert "The build in the clean instance failed" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list(project.glob("*.rock")) and not list(project.glob(".rockpack-pull-*"))


def test_use_lxd_without_a_daemon_says_so(tmp_path):
    write_project(tmp_path, MINIMAL)
    result = run_rockpack(
        "pack",
        "--use-lxd",
        "--project-dir",
        tmp_path,
        env={"LXD_DIR": str(tmp_path / "no-daemon-here")},
    )
    assert result.returncode == 1
    assert "daemon is not running" in result.stderr


def test_a_newer_debian_build_base_gets_wheels_for_its_own_python(lxd, tmp_path):
    """debian@13 has Python 3.13, this host 3.11: its wheels are fetched for 3.13."""
    project = tmp_path / "trixie"
    write_project(
        project,
        MINIMAL.replace("build-base: debian@12", "build-base: debian@13").replace(
            "plugin: nil",
            "plugin: nil\n        override-build: |\n"
            "          mkdir -p $CRAFT_PART_INSTALL/etc\n"
            "          python3 -c 'import sys; print(sys.version_info[1])' "
            "> $CRAFT_PART_INSTALL/etc/python-minor",
        ),
    )
    result, TIMES["cold debian@13 build"] = timed_pack(project, lxd)
    assert result.returncode == 0, result.stderr
    with layer_tar(project / "hello_1.0_amd64.rock", 0) as tar:
        assert tar.extractfile("etc/python-minor").read() == b"13\n"


def run_in_terminal(
    argv: list[str], env: dict[str, str], answers: dict[bytes, bytes], timeout: float = 900
) -> tuple[int, bytes]:
    """Run ``argv`` (in the whole ``env``) on a pseudo-terminal; type each answer once its
    prompt has appeared."""
    main, child = pty.openpty()
    process = subprocess.Popen(
        argv,
        stdin=child,
        stdout=child,
        stderr=child,
        env=env,
        start_new_session=True,
    )
    os.close(child)
    output, pending = b"", dict(answers)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 1)
            if ready:
                try:
                    data = os.read(main, 65536)
                except OSError:  # the terminal closed: the process has ended
                    break
                output += data
            for prompt in [p for p in pending if p in output]:
                os.write(main, pending.pop(prompt))
            if process.poll() is not None and not ready:
                break
        return process.wait(timeout=60), output
    finally:
        if process.poll() is None:
            process.kill()
        os.close(main)


def test_shell_after_opens_a_shell_inside_the_instance(lxd, tmp_path):
    project = tmp_path / "shell"
    write_project(project, MINIMAL)
    code, output = run_in_terminal(
        pack_argv(project, "--shell-after"),
        dated(lxd),
        {b"Opening a shell": b"echo MARK-$ROCKPACK_MANAGED-$HOSTNAME-MARK; exit\n"},
    )
    text = output.decode(errors="replace")
    assert code == 0, text[-3000:]
    assert "MARK-1-rockpack-hello-" in text  # ran in the build instance, in managed mode
    assert (project / "hello_1.0_amd64.rock").is_file()  # the build went on after the shell
    states = instances(lxd)
    assert all(s == "Stopped" for n, s in states.items() if n.startswith("rockpack-hello-"))


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def test_an_interrupted_clean_build_stops_its_instance_and_keeps_the_base(lxd, tmp_path):
    """Ctrl-C reaches the whole process group, as in a terminal."""
    project = tmp_path / "slow"
    write_project(
        project,
        MINIMAL.replace("plugin: nil", "plugin: nil\n        override-build: sleep 300"),
    )
    process = subprocess.Popen(
        pack_argv(project),
        env=dated(lxd),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    own = "rockpack-hello-"
    wait_for(
        lambda: any(n.startswith(own) and s == "Running" for n, s in instances(lxd).items()),
        600,
        "the build instance to run",
    )
    time.sleep(5)  # well into the part's build
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode != 0
    assert b"Traceback" not in stderr
    states = instances(lxd)
    assert all(s == "Stopped" for n, s in states.items() if n.startswith(own)), states
    assert not list(project.glob("*.rock")) and not list(project.glob(".rockpack-pull-*"))

    # The cached base survived: the next build of another project does not rebuild it.
    other = tmp_path / "after"
    write_project(other, MINIMAL)
    result, _ = timed_pack(other, lxd)
    assert result.returncode == 0, result.stderr
    assert "Installing rockpack in a base instance" not in result.stderr


def test_two_projects_build_side_by_side(lxd, tmp_path):
    projects = [tmp_path / "one", tmp_path / "two"]
    for project in projects:
        write_project(project, MINIMAL)
    processes = [
        subprocess.Popen(
            pack_argv(project),
            env=dated(lxd),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for project in projects
    ]
    outputs = [process.communicate(timeout=900) for process in processes]
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr.decode()[-3000:]
    rocks = [(project / "hello_1.0_amd64.rock").read_bytes() for project in projects]
    assert rocks[0] == rocks[1]  # same project text and date, two instances, one result


LIST_INSTALL = b"$(ls parts/*/install); exit\n"


def test_debug_opens_a_shell_inside_where_the_build_failed(lxd, tmp_path):
    project = tmp_path / "broken"
    write_project(
        project,
        MINIMAL.replace(
            "plugin: nil",
            "plugin: nil\n        override-build: touch $CRAFT_PART_INSTALL/x; exit 3",
        ),
    )
    code, output = run_in_terminal(
        pack_argv(project, "--debug"),
        dated(lxd),
        {b"Opening a shell": b"echo MARK-$ROCKPACK_MANAGED-$HOSTNAME-" + LIST_INSTALL},
    )
    text = output.decode(errors="replace")
    assert code != 0
    assert "MARK-1-rockpack-hello-" in text and "-x\r" in text  # inside, beside the failed part
    assert not list(project.glob("*.rock"))
