"""Hostile input and faults around images: nothing corrupt is packed, nothing hangs, every
failure is one clear message, nothing is written outside rockpack's places, an earlier
rock survives, and the next run recovers.

Bounded cases run rockpack in a child process limited by RLIMIT_AS, timed."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from rockpack.oci.rock_archive import read_rock
from tests.conftest import REPO, require_tool, run_rockpack, write_project
from tests.integration import test_bases
from tests.integration.conftest import oci_image_from_rootfs, push
from tests.integration.oci_tools import (
    flip_blob_in_rock,
    flip_byte,
    registry_delete_manifest,
    registry_put_blob,
    registry_put_manifest,
    validate_rock,
)
from tests.integration.test_bases import ON_DEBIAN, make_files, pack, snapshot
from tests.unit.oci.hostile_servers import hostile_server

pytestmark = pytest.mark.integration

project = test_bases.project  # the same on-debian project fixture, not defined twice

ROCK = "on-debian_1_amd64.rock"
MEMORY_MB = 1024


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    max_rss_mb: float


def run_bounded(*args: str | Path, env: dict[str, str], timeout: float = 300) -> Run:
    """rockpack in a child limited to MEMORY_MB of address space; its time and peak RSS."""

    def limit() -> None:
        size = MEMORY_MB * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (size, size))

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        child = subprocess.Popen(
            [sys.executable, "-m", "rockpack", *map(str, args)],
            env={**os.environ, **env},
            stdout=out,
            stderr=err,
            preexec_fn=limit,  # only sets a limit, before exec
        )
        deadline = started + timeout
        peak_kb = 0
        while True:
            peak_kb = max(peak_kb, _high_water_kb(child.pid))
            pid, status, _ = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                child.kill()
                pid, status, _ = os.wait4(child.pid, 0)
                break
            time.sleep(0.02)
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        return Run(
            child.returncode,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
            seconds,
            peak_kb / 1024,
        )


def _high_water_kb(pid: int) -> int:
    """The child's own peak RSS so far (VmHWM, which only grows). Not ru_maxrss: that
    also counts the copy of pytest's memory the child held between fork and exec."""
    try:
        with Path(f"/proc/{pid}/status").open() as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError):
        return 0  # gone, or a zombie: its last reading stands


def assert_clean_failure(result, *expected: str) -> None:
    assert result.returncode not in (0, 70), result.stderr  # 70: internal error
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    for text in expected:
        assert text in result.stderr, result.stderr


def temporary_files(*directories: Path) -> list[str]:
    return [
        str(path)
        for directory in directories
        if directory.exists()
        for path in directory.rglob("*")
        if path.name.startswith((".ingest-", f".{ROCK}.")) or path.name.endswith(".partial")
    ]


def blob_path(root: Path, digest: str) -> Path:
    return root / "blobs/sha256" / digest.removeprefix("sha256:")


# -- 1. nothing corrupt is ever packed ---------------------------------------------------


def test_a_flipped_byte_in_a_cache_is_never_packed(project, base_env):
    first = pack(project, base_env)
    assert first.returncode == 0, first.stderr
    rock = project / ROCK
    earlier = rock.read_bytes()
    image = read_rock(rock)
    parts_layer = image.layers[1]  # the project's own layer, reused from its cache
    flip_byte(blob_path(project / ".rockpack/oci", parts_layer.digest), 100)
    before = snapshot(project.parent)

    damaged = pack(project, base_env)
    assert_clean_failure(
        damaged, parts_layer.digest, "does not match its digest", "run the command again"
    )
    assert rock.read_bytes() == earlier  # the earlier rock, intact
    assert snapshot(project.parent) == before  # no partial rock, nothing outside
    assert temporary_files(project) == []

    healed = pack(project, base_env)  # the next run rebuilds the dropped layer
    assert healed.returncode == 0, healed.stderr
    assert rock.read_bytes() == earlier
    validate_rock(rock)


