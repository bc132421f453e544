"""Layers by part with real tools: one changed part, one changed layer; the budget; one
layer as before; hardlinks across parts; the same bytes from two directories."""

from __future__ import annotations

import os
import random
import textwrap
from pathlib import Path

import pytest

from rockpack.layer.scan import ScanOptions, default_owner_map, scan_tree
from rockpack.oci.blobs import BlobStore
from rockpack.oci.layer import write_layer
from rockpack.oci.rock_archive import read_rock
from rockpack.publish import push
from tests.conftest import report_summary, run_rockpack, write_project
from tests.integration.conformance.layers import layer_rule_problems, own_layers
from tests.integration.oci_tools import (
    inode_groups,
    rock_config,
    runc_run,
    tree_facts,
    umoci_unpack,
    validate_rock,
)

pytestmark = pytest.mark.integration

EPOCH = "1700000000"
ORIGIN = "io.rockpack.layer.origin"
REPORT: dict[str, str] = {}

PROJECT = """
    name: layered
    version: "1"
    summary: Layers by part
    description: A big dependency part, an app, its config and its docs.
    base: bare
    build-base: debian@12
    platforms:
      amd64:
    entrypoint-command: /opt/app/run
    parts:
      deps:
        plugin: dump
        source: deps
      app:
        plugin: dump
        source: app
        after: [deps]
      config:
        plugin: dump
        source: config
      docs:
        plugin: dump
        source: docs
"""


def make_sources(project: Path, deps_mb: int = 4) -> None:
    """deps: incompressible libraries; app and config share a hardlinked file."""
    libs = project / "deps/opt/deps"
    libs.mkdir(parents=True)
    for number in range(deps_mb):
        (libs / f"lib{number}.so").write_bytes(random.Random(number).randbytes(1 << 20))
    (project / "app/opt/app").mkdir(parents=True)
    (project / "app/opt/app/run").write_text("#!/bin/sh\necho version 1\n")
    (project / "app/opt/app/run").chmod(0o755)
    (project / "config/etc/layered").mkdir(parents=True)
    (project / "docs/usr/share/doc/layered").mkdir(parents=True)
    (project / "docs/usr/share/doc/layered/README").write_text("docs\n")
    # One inode, two names, primed by two parts: app's opt/app/shared, config's etc copy.
    shared = project / "shared.conf"
    shared.write_text("setting = 1\n")
    os.link(shared, project / "app/opt/app/shared.conf")
    os.link(shared, project / "config/etc/layered/shared.conf")


def new_project(directory: Path, text: str = PROJECT, deps_mb: int = 4) -> Path:
    write_project(directory, text)
    make_sources(directory, deps_mb)
    for path in [directory, *directory.rglob("*")]:  # as a checkout of one commit would be
        os.utime(path, (1_600_000_000, 1_600_000_000), follow_symlinks=False)
    return directory


