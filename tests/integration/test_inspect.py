"""rockpack inspect: layers, their origins, wasted bytes and pruning, against skopeo."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import textwrap
from pathlib import Path

import pytest

from rockpack.oci.rock_archive import read_rock
from tests.conftest import report_summary, require_tool, run_rockpack, write_project
from tests.integration.conftest import oci_image_from_rootfs, push
from tests.integration.oci_tools import layer_tar, rock_config, validate_rock

pytestmark = pytest.mark.integration

EPOCH = "1700000000"
REPORT: dict[str, str] = {}

# The base: a config the rock overwrites, a file it primes again with another mode (same
# bytes: duplicated), one its overlay step deletes, and one it primes identically (pruned).
BASE_FILES = {
    "opt/config": b"c" * 4096,
    "opt/same": b"s" * 2048,
    "opt/gone": b"g" * 1000,
    "opt/pruned": b"p" * 3000,
}

PROJECT = """
    name: wasteful
    version: "1"
    summary: Overwrites, duplicates and removes files of its base
    description: For rockpack inspect.
    base: debian@12
    platforms:
      amd64:
    entrypoint-command: /nothing
    parts:
      tree:
        plugin: dump
        source: tree
      delete:
        plugin: nil
        overlay-script: |
          rm -f "$CRAFT_OVERLAY/opt/gone"
