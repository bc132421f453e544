"""The layer plan: a layer per part, hardlinks never split, parents alike, the budget."""

from __future__ import annotations

import hashlib
import os

import pytest
import yaml
from craft_parts import ProjectDirs

from rockpack.base.index import BaseFile
from rockpack.build.lifecycle import primed_paths
from rockpack.errors import RockpackError
from rockpack.image.generated import merge_entries
from rockpack.layer.origins import (
    ACCOUNTS,
    PEBBLE_LAYER,
    UNATTRIBUTED,
    origin_order,
    part_order,
    placed_origins,
)
from rockpack.layer.place import Placement, place_on_base
from rockpack.layer.plan import (
    LayerGroup,
    LayerSources,
    merge_to_budget,
    plan_layers,
    split_into_layers,
)
from rockpack.layer.scan import scan_tree
from rockpack.oci.blobs import BlobStore
from rockpack.oci.entries import Entry, Kind
from rockpack.oci.layer import write_layer
from rockpack.project.layering import Layering, parse_layers_flag

PARTS = {"deps": {}, "app": {"after": ["deps"]}}


def base_dir():
    return BaseFile("dir", 0o755, 0, 0, 0, "", "", (), (0, 0))


def base_link(target):
    return BaseFile("symlink", 0o777, 0, 0, 0, "", target, (), (0, 0))


def base_file(content: bytes):
    digest = "sha256:" + hashlib.sha256(content).hexdigest()
    return BaseFile("file", 0o644, 0, 0, len(content), digest, "", (), (0, 0))


USRMERGE = {
    "usr": base_dir(),
    "usr/bin": base_dir(),
    "bin": base_link("usr/bin"),
    "etc": base_dir(),
    "etc/os-release": base_file(b"debian\n"),
}


def tree(root, files: dict[str, bytes], links: dict[str, str] | None = None) -> None:
    for path, content in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(content)
    for path, target in (links or {}).items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        os.link(root / target, root / path)
    for dirpath, _, _ in os.walk(root):
        os.utime(dirpath, (1000, 1000))
    for path in [*files, *(links or {})]:
        os.utime(root / path, (1000, 1000))


def split(root, primed, *, index=None, generated=(), layering=None, parts=PARTS):
    entries = merge_entries(scan_tree(root), list(generated))
    placement = place_on_base(entries, index) if index else Placement(entries)
    sources = LayerSources(entries, list(generated), primed, parts, index or {})
    return split_into_layers(placement, layering or Layering(), sources)


def paths(group: LayerGroup) -> list[str]:
    return [entry.path for entry in group.entries]


def by_origin(plan) -> dict[str, LayerGroup]:
    return {",".join(group.origins): group for group in plan.groups}


def digest_of(entries, tmp_path) -> str:
    return write_layer(entries, BlobStore(tmp_path / "store")).descriptor.digest


def test_a_layer_per_part_in_order_with_the_same_parent_entries(tmp_path):
    tree(tmp_path, {"usr/lib/dep.so": b"dep", "usr/bin/app": b"app"})
    primed = {
        "app": frozenset({"usr", "usr/bin", "usr/bin/app"}),
        "deps": frozenset({"usr", "usr/lib", "usr/lib/dep.so"}),
    }
    plan = split(tmp_path, primed)
    assert [g.origins for g in plan.groups] == [("part:deps",), ("part:app",)]
    deps, app = plan.groups
    assert paths(deps) == ["usr", "usr/lib", "usr/lib/dep.so"]
    assert paths(app) == ["usr", "usr/bin", "usr/bin/app"]  # its parent 'usr' too
    assert deps.entries[0] is app.entries[0]  # one directory, one metadata
    assert plan.comments == ["part: deps", "part: app"]


def test_hardlinks_that_span_two_parts_stay_in_the_first_parts_layer(tmp_path):
    tree(tmp_path, {"a/one": b"shared", "c/own": b"app"}, links={"b/two": "a/one"})
    primed = {
        "deps": frozenset({"a", "a/one"}),
        "app": frozenset({"b", "b/two", "c", "c/own"}),
    }
    deps, app = split(tmp_path, primed).groups
    kinds = {e.path: (e.kind, e.link_target) for e in deps.entries}
    assert kinds["a/one"] == (Kind.FILE, "")
    assert kinds["b/two"] == (Kind.HARDLINK, "a/one")  # an earlier path, same layer
    assert "b" in kinds  # the link's parent comes with it
    assert all(e.kind != Kind.HARDLINK for e in app.entries)
    assert "b/two" not in paths(app)


def test_a_pruned_leader_elects_another_name_in_the_same_layer(tmp_path):
    tree(tmp_path, {"etc/os-release": b"debian\n"}, links={"opt/copy": "etc/os-release"})
    primed = {"app": frozenset({"etc", "etc/os-release", "opt", "opt/copy"})}
    plan = split(tmp_path, primed, index=USRMERGE, parts={"app": {}})
    (group,) = plan.groups
    kinds = {e.path: e.kind for e in group.entries}
    assert "etc/os-release" not in kinds  # the base has it: pruned
    assert kinds["opt/copy"] == Kind.FILE  # so the other name holds the data
    assert plan.pruned_files == 1 and plan.pruned_bytes == len(b"debian\n")