def test_a_flipped_byte_in_a_cached_base_layer_is_fetched_again(project, base_env):
    first = pack(project, base_env)
    assert first.returncode == 0, first.stderr
    rock = project / ROCK
    earlier = rock.read_bytes()
    base_layer = read_rock(rock).layers[0]
    cached = blob_path(Path(base_env["XDG_CACHE_HOME"], "rockpack/oci"), base_layer.digest)

    # with the registry gone, the pack fails clearly and the earlier rock stays
    flip_byte(cached, cached.stat().st_size // 2)
    offline = {**base_env, "ROCKPACK_REGISTRY_MIRROR": "127.0.0.1:9"}
    failed = pack(project, offline)
    assert_clean_failure(failed, "127.0.0.1:9 could not be reached")
    assert rock.read_bytes() == earlier

    # with the registry back, the damaged blob is fetched again (by the pinned digest)
    healed = pack(project, base_env)
    assert healed.returncode == 0, healed.stderr
    assert rock.read_bytes() == earlier
    validate_rock(rock)
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == base_layer.digest[7:]


def test_push_and_load_refuse_a_tampered_rock(example_rock, registry, tmp_path):
    rock = tmp_path / "tampered.rock"
    shutil.copyfile(example_rock, rock)
    layer = read_rock(rock).layers[-1]
    flip_blob_in_rock(rock, layer.digest)
    before = registry.request_count()
    pushed = run_rockpack("push", rock, f"{registry.host}/team/tampered:1")
    assert_clean_failure(pushed, f"{rock} is not a valid rock", layer.digest, "does not match")
    assert registry.request_count() == before  # the registry never saw it
    loaded = run_rockpack("load", rock, "--tool", "podman")
    assert_clean_failure(loaded, f"{rock} is not a valid rock", "does not match")
    assert "podman" not in loaded.stderr  # not blamed on podman


# -- 2. every read of untrusted data is bounded ------------------------------------------


def _dripping_proxy(registry_host: str, big: set[str]):
    """Forward to the real registry, but drip blobs in ``big`` one byte a second."""

    def handle(connection, head):
        request_line = head.split(b"\r\n", 1)[0].decode()
        method, path = request_line.split(" ")[:2]
        if any(digest in path for digest in big):
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n")
            for _ in range(120):
                connection.sendall(b"x")
                time.sleep(1)
            return
        request = urllib.request.Request(
            f"http://{registry_host}{path}",
            method=method,
            headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
            kind = response.headers.get("Content-Type", "application/octet-stream")
        head_out = f"HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}"
        connection.sendall(head_out.encode() + b"\r\n\r\n" + body)

    return handle


def test_a_registry_dripping_a_blob_is_cut_off_in_bounded_time_and_memory(
    project, base_env, debian_base
):
    handler = _dripping_proxy(debian_base.registry.host, set(debian_base.layer_digests))
    with hostile_server(handler) as host:
        env = {**base_env, "ROCKPACK_REGISTRY_MIRROR": host, "ROCKPACK_REGISTRY_TIMEOUT": "3"}
        before = snapshot(project.parent)
        result = run_bounded("pack", "--destructive-mode", "--project-dir", project, env=env)
    assert_clean_failure(result, f"The registry {host} timed out (after 3s)")
    assert result.seconds < 30, result.seconds
    assert result.max_rss_mb < MEMORY_MB
    assert snapshot(project.parent) == before
    cache = Path(base_env["XDG_CACHE_HOME"], "rockpack/oci")
    assert temporary_files(cache) == []  # the partial download was removed
    print(f"\ndrip: failed after {result.seconds:.1f}s, peak RSS {result.max_rss_mb:.0f} MiB")


def test_a_killed_pack_leaves_temporary_files_the_next_run_removes(project, base_env, debian_base):
    handler = _dripping_proxy(debian_base.registry.host, set(debian_base.layer_digests))
    cache = Path(base_env["XDG_CACHE_HOME"], "rockpack/oci")
    with hostile_server(handler) as host:
        env = {**os.environ, **base_env, "ROCKPACK_REGISTRY_MIRROR": host}
        child = subprocess.Popen(
            [sys.executable, "-m", "rockpack", "pack", "--destructive-mode"],
            cwd=project,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(300):  # until the download is under way (at most 30 s)
                if temporary_files(cache):
                    break
                time.sleep(0.1)
            left = temporary_files(cache)
            assert left, "the pack never started downloading"
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
    assert all(Path(p).exists() for p in left)  # what a killed run leaves behind
    result = pack(project, base_env)
    assert result.returncode == 0, result.stderr
    assert temporary_files(cache, project) == []


# -- 3. base images are read as a runtime would, or refused ------------------------------


def _base_from_documents(registry, tmp_path, name, *, config=None, layer_type=None):
    """A base whose manifest or config rockpack must refuse, stored in the registry."""
    host = registry.host
    layer = tmp_path / f"{name}.tar.gz"
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("etc")
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
    layer.write_bytes(gzip.compress(raw.getvalue(), mtime=0))
    diff_id = "sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()
    config = config if config is not None else {"rootfs": {"type": "layers", "diff_ids": [diff_id]}}
    config_raw = json.dumps(config).encode()
    repository = f"hostile/{name}"
    config_digest = registry_put_blob(host, repository, config_raw)
    layer_digest = registry_put_blob(host, repository, layer.read_bytes())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": len(config_raw),
        },
        "layers": [
            {
                "mediaType": layer_type or "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": layer_digest,
                "size": layer.stat().st_size,
            }
        ],
    }
    registry_put_manifest(host, repository, "1", manifest)
    return f"{host}/{repository}:1"


@pytest.mark.parametrize(
    ("name", "kwargs", "expected"),
    [
        (
            "unknown-layer-type",
            {"layer_type": "application/vnd.example.not-a-layer"},
            "is not a container image layer",
        ),
        ("config-not-an-object", {"config": ["x"]}, "it is not a JSON object"),
        ("config-rootfs-list", {"config": {"rootfs": []}}, "'rootfs' is a list, not an object"),
        (
            "config-diff-ids-wrong",
            {"config": {"rootfs": {"type": "layers", "diff_ids": ["md5:1"]}}},
            "is not a sha256 digest",
        ),
        (
            "config-env-not-strings",
            {
                "config": {
                    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "0" * 64]},
                    "config": {"Env": [1, 2]},
                }
            },
            "config.Env holds items that are not strings",
        ),
    ],
)
def test_malformed_bases_are_refused_clearly(
    project, base_env, registry, tmp_path, name, kwargs, expected
):
    try:
        reference = _base_from_documents(registry, tmp_path, name, **kwargs)
    except urllib.error.HTTPError as err:
        pytest.skip(f"the registry refuses such a manifest itself ({err})")
    config = tmp_path / "config/rockpack"
    config.mkdir(parents=True)
    (config / "bases.yaml").write_text(f"debian@12: {reference}\n")
    env = {**base_env, "ROCKPACK_REGISTRY_MIRROR": "", "XDG_CONFIG_HOME": str(tmp_path / "config")}
    before = snapshot(project.parent)
    result = pack(project, env)
    assert_clean_failure(result, expected)
    assert snapshot(project.parent) == before


