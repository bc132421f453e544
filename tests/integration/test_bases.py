"""Real bases: a Debian image built with mmdebstrap, served by docker-registry on loopback."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import tarfile
import threading
from pathlib import Path

import pytest

from rockpack.oci.rock_archive import read_rock
from tests.conftest import report_summary, run_rockpack, write_project
from tests.integration.conftest import BASE_EPOCH, ROOTFS_CACHE, oci_image_from_rootfs, push
from tests.integration.oci_tools import layer_tar, runc_run, umoci_unpack, validate_rock

pytestmark = pytest.mark.integration

ON_DEBIAN = """
    name: on-debian
    version: "1"
    summary: A rock on Debian 12
    description: Checks the base's layers, usrmerge and pruning.
    base: debian@12
    platforms:
      amd64:
    entrypoint-command: /bin/sh [ -c "ls -ld /bin && /bin/true && hello-tool" ]
    parts:
      files:
        plugin: dump
        source: files
"""


def make_files(project: Path) -> None:
    files = project / "files"
    (files / "bin").mkdir(parents=True)
    (files / "lib/x86_64-linux-gnu").mkdir(parents=True)
    (files / "bin/hello-tool").write_text("#!/bin/sh\necho hello from usr/bin\n")
    (files / "bin/hello-tool").chmod(0o755)
    (files / "lib/x86_64-linux-gnu/libfoo.so").write_bytes(b"\x7fELF not really")


def layer_names(rock: Path, layer_index: int) -> list[str]:
    with layer_tar(rock, layer_index) as tar:
        return [m.name.rstrip("/") for m in tar]


def snapshot(directory: Path) -> set[str]:
    """Every path below ``directory`` except rockpack's own directories."""
    return {
        str(p.relative_to(directory))
        for p in directory.rglob("*")
        if ".rockpack" not in p.parts and "cache" not in p.parts
    }


@pytest.fixture
def project(tmp_path) -> Path:
    directory = tmp_path / "project"
    write_project(directory, ON_DEBIAN)
    make_files(directory)
    return directory


def pack(project: Path, env: dict[str, str], *extra: str):
    return run_rockpack("pack", "--destructive-mode", "--project-dir", project, *extra, env=env)


def test_rock_on_debian_reuses_the_base_and_keeps_usrmerge(
    project, base_env, debian_base, tmp_path
):
    result = pack(project, base_env)
    assert result.returncode == 0, result.stderr
    rock = project / "on-debian_1_amd64.rock"
    config = validate_rock(rock)
    manifest = read_rock(rock).document
    assert [layer["digest"] for layer in manifest["layers"][:1]] == debian_base.layer_digests
    assert (
        manifest["annotations"]["org.opencontainers.image.base.digest"]
        == debian_base.manifest_digest
    )
    labels = config["config"]["Labels"]
    assert "org.example.base-only" not in labels  # the base's labels do not leak
    assert (
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        in config["config"]["Env"]
    )

    names = layer_names(rock, 1)
    assert "usr/bin/hello-tool" in names and "usr/lib/x86_64-linux-gnu/libfoo.so" in names
    assert not {"bin", "lib", "lib/x86_64-linux-gnu", "bin/hello-tool"} & set(names)

    bundle = umoci_unpack(rock, tmp_path / "u")
    assert (bundle / "rootfs/bin").is_symlink()
    run = runc_run(bundle)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("lrwxrwxrwx") and "/bin -> usr/bin" in run.stdout
    assert "hello from usr/bin" in run.stdout


def test_files_the_base_has_are_pruned_but_a_changed_mode_is_kept(tmp_path, base_env):
    project = tmp_path / "project"
    parts = ON_DEBIAN.replace(
        "        source: files",
        "        source: files\n      host:\n        plugin: nil\n"
        "        stage-packages: [hostname]",
    )
    write_project(project, parts)
    etc = project / "files/etc"
    etc.mkdir(parents=True)
    # A byte-identical copy of the base's /etc/debian_version, but with mode 0600.
    (etc / "debian_version").write_bytes(file_from_base("etc/debian_version"))
    (etc / "debian_version").chmod(0o600)
    result = pack(project, base_env)
    assert result.returncode == 0, result.stderr
    names = layer_names(project / "on-debian_1_amd64.rock", 1)
    assert not [n for n in names if "hostname" in n], names
    assert "etc/debian_version" in names
    assert "Pruned" in result.stderr


def file_from_base(path: str) -> bytes:
    with tarfile.open(ROOTFS_CACHE / f"bookworm-minbase-{BASE_EPOCH}.tar") as tar:
        return tar.extractfile(f"./{path}").read()


