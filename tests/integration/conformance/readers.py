"""Three independent ways to read the tree a rock holds, and the tree it should hold.

- rockpack: rockpack's own layer reader (``base_view.build_index``) over the rock's layers;
- umoci: ``umoci unpack`` to a directory, walked on the host;
- podman: containers/storage applies the layers; a static lister, bind-mounted into the
  container, walks the tree from inside it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from rockpack.base.index import build_index
from rockpack.oci.rock_archive import open_blob, read_rock
from tests.conftest import require_tool

LISTER_SOURCE = Path(__file__).with_name("lister.c")
# Paths a container runtime adds or mounts; compared only when the rock itself has them.
RUNTIME_PATHS = {
    "etc/hosts",
    "etc/hostname",
    "etc/resolv.conf",
    "etc/mtab",
    "run/.containerenv",
    "dev",
    "proc",
    "sys",
    "run",
    "etc",
    ".probe",
    "run/secrets",
}


@dataclass(frozen=True)
class Fact:
    kind: str  # f d l p c b
    mode: int
    uid: int
    gid: int
    size: int
    digest: str  # sha256 of a file's content
    link: str
    xattrs: tuple[tuple[str, str], ...]  # (name, hex value), sorted


@dataclass(frozen=True)
class Tree:
    facts: dict[str, Fact]
    groups: frozenset[frozenset[str]]  # paths sharing an inode (two or more)

    def without(self, prefixes: tuple[str, ...]) -> Tree:
        keep = {p: f for p, f in self.facts.items() if not p.startswith(prefixes)}
        groups = frozenset(g for g in self.groups if not any(p.startswith(prefixes) for p in g))
        return Tree(keep, groups)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


_KINDS = {0o100000: "f", 0o040000: "d", 0o120000: "l", 0o010000: "p", 0o020000: "c", 0o060000: "b"}


def host_tree(root: Path, *, ignore_xattrs: tuple[str, ...] = ("security.selinux",)) -> Tree:
    """Facts of a directory tree on this host (the expected tree, or umoci's unpacking)."""
    facts: dict[str, Fact] = {}
    inodes: dict[int, set[str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            rel = os.fsdecode(os.path.relpath(os.fsencode(path), os.fsencode(root)))
            st = path.lstat()
            kind = _KINDS[st.st_mode & 0o170000]
            xattrs = tuple(
                sorted(
                    (n, os.getxattr(path, n, follow_symlinks=False).hex())
                    for n in os.listxattr(path, follow_symlinks=False)
                    if not n.startswith(ignore_xattrs)
                )
            )
            facts[rel] = Fact(
                kind,
                st.st_mode & 0o7777,
                st.st_uid,
                st.st_gid,
                st.st_size if kind == "f" else 0,
                _sha256(path) if kind == "f" else "",
                os.readlink(path) if kind == "l" else "",
                xattrs,
            )
            if kind == "f":
                inodes.setdefault(st.st_ino, set()).add(rel)
    return Tree(facts, frozenset(frozenset(g) for g in inodes.values() if len(g) > 1))


def _rock_layers(rock: Path, work: Path) -> list[Path]:
    image = read_rock(rock)
    paths = []
    for number, layer in enumerate(image.layers):
        target = work / f"layer-{number}"
        with open_blob(image, layer) as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst)
        paths.append(target)
    return paths


def rockpack_tree(rock: Path, work: Path) -> Tree:
    """The tree as rockpack's own layer reader applies the rock's layers."""
    work.mkdir(parents=True, exist_ok=True)
    index = build_index(_rock_layers(rock, work))
    facts = {}
    inodes: dict[str, set[str]] = {}
    for path, entry in index.items():
        kind = {"file": "f", "dir": "d", "symlink": "l", "fifo": "p", "char": "c", "block": "b"}[
            entry.kind
        ]
        facts[path] = Fact(
            kind,
            entry.mode,
            entry.uid,
            entry.gid,
            entry.size,
            entry.digest,
            entry.link,
            tuple(sorted(entry.xattrs)),
        )
        if entry.inode:
            inodes.setdefault(entry.inode, set()).add(path)
    return Tree(facts, frozenset(frozenset(g) for g in inodes.values() if len(g) > 1))


def umoci_tree(rock: Path, work: Path) -> Tree:
    from tests.integration.oci_tools import umoci_unpack

    return host_tree(umoci_unpack(rock, work) / "rootfs")


def build_lister(directory: Path) -> Path:
    """The static lister, compiled for this test session."""
    gcc = require_tool("gcc")
    directory.mkdir(parents=True, exist_ok=True)
    binary = directory / "lister"
    subprocess.run([gcc, "-static", "-O2", "-o", str(binary), str(LISTER_SOURCE)], check=True)
    return binary


def podman_tree(rock: Path, probe_dir: Path, env: dict[str, str]) -> Tree:
    """The tree as podman assembles it, listed from inside a running container."""
    podman, skopeo = require_tool("podman"), require_tool("skopeo")
    name = f"localhost/conformance-{rock.stem.lower().replace('_', '-')}:1"
    full_env = {**os.environ, **env}
    subprocess.run(
        [skopeo, "copy", "-q", f"oci-archive:{rock}", f"containers-storage:{name}"],
        check=True,
        env=full_env,
    )
    result = subprocess.run(
        [
            podman,
            "run",
            "--rm",
            "--entrypoint",
            "/.probe/lister",
            "-v",
            f"{probe_dir}:/.probe:ro",
            name,
        ],
        capture_output=True,
        check=True,
        env=full_env,
    )
    subprocess.run([podman, "rmi", "-f", name], capture_output=True, env=full_env, check=False)
    facts: dict[str, Fact] = {}
    inodes: dict[str, set[str]] = {}
    for line in result.stdout.decode().splitlines():
        hex_path, kind, mode, uid, gid, size, ino, hex_link, digest, xattrs = line.split("\t")
        path = os.fsdecode(bytes.fromhex(hex_path))
        link = os.fsdecode(bytes.fromhex(hex_link)) if hex_link != "-" else ""
        pairs = tuple(sorted(tuple(x.split("=", 1)) for x in xattrs.split(",") if x != "-"))
        facts[path] = Fact(
            kind,
            int(mode, 8),
            int(uid),
            int(gid),
            int(size),
            digest if digest != "-" else "",
            link,
            pairs,
        )  # type: ignore[arg-type]
        if kind == "f":
            inodes.setdefault(ino, set()).add(path)
    return Tree(facts, frozenset(frozenset(g) for g in inodes.values() if len(g) > 1))


def differences(
    expected: Tree, actual: Tree, *, runtime: bool = False, limit: int = 8
) -> list[str]:
    """What ``actual`` gets wrong about ``expected`` (empty when they agree).

    With ``runtime``, paths a container runtime adds or mounts are left out on both sides.
    """
    if runtime:
        expected, actual = _without_runtime(expected), _without_runtime(actual)
    problems = []
    for path, fact in sorted(expected.facts.items()):
        got = actual.facts.get(path)
        if got != fact:
            problems.append(f"{path!r}: expected {fact}, got {got}")
    for path in sorted(set(actual.facts) - set(expected.facts)):
        problems.append(f"{path!r}: not expected, got {actual.facts[path]}")
    if expected.groups != actual.groups:
        problems.append(
            f"hardlink groups: expected {sorted(map(sorted, expected.groups))}, "
            f"got {sorted(map(sorted, actual.groups))}"
        )
    return problems[:limit]


def _without_runtime(tree: Tree) -> Tree:
    facts = {
        p: f
        for p, f in tree.facts.items()
        if p not in RUNTIME_PATHS
        and not p.startswith((".probe/", "proc/", "sys/", "dev/"))
        and p != ".probe"
    }
    groups = frozenset(g for g in tree.groups if all(p in facts for p in g))
    return Tree(facts, groups)