def test_a_file_primed_by_two_parts_goes_to_the_first(tmp_path):
    tree(tmp_path, {"share/both": b"same", "share/app-only": b"app"})
    primed = {
        "app": frozenset({"share", "share/both", "share/app-only"}),
        "deps": frozenset({"share", "share/both"}),
    }
    groups = by_origin(split(tmp_path, primed))
    assert "share/both" in paths(groups["part:deps"])
    assert "share/both" not in paths(groups["part:app"])


def test_usrmerge_paths_keep_their_part_and_no_dir_replaces_a_base_symlink(tmp_path):
    tree(tmp_path, {"bin/tool": b"tool", "opt/x": b"x"})
    primed = {"deps": frozenset({"bin", "bin/tool"}), "app": frozenset({"opt", "opt/x"})}
    groups = by_origin(split(tmp_path, primed, index=USRMERGE))
    assert paths(groups["part:deps"]) == ["usr/bin/tool"]  # usr, usr/bin: the base's
    assert all(e.path != "bin" for g in groups.values() for e in g.entries)
    assert paths(groups["part:app"]) == ["opt", "opt/x"]


def test_placed_origins_cover_every_placed_path(tmp_path):
    tree(tmp_path, {"bin/a": b"a", "bin/sub/b": b"b", "etc/new": b"n", "opt/.wh.gone": b""})
    entries = scan_tree(tmp_path)
    origins = {e.path: "part:p" for e in entries}
    index = {**USRMERGE, "opt": base_dir(), "opt/gone": base_file(b"g")}
    final = placed_origins(entries, origins, index, ["part:p"])
    placed = place_on_base(entries, index).entries
    assert {e.path for e in placed} <= set(final)
    assert "usr/bin/sub/b" in final and "opt/.wh.gone" in final


def test_generated_files_have_their_own_layers(tmp_path):
    tree(tmp_path, {"etc/app.conf": b"conf"})
    generated = [
        Entry("etc", Kind.DIR, 0o755),  # the parts' etc wins: a plain parent
        Entry("etc/passwd", Kind.FILE, 0o644, size=4, content=b"root"),
        Entry("var", Kind.DIR, 0o755),
        Entry("var/lib/pebble/default/layers/001-x.yaml", Kind.FILE, 0o644, size=2, content=b"{}"),
    ]
    os.utime(tmp_path / "etc", (2000, 2000))  # so the primed etc differs from the generated
    primed = {"app": frozenset({"etc", "etc/app.conf"})}
    plan = split(tmp_path, primed, generated=generated, parts={"app": {}})
    groups = by_origin(plan)
    assert list(groups) == ["part:app", PEBBLE_LAYER, ACCOUNTS]
    assert paths(groups[ACCOUNTS]) == ["etc", "etc/passwd"]
    assert groups[ACCOUNTS].entries[0] is groups["part:app"].entries[0]
    assert "var" in paths(groups[PEBBLE_LAYER])


def test_files_no_part_lists_get_a_layer_but_bare_parents_do_not(tmp_path):
    tree(tmp_path, {"opt/app": b"a", "opt/extra": b"made by override-prime"})
    primed = {"app": frozenset({"opt/app"})}  # 'opt' itself is listed by no part
    groups = by_origin(split(tmp_path, primed, parts={"app": {}}))
    assert paths(groups["part:app"]) == ["opt", "opt/app"]
    assert paths(groups[UNATTRIBUTED]) == ["opt", "opt/extra"]
    plan = split(tmp_path / "opt", {"app": frozenset({"app", "extra"})}, parts={"app": {}})
    assert [g.origins for g in plan.groups] == [("part:app",)]


def test_an_unchanged_part_gives_the_same_layer_bytes(tmp_path):
    primed = {
        "deps": frozenset({"lib", "lib/dep.so"}),
        "app": frozenset({"bin", "bin/app"}),
    }
    layers = []
    for number, app in enumerate((b"version 1", b"version 2 is longer")):
        root = tmp_path / f"build{number}"
        tree(root, {"lib/dep.so": b"dependency", "bin/app": app})
        layers.append([digest_of(g.entries, tmp_path) for g in split(root, primed).groups])
    assert layers[0][0] == layers[1][0]  # deps: same bytes, from another directory too
    assert layers[0][1] != layers[1][1]


def group(name: str, size: int) -> LayerGroup:
    entry = Entry(f"{name}/file", Kind.FILE, 0o644, size=size, content=bytes(size))
    return LayerGroup((f"part:{name}",), [Entry(name, Kind.DIR, 0o755), entry])