"""


def base_layer(path: Path) -> None:
    with tarfile.open(path, "w") as tar:
        directory = tarfile.TarInfo("opt")
        directory.type, directory.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(directory)
        for name, content in BASE_FILES.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(content), 0o644
            tar.addfile(info, io.BytesIO(content))


@pytest.fixture(scope="module")
def wasteful_rock(tmp_path_factory, registry) -> Path:
    work = tmp_path_factory.mktemp("inspect")
    base_layer(work / "base.tar")
    oci_image_from_rootfs(work / "base.tar", work / "layout", "1")
    push(work / "layout", "1", registry, "inspect/base")
    (work / "config/rockpack").mkdir(parents=True)
    (work / "config/rockpack/bases.yaml").write_text(f"debian@12: {registry.host}/inspect/base:1\n")
    project = work / "project"
    write_project(project, textwrap.dedent(PROJECT))
    tree = project / "tree/opt"
    tree.mkdir(parents=True)
    (tree / "config").write_bytes(b"the rock's own config\n")
    (tree / "same").write_bytes(BASE_FILES["opt/same"])
    (tree / "same").chmod(0o600)
    (tree / "pruned").write_bytes(BASE_FILES["opt/pruned"])
    (tree / "pruned").chmod(0o644)
    tree.chmod(0o755)
    env = {
        "SOURCE_DATE_EPOCH": EPOCH,
        "ROCKPACK_REGISTRY_MIRROR": "",
        "XDG_CONFIG_HOME": str(work / "config"),
        "XDG_CACHE_HOME": str(work / "cache"),
    }
    result = run_rockpack("pack", "--destructive-mode", "--project-dir", project, env=env)
    assert result.returncode == 0, result.stderr[-4000:]
    rock = project / "wasteful_1_amd64.rock"
    validate_rock(rock)
    return rock


def inspect_json(rock: Path) -> dict:
    result = run_rockpack("inspect", "--format", "json", rock)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_files_a_later_layer_hides_are_wasted_bytes(wasteful_rock):
    report = inspect_json(wasteful_rock)
    wasted = {
        w["path"]: (w["how"], w["size"], w["layer"], w["hidden_by"]) for w in report["wasted"]
    }
    origins = [layer["origin"] for layer in report["layers"]]
    assert [o for o in origins if o != "attestations"] == [
        "base",
        "part:tree",
        "part:delete",
        "metadata",
    ]
    assert wasted == {
        "opt/config": ("overwritten", 4096, 1, 2),
        "opt/same": ("duplicated", 2048, 1, 2),  # same bytes, another mode
        "opt/gone": ("removed", 1000, 1, 3),  # the whiteout is the delete part's
    }
    assert report["wasted_bytes"] == 4096 + 2048 + 1000
    assert [layer["wasted_bytes"] for layer in report["layers"]] == [7144] + [0] * (
        len(origins) - 1
    )
    text = run_rockpack("inspect", wasteful_rock).stdout
    assert "wasted    7.1 kB in 3 files" in text
    assert "4.1 kB  opt/config  (layer 1, overwritten by layer 2)" in text
    REPORT["wasted"] = "7144 B in 3 files, as placed"


def test_pruning_against_the_base_is_recorded_and_shown(wasteful_rock):
    report = inspect_json(wasteful_rock)
    assert report["pruned"]["files"] == 1 and report["pruned"]["bytes"] == 3000
    assert report["pruned"]["directories"] >= 1  # opt
    in_rock = {m.name for m in layer_tar(wasteful_rock, 1)}
    assert "opt/pruned" not in in_rock
    text = run_rockpack("inspect", wasteful_rock).stdout
    assert "pruned    1 file (3.0 kB) and 1 directory" in text


def test_layer_facts_agree_with_the_manifest_the_config_and_skopeo(wasteful_rock):
    report = inspect_json(wasteful_rock)
    image = read_rock(wasteful_rock)
    config = rock_config(wasteful_rock)
    layers = report["layers"]
    assert [la["digest"] for la in layers] == [blob.digest for blob in image.layers]
    assert [la["compressed_size"] for la in layers] == [blob.size for blob in image.layers]
    assert [la["diff_id"] for la in layers] == config["rootfs"]["diff_ids"]
    for number, layer in enumerate(layers):
        tar = layer_tar(wasteful_rock, number)
        members = [m for m in tar if m.isreg() and not m.name.rpartition("/")[2].startswith(".wh.")]
        assert layer["size"] == sum(m.size for m in members)
        assert layer["files"] == len(members)
    skopeo = require_tool("skopeo")

    def skopeo_json(*flags: str) -> dict:
        command = [skopeo, "inspect", *flags, f"oci-archive:{wasteful_rock}"]
        return json.loads(subprocess.run(command, capture_output=True, check=True).stdout)

    seen = skopeo_json("--raw")["layers"]  # the manifest, as skopeo reads it
    assert [(d["digest"], d["size"]) for d in seen] == [
        (la["digest"], la["compressed_size"]) for la in layers
    ]
    origins = [d.get("annotations", {}).get("io.rockpack.layer.origin", "base") for d in seen]
    assert origins == [la["origin"] for la in layers]
    seen_config = skopeo_json("--config")
    assert seen_config["rootfs"]["diff_ids"] == [la["diff_id"] for la in layers]
    brief = report["config"]
    assert (brief["architecture"], brief["os"], brief["entrypoint"]) == (
        "amd64",
        "linux",
        ["/nothing"],
    )
    history = [la["history"] for la in layers]
    assert history[1:3] == ["part: tree", "part: delete"] and history[-1] == "rock metadata"
    REPORT["facts"] = "layers agree with the manifest, config and skopeo"


def test_generated_files_show_as_generated(tmp_path):
    project = tmp_path / "project"
    write_project(
        project,
        """
        name: generated
        version: "1"
        summary: A run-user's accounts
        description: Generated files have a layer of their own.
        base: bare
        build-base: debian@12
        platforms:
          amd64:
        run-user: _daemon_
        entrypoint-command: /app
        parts:
          app:
            plugin: dump
            source: app
        """,
    )
    (project / "app").mkdir()
    (project / "app/app").write_text("#!/bin/sh\n")
    result = run_rockpack(
        "pack", "--destructive-mode", "--project-dir", project, env={"SOURCE_DATE_EPOCH": EPOCH}
    )
    assert result.returncode == 0, result.stderr[-4000:]
    rock = project / "generated_1_amd64.rock"
    text = run_rockpack("inspect", rock).stdout
    rows = [line.split()[:3] for line in text.splitlines() if line.startswith("  ")]
    assert ["1", "part:", "app"] in rows and ["2", "generated:", "accounts"] in rows
    assert "user 584792:584792" in text
    assert "wasted    0 B" in text
    REPORT["generated"] = "accounts in a layer of their own"


def test_what_is_not_a_rock_is_one_message(tmp_path):
    junk = tmp_path / "junk.rock"
    junk.write_bytes(b"not a tar at all")
    result = run_rockpack("inspect", junk)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "junk.rock" in result.stderr
    missing = run_rockpack("inspect", tmp_path / "missing.rock")
    assert missing.returncode == 1 and "is not a file" in missing.stderr


def test_zz_report():
    report_summary(f"inspect: {len(REPORT)} checks: " + "; ".join(REPORT.values()))
