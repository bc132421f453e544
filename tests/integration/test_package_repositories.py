"""package-repositories, applied with craft-archives as Rockcraft applies them.

A signed apt repository is built here (dpkg-deb, apt-ftparchive, gpg with a throwaway
GNUPGHOME) and served on 127.0.0.1; it has two packages no other archive has, one in a
suite and one in a flat (path) layout, declared by 127.0.0.1 and by localhost (craft-archives
keeps one sources file per url). Clean builds reach it through rockpack's forwarding of
this host's loopback; they share one project directory, hence one instance, restored
from its clean snapshot for each. Builds on this host run in a private mount namespace
with a copy of /etc/apt, so this machine's own apt sources never change.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import MINIMAL, report_summary, require_tool, run_rockpack, write_project
from tests.integration.conftest import free_port
from tests.integration.oci_tools import layer_tar

pytestmark = pytest.mark.integration

EPOCH = "1700000000"
SUITE_PACKAGE = "rockpack-test-suite"
FLAT_PACKAGE = "rockpack-test-flat"
TIMES: dict[str, float] = {}


@dataclass(frozen=True)
class LocalRepository:
    url: str
    signer: str  # fingerprint of the key that signs the repository
    other: str  # fingerprint of a key that signs nothing here
    armored: dict[str, bytes]  # fingerprint -> ASCII-armored public key


def _gpg(home: Path, *args: str) -> bytes:
    return subprocess.run(
        ["gpg", "--batch", "--homedir", str(home), *args], check=True, capture_output=True
    ).stdout


def _new_key(home: Path, uid: str) -> str:
    _gpg(home, "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never")
    listing = _gpg(home, "--with-colons", "--list-keys", uid).decode()
    return next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr"))


def _deb(work: Path, name: str, target: Path) -> None:
    tree = work / "debs" / name
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "DEBIAN/control").write_text(
        f"Package: {name}\nVersion: 1.0\nArchitecture: all\n"
        "Maintainer: rockpack tests <tests@example.invalid>\nDescription: test package\n"
    )
    (tree / "usr/share" / name).mkdir(parents=True)
    (tree / "usr/share" / name / "hello.txt").write_text(f"{name}\n")
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "--build", str(tree), str(target)],
        check=True,
        capture_output=True,
    )


def _ftparchive(cwd: Path, *args: str) -> bytes:
    return subprocess.run(
        ["apt-ftparchive", *args], cwd=cwd, check=True, capture_output=True
    ).stdout


def _build_repository(work: Path, home: Path, signer: str) -> Path:
    root = work / "repo"
    # A suite: dists/stable/main, the package in pool/.
    _deb(work, SUITE_PACKAGE, root / "pool" / f"{SUITE_PACKAGE}_1.0_all.deb")
    suite = root / "dists/stable"
    (suite / "main/binary-amd64").mkdir(parents=True)
    (suite / "main/binary-amd64/Packages").write_bytes(_ftparchive(root, "packages", "pool"))
    options = [f"APT::FTPArchive::Release::{k}" for k in ("Suite=stable", "Codename=stable")]
    options += ["APT::FTPArchive::Release::Components=main"]
    options += ["APT::FTPArchive::Release::Architectures=amd64"]
    release = _ftparchive(root, *(a for o in options for a in ("-o", o)), "release", "dists/stable")
    (suite / "Release").write_bytes(release)
    # A flat repository at flat/: package file names are relative to the URL.
    _deb(work, FLAT_PACKAGE, root / "flat" / f"{FLAT_PACKAGE}_1.0_all.deb")
    (root / "flat/Packages").write_bytes(_ftparchive(root, "packages", "flat"))
    (root / "flat/Release").write_bytes(_ftparchive(root / "flat", "release", "."))
    for directory in (suite, root / "flat"):
        signed, release = str(directory / "InRelease"), str(directory / "Release")
        _gpg(home, "--local-user", signer, "--clearsign", "-o", signed, release)
    return root


def _wait_for_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


@pytest.fixture(scope="module")
def repository(tmp_path_factory) -> Iterator[LocalRepository]:
    for tool in ("dpkg-deb", "apt-ftparchive", "gpg"):
        require_tool(tool)
    work = tmp_path_factory.mktemp("apt-repository")
    home = work / "gnupg"
    home.mkdir(mode=0o700)
    signer = _new_key(home, "Repository Signer <signer@example.invalid>")
    other = _new_key(home, "Someone Else <other@example.invalid>")
    root = _build_repository(work, home, signer)
    port = free_port()
    serve = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory"]
    with (work / "http.log").open("wb") as log:
        server = subprocess.Popen(
            [*serve, str(root), str(port)],
            stdout=log,
            stderr=log,
        )
    try:
        _wait_for_port(port)
        armored = {fpr: _gpg(home, "--export", "--armor", fpr) for fpr in (signer, other)}
        yield LocalRepository(f"http://127.0.0.1:{port}", signer, other, armored)
    finally:
        server.terminate()
        server.wait(timeout=30)


def write_repository_project(
    directory: Path,
    repository: LocalRepository,
    *,
    key_id: str,
    key_file: bytes | None,
    url: str | None = None,
    name: str = "repos",
) -> Path:
    url = url or repository.url
    flat_url = url.replace("127.0.0.1", "localhost")
    text = (
        MINIMAL.replace("name: hello", f"name: {name}")
        .replace(
            "plugin: nil",
            f"plugin: nil\n        stage-packages: [{SUITE_PACKAGE}, {FLAT_PACKAGE}]",
        )
        .replace(
            "    parts:\n",
            "    package-repositories:\n"
            f"      - type: apt\n        url: {url}\n        suites: [stable]\n"
            f"        components: [main]\n        key-id: {key_id}\n"
            f"      - type: apt\n        url: {flat_url}\n        path: /flat\n"
            f"        key-id: {key_id}\n"
            "    parts:\n",
        )
    )
    shutil.rmtree(directory / "keys", ignore_errors=True)
    for rock in directory.glob("*.rock"):
        rock.unlink()
    write_project(directory, text)
    if key_file is not None:
        (directory / "keys").mkdir()
        (directory / "keys" / f"{key_id[-8:]}.asc").write_bytes(key_file)
    return directory


@pytest.fixture(scope="module")
def clean_project(tmp_path_factory) -> Path:
    """One project directory for the clean builds here: one instance, warm after the first."""
    return tmp_path_factory.mktemp("clean") / "repos"


def pack(project: Path, env: dict[str, str], *extra: str):
    started = time.monotonic()
    result = run_rockpack(
        "pack", "--project-dir", project, *extra, env={**env, "SOURCE_DATE_EPOCH": EPOCH}
    )
    return result, time.monotonic() - started


def apt_config_files() -> set[str]:
    return {str(p) for d in ("sources.list.d", "keyrings") for p in Path("/etc/apt", d).glob("*")}


def test_a_clean_build_installs_packages_only_the_local_repository_has(
    lxd, repository, clean_project
):
    before = apt_config_files()
    project = write_repository_project(
        clean_project,
        repository,
        key_id=repository.signer,
        key_file=repository.armored[repository.signer],
    )
    result, TIMES["clean build with package-repositories"] = pack(project, lxd, "--use-lxd")
    assert result.returncode == 0, result.stderr[-4000:]
    with layer_tar(project / "repos_1.0_amd64.rock", 0) as tar:
        for package in (SUITE_PACKAGE, FLAT_PACKAGE):
            member = tar.extractfile(f"usr/share/{package}/hello.txt")
            assert member is not None and member.read() == f"{package}\n".encode()
    assert "Changed this host's apt configuration" not in result.stderr + result.stdout
    assert apt_config_files() == before  # only the instance's apt changed


def test_a_key_that_did_not_sign_the_repository_fails_with_the_signer(
    lxd, repository, clean_project
):
    project = write_repository_project(
        clean_project,
        repository,
        key_id=repository.other,
        key_file=repository.armored[repository.other],
    )
    result, TIMES["clean build, wrong key"] = pack(project, lxd, "--use-lxd")
    assert result.returncode != 0
    assert f"is not signed by key-id {repository.other}" in result.stderr
    assert f"is signed by key {repository.signer[-16:]}" in result.stderr
    assert f"keys/{repository.signer[-8:]}.asc" in result.stderr  # the fix names the file
    assert "Traceback" not in result.stderr
    assert not list(project.glob("*.rock"))


def test_a_missing_key_file_falls_back_to_the_unreachable_keyserver_and_names_the_file(
    lxd, repository, clean_project
):
    project = write_repository_project(
        clean_project, repository, key_id=repository.signer, key_file=None
    )
    result, TIMES["clean build, no key file"] = pack(project, lxd, "--use-lxd")
    assert result.returncode != 0
    expected = project / "keys" / f"{repository.signer[-8:]}.asc"  # the host's path
    assert "the keyserver keyserver.ubuntu.com cannot be reached" in result.stderr
    assert f"the project has no key file {expected}" in result.stderr
    assert f"Save the repository's ASCII-armored public key as {expected}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def private_apt(tmp_path) -> Path:
    """A copy of /etc/apt and the package lists, to bind over them in a mount namespace."""
    require_tool("unshare")
    if os.geteuid() != 0:
        pytest.skip("a private mount namespace needs root")
    copy = tmp_path / "apt-copy"
    shutil.copytree("/etc/apt", copy / "etc", symlinks=True)
    shutil.copytree("/var/lib/apt/lists", copy / "lists", symlinks=True)
    return copy


def pack_on_this_host(project: Path, copy: Path, *extra: str):
    """rockpack pack --destructive-mode with /etc/apt and the lists bound to the copy."""
    rockpack = [sys.executable, "-m", "rockpack", "pack", "--destructive-mode"]
    command = " ".join([*rockpack, *extra, "--project-dir", str(project)])
    script = (
        f"mount --bind {copy}/etc /etc/apt && mount --bind {copy}/lists /var/lib/apt/lists "
        f"&& exec {command}"
    )
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        env={**os.environ, "SOURCE_DATE_EPOCH": EPOCH},
        capture_output=True,
        text=True,
        check=False,
    )


def test_on_this_host_they_apply_only_when_asked_and_the_change_is_named(
    repository, tmp_path, private_apt
):
    project = write_repository_project(
        tmp_path / "p",
        repository,
        key_id=repository.signer,
        key_file=repository.armored[repository.signer],
    )
    refused = run_rockpack("pack", "--destructive-mode", "--project-dir", project)
    assert refused.returncode == 2
    assert "applying them on this host would change its apt sources" in refused.stderr
    assert "--apply-package-repositories" in refused.stderr
    assert "ROCKPACK_APPLY_PACKAGE_REPOSITORIES=1" in refused.stderr

    started = time.monotonic()
    applied = pack_on_this_host(project, private_apt, "--apply-package-repositories")
    TIMES["host build with package-repositories"] = time.monotonic() - started
    assert applied.returncode == 0, applied.stderr[-4000:]
    key = f"/etc/apt/keyrings/craft-{repository.signer[-8:]}.gpg"
    sources = "/etc/apt/sources.list.d/craft-http_127_0_0_1_"
    shown = applied.stderr + applied.stdout
    assert "Changed this host's apt configuration for the package-repositories" in shown
    assert key in shown and sources in shown
    assert (private_apt / "etc/keyrings" / Path(key).name).is_file()  # in the copy only
    assert not Path(key).exists()
    with layer_tar(project / "repos_1.0_amd64.rock", 0) as tar:
        assert tar.getmember(f"usr/share/{FLAT_PACKAGE}/hello.txt").isfile()


def test_an_unreachable_repository_is_named_and_this_host_is_left_unchanged(
    repository, tmp_path, private_apt
):
    closed = f"http://127.0.0.1:{free_port()}"
    project = write_repository_project(
        tmp_path / "p",
        repository,
        key_id=repository.signer,
        key_file=repository.armored[repository.signer],
        url=closed,
    )
    before = sorted((private_apt / "etc").rglob("*"))
    result = pack_on_this_host(project, private_apt, "--apply-package-repositories")
    assert result.returncode != 0
    assert f"package-repositories[0] ({closed}): the repository cannot be reached" in result.stderr
    assert f"apt could not download {closed}/dists/stable/InRelease" in result.stderr
    assert sorted((private_apt / "etc").rglob("*")) == before  # checked before applied
    report_summary("package-repositories: " + ", ".join(f"{k} {v:.1f}s" for k, v in TIMES.items()))
