"""rockpack push to a real registry, read back by skopeo and podman; rockpack load."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import pytest

from rockpack.oci.rock_archive import read_rock
from tests.conftest import require_tool, run_rockpack, write_project
from tests.integration.test_bases import ON_DEBIAN, make_files

pytestmark = pytest.mark.integration


def manifest_digest(rock) -> str:
    return read_rock(rock).manifest.digest


def podman(env, *args, check=True):
    result = subprocess.run(
        ["podman", *args], capture_output=True, text=True, check=False, env={**os.environ, **env}
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_push_then_skopeo_and_podman_see_the_same_digest(example_rock, registry, podman_env):
    target = f"{registry.host}/team/hello-busybox"
    result = run_rockpack("push", example_rock, target)
    assert result.returncode == 0, result.stderr
    digest = manifest_digest(example_rock)
    blobs = len(read_rock(example_rock).blobs)
    # the full reference pushed: registry, repository, the tag (the rock's version), digest
    assert f"Pushed {target}:1.0@{digest}" in result.stdout
    assert f"{blobs} blobs uploaded" in result.stdout
    inspect = subprocess.run(
        [require_tool("skopeo"), "inspect", "--tls-verify=false", f"docker://{target}:1.0"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(inspect.stdout)["Digest"] == digest
    podman(podman_env, "pull", "--tls-verify=false", f"{target}:1.0")
    pulled = podman(podman_env, "image", "inspect", f"{target}:1.0", "--format", "{{.Digest}}")
    assert pulled.stdout.strip() == digest
    again = run_rockpack("push", example_rock, target)
    assert again.returncode == 0, again.stderr
    assert "0 blobs uploaded" in again.stdout and f"{blobs} already there" in again.stdout


def test_push_mounts_the_base_layers_from_the_base_repository(tmp_path, base_env, registry):
    project = tmp_path / "project"
    write_project(project, ON_DEBIAN)
    make_files(project)
    result = run_rockpack("pack", "--destructive-mode", "--project-dir", project, env=base_env)
    assert result.returncode == 0, result.stderr
    pushed = run_rockpack("push", project / "on-debian_1_amd64.rock", f"{registry.host}/team/app:1")
    assert pushed.returncode == 0, pushed.stderr
    assert "1 mounted" in pushed.stdout


def test_push_to_an_unreachable_registry(example_rock):
    started = time.monotonic()
    result = run_rockpack("push", example_rock, "127.0.0.1:9/team/x:1")
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert "could not be reached: it refused the connection" in result.stderr
    assert "Traceback" not in result.stderr
    assert "ROCKPACK_REGISTRY_MIRROR" not in result.stderr  # it only affects bases
    assert elapsed < 8, f"a refused connection must fail at once, not after retries ({elapsed}s)"


def test_load_names_the_image_after_the_rock_and_it_runs(example_rock, podman_env, tmp_path):
    require_tool("runc")
    # The file's name says nothing: the rock's own metadata names the image.
    renamed = tmp_path / "My Rock.rock"
    shutil.copyfile(example_rock, renamed)
    result = run_rockpack("load", renamed, "--tool", "podman", env=podman_env)
    assert result.returncode == 0, result.stderr
    assert "as hello-busybox:1.0" in result.stdout
    images = podman(podman_env, "images", "--format", "{{.Repository}}:{{.Tag}}").stdout
    assert "localhost/hello-busybox:1.0" in images.split()
    run = podman(podman_env, "run", "--rm", "localhost/hello-busybox:1.0")
    assert run.stdout == "hello from a rock\n"


def test_push_of_a_file_that_is_not_a_rock(tmp_path):
    bogus = tmp_path / "bogus.rock"
    bogus.write_bytes(b"not a tar")
    result = run_rockpack("push", bogus, "127.0.0.1:9/team/x:1")
    assert result.returncode == 1
    assert "is not a valid rock: it is not a readable tar archive" in result.stderr
    assert "registry" not in result.stderr  # the rock is blamed, not the registry
