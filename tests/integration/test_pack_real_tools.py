"""Pack real projects (real Debian packages) and judge the rocks with skopeo, umoci, runc."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile

import pytest

from tests.conftest import REPO, require_tool, run_rockpack, write_project
from tests.integration.oci_tools import (
    inode_groups,
    runc_run,
    skopeo_inspect,
    tree_facts,
    umoci_unpack,
    validate_rock,
)

pytestmark = pytest.mark.integration

EPOCH = "1700000000"


def pack(project_dir, *extra, env=None):
    result = run_rockpack(
        "pack", "--destructive-mode", "--project-dir", project_dir, *extra, env=env
    )
    assert result.returncode == 0, result.stderr
    return result


def test_example_is_a_valid_oci_image(example_rock):
    config = validate_rock(example_rock)
    assert config["config"]["Entrypoint"] == ["/bin/busybox"]
    assert config["config"]["Cmd"] == ["echo", "hello from a rock"]
    assert config["created"] == "2023-11-14T22:13:20Z"


def test_skopeo_inspects_the_example(example_rock):
    info = skopeo_inspect(example_rock)
    assert info["Architecture"] == "amd64" and info["Os"] == "linux"
    assert len(info["Layers"]) == 4  # a layer per part (busybox, site), attestations, metadata
    assert info["Labels"]["org.opencontainers.image.title"] == "Hello from busybox"
    assert "GREETING=hello" in info["Env"]


def test_example_runs_under_runc(example_rock, tmp_path):
    bundle = umoci_unpack(example_rock, tmp_path)
    rootfs = bundle / "rootfs"
    assert (rootfs / "bin/busybox").stat().st_mode & 0o777 == 0o755
    assert (rootfs / ".rock/metadata.yaml").is_file()
    assert not (rootfs / "usr/share/doc").exists()  # the part's prime filter held
    result = runc_run(bundle)
    assert (result.returncode, result.stdout) == (0, "hello from a rock\n"), result.stderr
    result = runc_run(bundle, ["/bin/busybox", "cat", "/srv/www/index.html"])
    assert "Served from a rock" in result.stdout


def test_metadata_survives_from_packages_and_tar_sources(tmp_path):
    require_tool("tar")
    tree = tmp_path / "tree"
    (tree / "opt/app/bin").mkdir(parents=True)
    (tree / "data/a").mkdir(parents=True)
    (tree / "data/b").mkdir()
    (tree / "srv").mkdir()
    (tree / "data/a/big").write_bytes(os.urandom(100_000))
    os.link(tree / "data/a/big", tree / "data/b/big2")
    os.link(tree / "data/a/big", tree / "opt/app/big3")
    (tree / "opt/app/bin/tool").write_text("#!/bin/sh\necho hi\n")
    os.chmod(tree / "opt/app/bin/tool", 0o4755)
    os.chown(tree / "srv", 1001, 1002)
    os.chmod(tree / "srv", 0o2770)
    os.chown(tree / "data/b", 33, 33)
    os.chmod(tree / "data/b", 0o700)
    with tarfile.open(tmp_path / "tree.tar", "w") as archive:
        archive.add(tree, arcname=".")
    project = tmp_path / "project"
    project.mkdir()
    shutil.move(tmp_path / "tree.tar", project / "tree.tar")
    write_project(
        project,
        """
        name: meta-check
        version: "0.1"
        summary: metadata survives
        description: Owners, modes and hardlinks from a tar, setuid from Debian packages.
        base: bare
        build-base: debian@12
        platforms:
          amd64:
        entrypoint-command: /usr/bin/passwd [ --help ]
        parts:
          pw:
            plugin: nil
            stage-packages: [passwd]
          tree:
            plugin: dump
            source: tree.tar
    """,
    )
    pack(project)
    rootfs = umoci_unpack(project / "meta-check_0.1_amd64.rock", tmp_path / "u") / "rootfs"
    facts = tree_facts(rootfs)
    assert facts["usr/bin/passwd"].mode == 0o4755
    assert (facts["usr/bin/chage"].mode, facts["usr/bin/chage"].gid) == (0o2755, 42)
    assert facts["opt/app/bin/tool"].mode == 0o4755
    assert (facts["srv"].mode, facts["srv"].uid, facts["srv"].gid) == (0o2770, 1001, 1002)
    assert (facts["data/b"].mode, facts["data/b"].uid) == (0o700, 33)
    assert frozenset({"data/a/big", "data/b/big2", "opt/app/big3"}) in inode_groups(rootfs)
    # What umoci unpacked is what the parts primed (except the metadata layer), but for
    # the setuid/setgid bits craft-parts stripped from stage-packages and rockpack restored.
    prime = tree_facts(project / ".rockpack/work/amd64/prime")
    unpacked = {path: fact for path, fact in facts.items() if not path.startswith(".rock")}
    assert set(unpacked) == set(prime)
    restored = set()
    for path, fact in prime.items():
        if unpacked[path] != fact:
            assert unpacked[path].mode & ~0o6000 == fact.mode, path
            assert unpacked[path].mode & 0o6000 and not fact.mode & 0o6000, path
            restored.add(path)
    assert {"usr/bin/passwd", "usr/bin/chage", "sbin/unix_chkpwd"} <= restored


def test_hardlinked_data_is_stored_once(tmp_path):
    source = tmp_path / "project" / "files"
    source.mkdir(parents=True)
    (source / "one").write_bytes(os.urandom(5 * 1024 * 1024))
    os.link(source / "one", source / "two")
    write_project(
        tmp_path / "project",
        """
        name: hardlinks
        version: "1"
        summary: two names, one file
        description: Two hardlinked 5 MB files.
        base: bare
        build-base: debian@12
        platforms:
          amd64:
        entrypoint-command: /one
        parts:
          files:
            plugin: dump
            source: files
    """,
    )
    pack(tmp_path / "project")
    rock = tmp_path / "project/hardlinks_1_amd64.rock"
    validate_rock(rock)
    assert rock.stat().st_size < 6 * 1024 * 1024
    rootfs = umoci_unpack(rock, tmp_path / "u") / "rootfs"
    assert (rootfs / "one").stat().st_ino == (rootfs / "two").stat().st_ino


def test_packs_in_two_directories_are_byte_identical(tmp_path):
    rocks = []
    for name in ("first", "second"):
        project = tmp_path / name
        shutil.copytree(REPO / "examples", project)
        pack(project, env={"SOURCE_DATE_EPOCH": EPOCH})
        rocks.append((project / "hello-busybox_1.0_amd64.rock").read_bytes())
    assert rocks[0] == rocks[1]


def test_second_pack_reuses_the_lifecycle(tmp_path):
    project = tmp_path / "p"
    shutil.copytree(REPO / "examples", project)
    pack(project)
    again = pack(project, "-v")
    assert "Pulling busybox" not in again.stderr
    assert "Packed" in again.stdout
    result = run_rockpack("clean", "--project-dir", project)
    assert result.returncode == 0
    assert not (project / ".rockpack/work").exists()


def test_shell_after_opens_a_shell_in_the_build_environment(tmp_path):
    require_tool("bash")
    project = tmp_path / "p"
    shutil.copytree(REPO / "examples", project)
    result = subprocess.run(
        [
            str(REPO / ".venv/bin/rockpack"),
            "prime",
            "--destructive-mode",
            "--shell-after",
            "--project-dir",
            str(project),
        ],
        input="test -x prime/bin/busybox && touch shell-was-here\nexit\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (project / ".rockpack/work/amd64/shell-was-here").exists()
