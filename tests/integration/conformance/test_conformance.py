"""Every rock unpacks to exactly the tree its parts primed, as three readers see it.

Each case's tree is primed by two parts (layers.py splits it), so the rock has a layer
per part and hardlink groups and parent directories span parts; every own layer is
also checked against the layer rules.

Bare cases: the expected tree is the source tree the part dumps, read on the host.
Base cases: each case states what the final tree must hold, and the three readers must
agree on every path. A table of cases x readers is printed at the end.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import report_summary, require_tool, run_rockpack, write_project
from tests.integration.conformance.layers import (
    layer_rule_problems,
    layer_types,
    parts_yaml,
    path_origins,
)
from tests.integration.conformance.readers import (
    Fact,
    Tree,
    build_lister,
    differences,
    host_tree,
    podman_tree,
    rockpack_tree,
    umoci_tree,
)
from tests.integration.conftest import oci_image_from_rootfs, push

pytestmark = pytest.mark.integration

READERS = ("rockpack", "umoci", "podman")
RESULTS: dict[str, dict[str, str]] = {}
NOT_PRIMED = (".rock",)  # the metadata layer: not part of what the parts primed


# -- source trees --------------------------------------------------------------------


def hardlinks(tree: Path) -> None:
    for d in ("a", "b", "x", "y", "z"):
        (tree / d).mkdir()
    (tree / "a/one").write_bytes(b"two names")
    os.link(tree / "a/one", tree / "b/two")
    (tree / "x/h1").write_bytes(b"three names")
    os.link(tree / "x/h1", tree / "y/h2")
    os.link(tree / "x/h1", tree / "z/h3")


def symlinks(tree: Path) -> None:
    (tree / "target").write_text("end of the chain")
    os.symlink("target", tree / "c1")
    os.symlink("c1", tree / "c2")
    os.symlink("c2", tree / "c3")
    os.symlink("nowhere/at/all", tree / "dangling")
    os.symlink("/etc/shadow", tree / "host-shadow")  # stored as a link, never followed
    (tree / "d").mkdir()
    os.symlink("../target", tree / "d/up")


def special_bits(tree: Path) -> None:
    for name, mode in (("suid", 0o4755), ("sgid", 0o2755), ("both", 0o6750)):
        (tree / name).write_text(name)
        (tree / name).chmod(mode)
    (tree / "tmp").mkdir()
    (tree / "tmp").chmod(0o1777)
    (tree / "shared").mkdir()
    (tree / "shared").chmod(0o2775)


def xattrs(tree: Path) -> None:
    require_tool("setcap")
    (tree / "server").write_bytes(b"\x7fELF pretend")
    (tree / "server").chmod(0o755)
    subprocess.run(["setcap", "cap_net_bind_service+ep", str(tree / "server")], check=True)
    (tree / "labelled").write_text("x")
    os.setxattr(tree / "labelled", "user.origin", b"conformance")
    os.setxattr(tree / "labelled", "user.binary", bytes(range(256)))


def directories(tree: Path) -> None:
    for path, mode, owner in (
        ("empty", 0o755, (0, 0)),
        ("private", 0o700, (1234, 5678)),
        ("group", 0o750, (0, 42)),
        ("readonly", 0o555, (0, 0)),
        ("nested/deeper/empty-too", 0o711, (7, 7)),
    ):
        (tree / path).mkdir(parents=True)
        (tree / path).chmod(mode)
        os.chown(tree / path, *owner)
    (tree / "owned-file").write_text("mine")
    os.chown(tree / "owned-file", 1000, 1000)


def names(tree: Path) -> None:
    long_dir = tree / ("d" * 120) / ("e" * 120)
    long_dir.mkdir(parents=True)
    (long_dir / ("f" * 200)).write_text("a path of more than 255 bytes")
    (tree / ("g" * 101)).write_text("a name of more than 100 bytes")
    (tree / os.fsdecode(b"caf\xe9-latin1")).write_text("not UTF-8")
    (tree / "spaces and\ttabs").write_text("odd")


def fifos_and_sparse(tree: Path) -> None:
    os.mkfifo(tree / "pipe", 0o600)
    with (tree / "sparse").open("wb") as handle:
        handle.seek(20 * 1024 * 1024)
        handle.write(b"end")


BARE_CASES: dict[str, Callable[[Path], None]] = {
    "hardlink groups of 2 and 3": hardlinks,
    "symlink chains, dangling, absolute": symlinks,
    "setuid, setgid, sticky, /tmp 1777": special_bits,
    "capability and other xattrs": xattrs,
    "empty dirs, modes and owners": directories,
    "long and non-UTF-8 names": names,
    "FIFO and sparse file": fifos_and_sparse,
}

BARE_PROJECT = """
    name: conformance
    version: "1"
    summary: conformance case
    description: One conformance case.
    base: bare
    build-base: debian@12
    platforms:
      amd64:
    entrypoint-command: /nothing
    parts:
"""


# -- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("probe")
    build_lister(directory)
    return directory


@pytest.fixture(scope="module")
def podman_env(tmp_path_factory) -> dict[str, str]:
    work = tmp_path_factory.mktemp("podman")
    (work / "containers.conf").write_text(
        '[containers]\nnetns = "none"\n'
        'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n'
        '[engine]\nruntime = "runc"\n'
    )
    (work / "storage.conf").write_text(
        f'[storage]\ndriver = "vfs"\nrunroot = "{work}/run"\ngraphroot = "{work}/graph"\n'
    )
    return {
        "CONTAINERS_CONF": str(work / "containers.conf"),
        "CONTAINERS_STORAGE_CONF": str(work / "storage.conf"),
    }


def read_all(rock: Path, work: Path, probe: Path, podman_env: dict[str, str]) -> dict[str, Tree]:
    return {
        "rockpack": rockpack_tree(rock, work / "rockpack").without(NOT_PRIMED),
        "umoci": umoci_tree(rock, work / "umoci").without(NOT_PRIMED),
        "podman": podman_tree(rock, probe, podman_env).without(NOT_PRIMED),
    }


def record(case: str, problems: dict[str, list[str]]) -> None:
    RESULTS[case] = {reader: "ok" if not problems[reader] else "FAIL" for reader in READERS}


# -- bare cases ------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(BARE_CASES))
def test_bare_case(case, tmp_path, probe, podman_env):
    project = tmp_path / "project"
    (project / "tree").mkdir(parents=True)
    BARE_CASES[case](project / "tree")
    write_project(project, textwrap.dedent(BARE_PROJECT) + parts_yaml(project / "tree"))
    expected = host_tree(project / "tree")
    result = run_rockpack("pack", "--destructive-mode", "--project-dir", project)
    assert result.returncode == 0, result.stderr
    rock = project / "conformance_1_amd64.rock"
    trees = read_all(rock, tmp_path / "read", probe, podman_env)
    problems = {r: differences(expected, trees[r], runtime=r == "podman") for r in READERS}
    record(case, problems)
    assert problems == {reader: [] for reader in READERS}, problems
    assert layer_rule_problems(rock) == []


# -- base cases --------------------------------------------------------------------------


@dataclass
class BaseCase:
    layers: list[list[tuple[str, str, object]]]  # per layer: (name, kind, content/target)
    tree: Callable[[Path], None]
    expect: dict[str, Callable[[Fact | None], bool]]
    groups: list[set[str]] = field(default_factory=list)
    extra_parts: str = ""
    layer: dict[str, str | None] = field(default_factory=dict)  # path -> tar type, or absent
    origin: dict[str, str] = field(default_factory=dict)  # path -> the layer's origin


def _layer_tar(path: Path, members: list[tuple[str, str, object]]) -> None:
    with tarfile.open(path, "w") as tar:
        for name, kind, value in members:
            info = tarfile.TarInfo(name)
            data = None
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif kind == "file":
                data = value if isinstance(value, bytes) else str(value).encode()
                info.size, info.mode = len(data), 0o644
            elif kind == "link":
                info.type, info.linkname, info.mode = tarfile.LNKTYPE, str(value), 0o644
            elif kind == "symlink":
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, str(value), 0o777
            tar.addfile(info, io.BytesIO(data) if data is not None else None)


def _file(content: bytes, mode: int = 0o644) -> Callable[[Fact | None], bool]:
    import hashlib

    digest = "sha256:" + hashlib.sha256(content).hexdigest()
    return lambda f: f is not None and f.kind == "f" and f.digest == digest and f.mode == mode


def _is(kind: str, link: str = "") -> Callable[[Fact | None], bool]:
    return lambda f: f is not None and f.kind == kind and (not link or f.link == link)


def _absent(f: Fact | None) -> bool:
    return f is None


def _tree_pruned_leader(tree: Path) -> None:
    (tree / "usr/share").mkdir(parents=True)
    (tree / "opt").mkdir()
    (tree / "usr/share/data").write_bytes(b"shared with the base")
    os.link(tree / "usr/share/data", tree / "opt/data2")


def _tree_marker(tree: Path) -> None:
    (tree / "opt").mkdir()
    (tree / "opt/marker").write_text("on top")
    (tree / "srv").mkdir()
    (tree / "srv/second").write_text("the second part's")


def _tree_replacements(tree: Path) -> None:
    (tree / "opt/cfg").mkdir(parents=True)
    (tree / "opt/cfg/inside").write_text("a directory where the base has a file")
    (tree / "opt/thing").write_text("a file where the base has a directory")


def _tree_usrmerge(tree: Path) -> None:
    (tree / "bin").mkdir()
    (tree / "lib/x86_64-linux-gnu").mkdir(parents=True)
    (tree / "bin/tool").write_text("#!/bin/sh\n")
    (tree / "bin/tool").chmod(0o755)
    (tree / "lib/x86_64-linux-gnu/libfoo.so").write_bytes(b"lib")


USRMERGE_BASE = [
    [
        ("usr", "dir", None),
        ("usr/bin", "dir", None),
        ("usr/lib", "dir", None),
        ("usr/lib/x86_64-linux-gnu", "dir", None),
        ("bin", "symlink", "usr/bin"),
        ("lib", "symlink", "usr/lib"),
        ("etc", "dir", None),
        ("etc/issue.net", "file", b"Debian\n"),
        ("etc/issue", "file", b"Debian\n"),
    ]
]

BASE_CASES: dict[str, BaseCase] = {
    "pruned hardlink leader": BaseCase(
        layers=[
            [
                ("usr", "dir", None),
                ("usr/share", "dir", None),
                ("usr/share/data", "file", b"shared with the base"),
                ("opt", "dir", None),
            ]
        ],
        tree=_tree_pruned_leader,
        expect={
            "usr/share/data": _file(b"shared with the base"),
            "opt/data2": _file(b"shared with the base"),
        },
        layer={"usr/share/data": None, "opt/data2": "file"},  # pruned; the other name leads
        origin={"opt/data2": "part:tree"},
    ),
    "kaniko #282: hardlink, then a symlink over a name": BaseCase(
        layers=[
            [
                ("usr", "dir", None),
                ("usr/a", "file", b"data"),
                ("usr/b", "link", "usr/a"),
                ("usr/c", "link", "usr/a"),
            ],
            [("usr/a", "symlink", "b")],
        ],
        tree=_tree_marker,
        expect={
            "usr/a": _is("l", "b"),
            "usr/b": _file(b"data"),
            "usr/c": _file(b"data"),
            "opt/marker": _file(b"on top"),
        },
        groups=[{"usr/b", "usr/c"}],
    ),
    "file replaces a base dir, dir replaces a base file": BaseCase(
        layers=[
            [
                ("opt", "dir", None),
                ("opt/thing", "dir", None),
                ("opt/thing/child", "file", b"hidden"),
                ("opt/cfg", "file", b"a file"),
            ]
        ],
        tree=_tree_replacements,
        expect={
            "opt/thing": _file(b"a file where the base has a directory"),
            "opt/thing/child": _absent,
            "opt/cfg": _is("d"),
            "opt/cfg/inside": _file(b"a directory where the base has a file"),
        },
    ),
    "usrmerge: bin and lib follow the base's symlinks": BaseCase(
        layers=USRMERGE_BASE,
        tree=_tree_usrmerge,
        expect={
            "bin": _is("l", "usr/bin"),
            "lib": _is("l", "usr/lib"),
            "usr/bin/tool": _file(b"#!/bin/sh\n", 0o755),
            "usr/lib/x86_64-linux-gnu/libfoo.so": _file(b"lib"),
        },
    ),
    "overlay deletions become whiteouts": BaseCase(
        layers=[
            [
                ("etc", "dir", None),
                ("etc/issue.net", "file", b"net\n"),
                ("etc/issue", "file", b"issue\n"),
                ("etc/gone", "dir", None),
                ("etc/gone/inside", "file", b"x"),
            ]
        ],
        tree=_tree_marker,
        expect={
            "etc/issue.net": _absent,
            "etc/issue": _file(b"issue\n"),
            "etc/gone": _absent,
            "etc/gone/inside": _absent,
            "opt/marker": _file(b"on top"),
        },
        extra_parts="""
          delete:
            plugin: nil
            overlay-script: |
              rm -rf "$CRAFT_OVERLAY/etc/issue.net" "$CRAFT_OVERLAY/etc/gone"
        """,
        origin={
            "etc/.wh.issue.net": "part:delete",  # the part that made the deletion
            "etc/.wh.gone": "part:delete",
            "srv/second": "part:more",
        },
    ),
}

BASE_PROJECT = BARE_PROJECT.replace("base: bare\n    build-base: debian@12", "base: debian@12")


@pytest.mark.parametrize("case", list(BASE_CASES))
def test_base_case(case, tmp_path, probe, podman_env, registry, base_env):
    spec = BASE_CASES[case]
    layout = tmp_path / "base-layout"
    for number, members in enumerate(spec.layers):
        tar = tmp_path / f"base-{number}.tar"
        _layer_tar(tar, members)
        if number == 0:
            oci_image_from_rootfs(tar, layout, "1")
        else:
            subprocess.run(
                ["umoci", "raw", "add-layer", "--image", f"{layout}:1", str(tar)], check=True
            )
    repository = f"conformance/{abs(hash(case)) % 10**8}"
    push(layout, "1", registry, repository)
    config = tmp_path / "config/rockpack"
    config.mkdir(parents=True)
    (config / "bases.yaml").write_text(f"debian@12: {registry.host}/{repository}:1\n")
    env = {**base_env, "ROCKPACK_REGISTRY_MIRROR": "", "XDG_CONFIG_HOME": str(tmp_path / "config")}
    project = tmp_path / "project"
    (project / "tree").mkdir(parents=True)
    spec.tree(project / "tree")
    text = textwrap.dedent(BASE_PROJECT) + parts_yaml(project / "tree")
    text += textwrap.indent(textwrap.dedent(spec.extra_parts), "  ")
    write_project(project, text)
    result = run_rockpack("pack", "--destructive-mode", "--project-dir", project, env=env)
    assert result.returncode == 0, result.stderr
    trees = read_all(project / "conformance_1_amd64.rock", tmp_path / "read", probe, podman_env)
    problems: dict[str, list[str]] = {}
    for reader, tree in trees.items():
        wrong = [
            f"{path!r}: {tree.facts.get(path)}"
            for path, check in spec.expect.items()
            if not check(tree.facts.get(path))
        ]
        missing = [g for g in spec.groups if frozenset(g) not in tree.groups]
        wrong += [f"paths {sorted(g)} should share an inode" for g in missing]
        if reader != "rockpack":
            wrong += differences(trees["rockpack"], tree, runtime=reader == "podman")
        problems[reader] = wrong
    record(case, problems)
    assert problems == {reader: [] for reader in READERS}, problems
    rock = project / "conformance_1_amd64.rock"
    assert layer_rule_problems(rock) == []
    in_layer = layer_types(rock)
    for path, kind in spec.layer.items():
        assert in_layer.get(path) == kind, (path, in_layer.get(path))
    origins = path_origins(rock)
    for path, origin in spec.origin.items():
        assert origins.get(path) == origin, (path, origins.get(path))


def test_zz_print_the_table():
    """Cases x readers, and the summary line (runs last in this module)."""
    width = max((len(c) for c in RESULTS), default=10)
    table = ["case".ljust(width) + "  " + "  ".join(r.ljust(8) for r in READERS)]
    for case, row in RESULTS.items():
        table.append(case.ljust(width) + "  " + "  ".join(row[r].ljust(8) for r in READERS))
    passed = {r: sum(row[r] == "ok" for row in RESULTS.values()) for r in READERS}
    table.append("conformance: " + ", ".join(f"{r} {passed[r]}/{len(RESULTS)}" for r in READERS))
    report_summary("\n".join(table))