def test_second_pack_makes_no_registry_request(project, base_env, debian_base):
    first = pack(project, base_env)
    assert first.returncode == 0, first.stderr
    views = list(Path(base_env["XDG_CACHE_HOME"], "rockpack/base-views").iterdir())
    stamps = {p: p.stat().st_mtime_ns for p in views}
    before = debian_base.registry.request_count()
    second = pack(project, base_env)
    assert second.returncode == 0, second.stderr
    assert debian_base.registry.request_count() == before
    assert {p: p.stat().st_mtime_ns for p in views} == stamps  # the base was not re-read
    refreshed = pack(project, base_env, "--refresh-base")
    assert refreshed.returncode == 0
    assert debian_base.registry.request_count() > before


HOSTILE: dict[str, list[str]] = {"tried": [], "rejected cleanly": []}


def _failure_case(project: Path, env: dict[str, str], *expected: str, label: str = "") -> None:
    """The pack fails with one clear error, writing nothing outside rockpack's directories."""
    label = label or expected[0]
    HOSTILE["tried"].append(label)
    before = snapshot(project.parent)
    result = pack(project, env)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    for text in expected:
        assert text in result.stderr, result.stderr
    assert snapshot(project.parent) == before  # no .rock, nothing outside our directories
    HOSTILE["rejected cleanly"].append(label)


def test_unknown_base_repository(project, base_env, tmp_path):
    config = tmp_path / "config/rockpack"
    config.mkdir(parents=True)
    host = base_env["ROCKPACK_REGISTRY_MIRROR"]
    (config / "bases.yaml").write_text(f"debian@12: {host}/nobody/nothing:1\n")
    env = {**base_env, "ROCKPACK_REGISTRY_MIRROR": "", "XDG_CONFIG_HOME": str(tmp_path / "config")}
    _failure_case(project, env, "not found in the registry", label="unknown base")


def test_corrupt_and_truncated_blobs_are_refused(
    project, base_env, debian_base, registry, tmp_path
):
    layout = tmp_path / "layout"
    oci_image_from_rootfs(debian_base.rootfs_tar, layout, "x")
    manifest_digest = push(layout, "x", registry, "broken/corrupt")
    push(layout, "x", registry, "broken/truncated")
    manifest = json.loads((layout / "blobs/sha256" / manifest_digest[7:]).read_text())
    layer = manifest["layers"][0]["digest"][7:]
    data_dir = Path(registry.log.parent, "data/docker/registry/v2/blobs/sha256", layer[:2], layer)
    original = (data_dir / "data").read_bytes()
    config = tmp_path / "config/rockpack"
    config.mkdir(parents=True)
    env = {**base_env, "ROCKPACK_REGISTRY_MIRROR": "", "XDG_CONFIG_HOME": str(tmp_path / "config")}
    try:
        (data_dir / "data").write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
        (config / "bases.yaml").write_text(f"debian@12: {registry.host}/broken/corrupt:x\n")
        _failure_case(project, env, "does not match its digest", label="blob with a wrong digest")
        (data_dir / "data").write_bytes(original[: len(original) // 2])
        (config / "bases.yaml").write_text(f"debian@12: {registry.host}/broken/truncated:x\n")
        _failure_case(project, env, "sha256:" + layer, label="truncated blob")
    finally:
        (data_dir / "data").write_bytes(original)
    cached = Path(env["XDG_CACHE_HOME"], "rockpack/oci/blobs/sha256")
    assert (
        not (cached / layer).exists()
        or hashlib.sha256((cached / layer).read_bytes()).hexdigest() == layer
    )


class _Always500(http.server.BaseHTTPRequestHandler):
    requests = 0

    def do_GET(self):
        type(self).requests += 1
        self.send_response(500)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_registry_answering_500(project, base_env):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Always500)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = {**base_env, "ROCKPACK_REGISTRY_MIRROR": f"127.0.0.1:{server.server_port}"}
        _failure_case(
            project, env, "answered 500 Internal Server Error", "after 4 retries", label="HTTP 500"
        )
        assert _Always500.requests == 5  # the first try and four retries, with backoff
    finally:
        server.shutdown()


def _hostile_image(tmp_path: Path, registry, name: str, members: list[tarfile.TarInfo]) -> None:
    layer_tar = tmp_path / f"{name}.tar"
    with tarfile.open(layer_tar, "w") as tar:
        for info in members:
            data = b"pwned\n" if info.isfile() else None
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data else None)
    layout = tmp_path / f"{name}-layout"
    oci_image_from_rootfs(layer_tar, layout, "1")
    push(layout, "1", registry, f"hostile/{name}")