# -- 4. a pin is a pin -------------------------------------------------------------------


def test_a_pinned_base_the_registry_lost_is_an_error(project, base_env, debian_base, tmp_path):
    layout = tmp_path / "layout"
    oci_image_from_rootfs(debian_base.rootfs_tar, layout, "p")
    digest = push(layout, "p", debian_base.registry, "pin/debian")
    config = tmp_path / "config/rockpack"
    config.mkdir(parents=True)
    (config / "bases.yaml").write_text(f"debian@12: {debian_base.registry.host}/pin/debian:p\n")
    env = {**base_env, "ROCKPACK_REGISTRY_MIRROR": "", "XDG_CONFIG_HOME": str(tmp_path / "config")}
    first = pack(project, env)
    assert first.returncode == 0, first.stderr
    earlier = (project / ROCK).read_bytes()
    pins = json.loads((project / ".rockpack/bases.lock.json").read_text())
    assert pins["debian@12 amd64"]["digest"] == digest

    registry_delete_manifest(debian_base.registry.host, "pin/debian", digest)
    cold = {**env, "XDG_CACHE_HOME": str(tmp_path / "cold-cache")}  # e.g. another machine
    result = pack(project, cold)
    assert_clean_failure(result, "is pinned in", digest, "no longer has", "--refresh-base")
    assert (project / ROCK).read_bytes() == earlier
    assert json.loads((project / ".rockpack/bases.lock.json").read_text()) == pins