def test_over_the_budget_the_smallest_layers_are_merged_in_place():
    groups = [group("a", 10), group("b", 5000), group("c", 10), group("d", 900)]
    merged = merge_to_budget(groups, 3)
    assert [g.origins for g in merged] == [("part:a", "part:c"), ("part:b",), ("part:d",)]
    assert [e.path for e in merged[0].entries] == ["a", "a/file", "c", "c/file"]
    assert merge_to_budget(groups, 4) == groups
    (one,) = merge_to_budget(groups, 1)
    assert one.origins == ("part:a", "part:b", "part:c", "part:d")


def test_equal_sizes_merge_by_layer_order():
    groups = [group("a", 100), group("b", 100), group("c", 100)]
    assert [g.origins for g in merge_to_budget(groups, 2)] == [("part:a",), ("part:b", "part:c")]


def test_one_layer_is_todays_layer_byte_for_byte(tmp_path):
    tree(tmp_path, {"a/one": b"1", "c/own": b"app"}, links={"b/two": "a/one"})
    primed = {"deps": frozenset({"a", "a/one"}), "app": frozenset({"b", "b/two", "c", "c/own"})}
    today = scan_tree(tmp_path)
    single = split(tmp_path, primed, layering=Layering(strategy="single"))
    assert [g.entries for g in single.groups] == [today]
    assert single.comments == ["parts: app, deps"]  # the history comment rockpack wrote
    budget_one = split(tmp_path, primed, layering=Layering(budget=1))
    assert digest_of(budget_one.groups[0].entries, tmp_path) == digest_of(today, tmp_path)


def test_the_plan_records_pruning_for_inspect(tmp_path):
    tree(tmp_path, {"etc/os-release": b"debian\n", "opt/x": b"x"})
    primed = {"app": frozenset({"etc", "etc/os-release", "opt", "opt/x"})}
    plan = split(tmp_path, primed, index=USRMERGE, parts={"app": {}})
    assert plan.annotations == {
        "io.rockpack.base.pruned-files": "1",
        "io.rockpack.base.pruned-bytes": "7",
        "io.rockpack.base.pruned-directories": "1",
    }
    assert plan.groups[0].annotations == (("io.rockpack.layer.origin", "part:app"),)


def test_part_order_follows_the_file_and_after():
    parts = {"app": {"after": ["lib"]}, "config": {}, "lib": {}}
    assert part_order(parts, ["pebble", "app", "config", "lib"]) == [
        "pebble",  # rockpack's own part first: it changes least
        "config",
        "lib",
        "app",
    ]
    assert origin_order(["a"]) == ["part:a", PEBBLE_LAYER, ACCOUNTS, UNATTRIBUTED]


def test_plan_layers_without_origins_puts_everything_in_one_unattributed_layer():
    entries = [Entry("x", Kind.FILE, 0o644, size=1, content=b"x")]
    plan = plan_layers(Placement(entries), {}, [], 4)
    assert [g.origins for g in plan.groups] == [(UNATTRIBUTED,)]


@pytest.mark.parametrize(
    ("flag", "strategy", "budget"),
    [("part", "part", 16), ("part:3", "part", 3), ("5", "part", 5), ("single", "single", 1)],
)
def test_the_layers_flag(flag, strategy, budget):
    layering = parse_layers_flag(flag)
    assert (layering.strategy, layering.effective_budget) == (strategy, budget)


@pytest.mark.parametrize("flag", ["parts", "part:0", "part:x", "single:4", "101", ""])
def test_a_bad_layers_flag_says_what_is_accepted(flag):
    with pytest.raises(RockpackError, match="is not a layering") as caught:
        parse_layers_flag(flag)
    assert "part:N" in (caught.value.resolution or "")


def test_single_takes_no_budget():
    with pytest.raises(ValueError, match="applies to strategy 'part'"):
        Layering.model_validate({"strategy": "single", "budget": 3})


def test_where_origins_come_from_craft_parts_prime_states(tmp_path):
    """The lifecycle reads each part's prime state; overlay files go to their part."""
    latin1 = os.fsdecode(b"caf\xe9")  # not UTF-8: craft-parts writes it as "\uDCE9"
    for name, files in (("deps", {"lib/dep.so", latin1}), ("app", {"bin/app"})):
        state = tmp_path / f"parts/{name}/state/prime"
        state.parent.mkdir(parents=True)
        state.write_text(yaml.safe_dump({"files": set(files), "directories": {"lib", "bin"}}))
    overlay = tmp_path / "overlay/prime_overlay"
    overlay.parent.mkdir(parents=True)
    overlay.write_text(yaml.safe_dump({"files": {"etc/.wh.issue"}, "directories": set()}))
    (tmp_path / "parts/app/layer/etc").mkdir(parents=True)
    os.mkfifo(tmp_path / "parts/app/layer/etc/issue")  # stands in for overlayfs' whiteout
    primed = primed_paths(ProjectDirs(work_dir=tmp_path), ["deps", "app", "pebble"])
    assert primed == {
        "deps": frozenset({"lib/dep.so", latin1, "lib", "bin"}),
        "app": frozenset({"bin/app", "lib", "bin", "etc/.wh.issue"}),
        "pebble": frozenset(),  # no state: nothing primed
    }