def pack(project: Path, *extra: str, epoch: str = EPOCH) -> Path:
    result = run_rockpack(
        "pack",
        "--destructive-mode",
        "--verbosity",
        "debug",
        "--project-dir",
        project,
        *extra,
        env={"SOURCE_DATE_EPOCH": epoch},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    rock = project / "layered_1_amd64.rock"
    validate_rock(rock)
    assert layer_rule_problems(rock) == []
    return rock


OURS = ("base", "part:", "generated:", "metadata")  # not, e.g., an attestations layer


def layers_by_origin(rock: Path) -> dict[str, str]:
    """origin annotation -> layer digest, for the base's, the parts' and rockpack's files."""
    found = {
        dict(layer.annotations).get(ORIGIN, "base"): layer.digest
        for layer in read_rock(rock).layers
    }
    return {origin: digest for origin, digest in found.items() if origin.startswith(OURS)}


def test_a_one_line_change_changes_one_layer_and_push_sends_only_it(tmp_path, registry):
    project = new_project(tmp_path / "project", deps_mb=8)
    first = pack(project)
    before = layers_by_origin(first)
    assert list(before) == ["part:deps", "part:app", "part:config", "part:docs", "metadata"]
    first_push = push(first, f"{registry.host}/layered/part:1")
    sent_before = {blob.digest for blob in read_rock(first).blobs}  # the next pack replaces it
    text = (project / "app/opt/app/run").read_text().replace("version 1", "version 2")
    (project / "app/opt/app/run").write_text(text)
    second = pack(project)
    after = layers_by_origin(second)
    changed = [origin for origin in before if before[origin] != after[origin]]
    assert changed == ["part:app"]
    second_push = push(second, f"{registry.host}/layered/part:2")
    new_blobs = [blob for blob in read_rock(second).blobs if blob.digest not in sent_before]
    assert after["part:app"] in [blob.digest for blob in new_blobs]
    assert second_push.uploaded_bytes == sum(blob.size for blob in new_blobs)
    assert second_push.uploaded_bytes < first_push.uploaded_bytes / 100
    REPORT["one-line change"] = (
        f"1 of {len(after)} layers changed, push {second_push.uploaded_bytes} B "
        f"after {first_push.uploaded_bytes} B"
    )


def test_an_unchanged_part_is_reused_from_the_layer_cache(tmp_path):
    project = new_project(tmp_path / "project")
    pack(project)
    (project / "docs/usr/share/doc/layered/README").write_text("docs, edited\n")
    result = run_rockpack(
        "pack", "--destructive-mode", "--verbosity", "debug", "--project-dir", project,
        env={"SOURCE_DATE_EPOCH": EPOCH},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    assert "(part: deps): unchanged, reused" in result.stderr
    assert "(part: docs): written" in result.stderr


def unpacked(rock: Path, work: Path) -> tuple[dict, set]:
    rootfs = umoci_unpack(rock, work) / "rootfs"
    facts = {p: f for p, f in tree_facts(rootfs).items() if not p.startswith(".rock")}
    return facts, inode_groups(rootfs)  # /.rock: what the rock says of itself (its layers)


def test_every_layering_unpacks_to_the_same_tree(tmp_path):
    trees = {}
    rocks = {}
    for label, flag in (("part", "part"), ("budget 2", "2"), ("single", "single")):
        project = new_project(tmp_path / label.replace(" ", "-"))
        rocks[label] = pack(project, "--layers", flag)
        trees[label] = unpacked(rocks[label], tmp_path / f"unpack-{flag}")
    assert trees["part"] == trees["budget 2"] == trees["single"]
    facts, groups = trees["part"]
    assert frozenset({"opt/app/shared.conf", "etc/layered/shared.conf"}) in groups
    assert facts["opt/app/run"].mode == 0o755
    origins = [list(layers_by_origin(rock)) for rock in rocks.values()]
    assert origins[1] == ["part:deps", "part:app,part:config,part:docs", "metadata"]
    assert origins[2] == ["part:deps,part:app,part:config,part:docs", "metadata"]
    history = [item.get("comment") for item in rock_config(rocks["budget 2"])["history"]]
    assert history[:2] == ["part: deps", "parts: app, config, docs"]
    assert history[-1] == "rock metadata"
    REPORT["layerings"] = "part, budget 2 and single unpack alike"


def test_the_hardlink_group_across_two_parts_is_in_one_layer(tmp_path):
    rock = pack(new_project(tmp_path / "project"))
    holders = {
        layer.origin: [m.name for m in layer.members if m.name.endswith("shared.conf")]
        for layer in own_layers(rock)
    }
    assert holders["part:app"] == ["etc/layered/shared.conf", "opt/app/shared.conf"]
    assert holders["part:config"] == []  # app comes first: the group is app's


def test_one_layer_is_the_layer_rockpack_made_before(tmp_path):
    text = PROJECT.replace("    parts:\n", "    layering:\n      strategy: single\n    parts:\n")
    project = new_project(tmp_path / "project", text)
    rock = pack(project)
    layers = read_rock(rock).layers
    assert list(layers_by_origin(rock)) == ["part:deps,part:app,part:config,part:docs", "metadata"]
    # What rockpack wrote before layers by part: the whole prime dir, one layer.
    prime = project / ".rockpack/work/amd64/prime"
    options = ScanOptions(epoch=int(EPOCH), owner_map=default_owner_map())
    before = write_layer(scan_tree(prime, options), BlobStore(tmp_path / "store"))
    assert layers[0].digest == before.descriptor.digest
    config = rock_config(rock)
    assert config["rootfs"]["diff_ids"][0] == before.diff_id
    comments = [item["comment"] for item in config["history"]]
    assert (comments[0], comments[-1]) == ("parts: app, config, deps, docs", "rock metadata")
    flag_rock = pack(new_project(tmp_path / "flag"), "--layers", "1")
    assert read_rock(flag_rock).layers[0].digest == before.descriptor.digest
    REPORT["one layer"] = "byte-identical to the single layer"


def test_two_directories_give_the_same_bytes(tmp_path):
    """Without SOURCE_DATE_EPOCH: the project's own date stamps what the build made."""
    directories = [new_project(tmp_path / "first"), new_project(tmp_path / "elsewhere/second")]
    rocks = [pack(directory, epoch="") for directory in directories]
    assert rocks[0].read_bytes() == rocks[1].read_bytes()
    REPORT["two directories"] = "identical .rock bytes"


def test_a_bad_layering_key_names_the_line(tmp_path):
    text = PROJECT.replace("    parts:\n", "    layering:\n      strategy: per-part\n    parts:\n")
    project = new_project(tmp_path / "project", text)
    result = run_rockpack("pack", "--destructive-mode", "--project-dir", project)
    assert result.returncode != 0
    assert "layering.strategy" in result.stderr and "Traceback" not in result.stderr
    good = new_project(tmp_path / "good")
    result = run_rockpack("pack", "--destructive-mode", "--project-dir", good, "--layers", "x")
    assert result.returncode == 64 and "--layers 'x'" in result.stderr


ON_DEBIAN = """
    name: layered
    version: "1"
    summary: Layers by part on Debian
    description: Two parts, each with files under the base's usrmerge symlinks.
    base: debian@12
    platforms:
      amd64:
    entrypoint-command: /bin/sh [ -c "hello-tool && ls /lib/x86_64-linux-gnu/libfoo.so" ]
    parts:
      tool:
        plugin: dump
        source: tool
      lib:
        plugin: dump
        source: lib
"""


def test_layers_by_part_run_on_a_debian_base(tmp_path, base_env):
    project = tmp_path / "project"
    write_project(project, textwrap.dedent(ON_DEBIAN))
    (project / "tool/bin").mkdir(parents=True)
    (project / "tool/bin/hello-tool").write_text("#!/bin/sh\necho hello from a part\n")
    (project / "tool/bin/hello-tool").chmod(0o755)
    (project / "lib/lib/x86_64-linux-gnu").mkdir(parents=True)
    (project / "lib/lib/x86_64-linux-gnu/libfoo.so").write_bytes(b"\x7fELF not really")
    result = run_rockpack(
        "pack", "--destructive-mode", "--project-dir", project,
        env={**base_env, "SOURCE_DATE_EPOCH": EPOCH},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    rock = project / "layered_1_amd64.rock"
    validate_rock(rock)
    assert layer_rule_problems(rock) == []
    assert list(layers_by_origin(rock))[1:] == ["part:tool", "part:lib", "metadata"]
    names = {m.name.rstrip("/") for layer in own_layers(rock) for m in layer.members}
    assert {"bin", "lib", "usr", "usr/bin"}.isdisjoint(names)  # the base's, untouched
    run = runc_run(umoci_unpack(rock, tmp_path / "unpack"))
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("hello from a part\n")
    REPORT["on debian@12"] = "runs under runc"


def test_zz_report():
    report_summary(f"layers by part: {len(REPORT)} checks: " + "; ".join(REPORT.values()))