def test_a_damaged_lock_file_is_a_clear_error(project, base_env):
    first = pack(project, base_env)
    assert first.returncode == 0, first.stderr
    lock = project / ".rockpack/bases.lock.json"
    lock.write_text(lock.read_text()[:20])  # truncated
    result = pack(project, base_env)
    assert_clean_failure(result, str(lock), "is damaged", "--refresh-base")
    refreshed = pack(project, base_env, "--refresh-base")
    assert refreshed.returncode == 0, refreshed.stderr
    assert json.loads(lock.read_text())


# -- 5. faults recover -------------------------------------------------------------------

OVERLAY = ON_DEBIAN.replace(
    "        source: files",
    "        source: files\n      touch:\n        plugin: nil\n"
    '        overlay-script: |\n          touch "$CRAFT_OVERLAY/etc/overlay-was-here"',
)


def test_two_projects_on_one_cold_cache_at_once_both_succeed(base_env, tmp_path):
    require_tool("fuse-overlayfs")
    projects = []
    for name in ("one", "two"):
        directory = tmp_path / name
        write_project(directory, OVERLAY)
        make_files(directory)
        projects.append(directory)
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "rockpack", "pack", "--destructive-mode"],
            cwd=directory,
            env={**os.environ, **base_env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for directory in projects
    ]
    outputs = [run.communicate(timeout=900) for run in runs]
    for run, (_, stderr) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, stderr
    digests = {read_rock(directory / ROCK).manifest.digest for directory in projects}
    assert len(digests) == 1  # the same project twice: the same rock
    for directory in projects:
        validate_rock(directory / ROCK)
    cache = Path(base_env["XDG_CACHE_HOME"], "rockpack")
    assert temporary_files(cache) == []
    assert len([p for p in (cache / "rootfs").iterdir() if p.name.endswith("complete")]) == 1


def _in_small_mount(options: str, cache: Path, project: Path, env: dict[str, str]):
    """rockpack pack with the cache on a tmpfs mounted with ``options``, in a private mount
    namespace (nothing is mounted outside the child)."""
    require_tool("unshare")
    cache.mkdir(parents=True, exist_ok=True)
    script = (
        f"mount -t tmpfs -o {options} tmpfs {cache} && "
        f"exec {sys.executable} -m rockpack pack --destructive-mode --project-dir {project}"
    )
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", script],
        env={**os.environ, **env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


@pytest.mark.parametrize(
    ("options", "expected"),
    [("size=1m", "the disk is full"), ("ro", "the filesystem is read-only")],
)
def test_a_full_or_read_only_cache_is_a_clear_error_and_the_next_run_works(
    project, base_env, options, expected
):
    cache = Path(base_env["XDG_CACHE_HOME"])
    result = _in_small_mount(options, cache, project, base_env)
    if "mount:" in result.stderr or "unshare:" in result.stderr:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    assert_clean_failure(
        result, "Cannot write to rockpack's cache in", expected, "run the command again"
    )
    assert not (project / ROCK).exists()
    healed = pack(project, base_env)
    assert healed.returncode == 0, healed.stderr
    validate_rock(project / ROCK)