def _entry(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, 0o644
    return info


@pytest.mark.parametrize(
    ("name", "members", "expected"),
    [
        ("dotdot", [_entry("../etc/passwd")], "contains '..'"),
        (
            "symlink-escape",
            [_entry("a", tarfile.SYMTYPE, "/etc"), _entry("a/passwd")],
            "through the symlink 'a'",
        ),
        ("hardlink-out", [_entry("x", tarfile.LNKTYPE, "../../etc/shadow")], "contains '..'"),
    ],
)
def test_hostile_base_layers_are_refused(
    project, base_env, registry, tmp_path, name, members, expected
):
    _hostile_image(tmp_path, registry, name, members)
    config = tmp_path / "config/rockpack"
    config.mkdir(parents=True)
    (config / "bases.yaml").write_text(f"debian@12: {registry.host}/hostile/{name}:1\n")
    env = {**base_env, "ROCKPACK_REGISTRY_MIRROR": "", "XDG_CONFIG_HOME": str(tmp_path / "config")}
    outside = Path("/etc/passwd").read_bytes()
    _failure_case(project, env, expected, label=f"base layer: {name}")
    assert Path("/etc/passwd").read_bytes() == outside


def test_overlay_step_installs_packages_and_deletes_base_files(tmp_path, base_env):
    project = tmp_path / "project"
    write_project(
        project,
        """
        name: overlay-check
        version: "1"
        summary: The overlay step on a real base
        description: overlay-packages installs hello; overlay-script deletes a base file.
        base: debian@12
        platforms:
          amd64:
        entrypoint-command: /usr/bin/hello
        parts:
          ov:
            plugin: nil
            overlay-packages: [hello]
            overlay-script: |
              craftctl default
              rm -f "$CRAFT_OVERLAY/etc/issue.net"
    """,
    )
    result = pack(project, base_env)
    assert result.returncode == 0, result.stderr
    rock = project / "overlay-check_1_amd64.rock"
    validate_rock(rock)
    names = layer_names(rock, 1)
    assert "etc/.wh.issue.net" in names and "usr/bin/hello" in names
    with layer_tar(rock, 1) as tar:
        leaked = [(m.name, k) for m in tar for k in m.pax_headers if "overlay" in k]
    assert leaked == []
    bundle = umoci_unpack(rock, tmp_path / "u")
    assert not (bundle / "rootfs/etc/issue.net").exists()
    assert (bundle / "rootfs/etc/issue").exists()
    run = runc_run(bundle)
    assert (run.returncode, run.stdout) == (0, "Hello, world!\n"), run.stderr


@pytest.fixture
def hanging_registry():
    """A server that accepts connections and never answers."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    server.close()


def test_registry_that_hangs_times_out(project, base_env, hanging_registry):
    import time

    env = {
        **base_env,
        "ROCKPACK_REGISTRY_MIRROR": hanging_registry,
        "ROCKPACK_REGISTRY_TIMEOUT": "1",
    }
    started = time.monotonic()
    _failure_case(project, env, "timed out (after 1s)", label="registry that hangs")
    assert time.monotonic() - started < 30


def test_manifest_pointing_at_a_missing_blob(project, base_env, debian_base, registry, tmp_path):
    layout = tmp_path / "layout"
    oci_image_from_rootfs(debian_base.rootfs_tar, layout, "m")
    digest = push(layout, "m", registry, "broken/missing-blob")
    manifest = json.loads((layout / "blobs/sha256" / digest[7:]).read_text())
    layer = manifest["layers"][0]["digest"][7:]
    link = Path(
        registry.log.parent,
        "data/docker/registry/v2/repositories/broken/missing-blob",
        "_layers/sha256",
        layer,
    )
    import shutil

    shutil.rmtree(link)  # the repository no longer links the layer: the registry answers 404
    config = tmp_path / "config/rockpack"
    config.mkdir(parents=True)
    (config / "bases.yaml").write_text(f"debian@12: {registry.host}/broken/missing-blob:m\n")
    env = {**base_env, "ROCKPACK_REGISTRY_MIRROR": "", "XDG_CONFIG_HOME": str(tmp_path / "config")}
    _failure_case(
        project,
        env,
        "not found in the registry",
        f"blobs/sha256:{layer}",
        label="manifest pointing at a missing blob",
    )


def test_zz_hostile_summary():
    """The group's summary line (runs last in this module)."""
    tried, clean = HOSTILE["tried"], HOSTILE["rejected cleanly"]
    report_summary(
        f"hostile inputs: {len(tried)} tried, {len(clean)} rejected cleanly: " + "; ".join(clean)
    )
    assert len(clean) == len(tried)
