"""Conformance cases with layers by part: each tree primed by two parts, and the rules
every one of the rock's own layers must keep, read straight from its tar."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

from rockpack.oci.rock_archive import open_blob, read_rock

ORIGIN = "io.rockpack.layer.origin"
_SAFE = re.compile(r"^[A-Za-z0-9._-]+$")


def split_names(tree: Path) -> list[str]:
    """Paths the second part stages: every other name at the first level with two or more
    (descending through a lone directory), so hardlink groups and parents span parts."""
    level = tree
    while True:
        children = sorted(level.iterdir(), key=lambda p: os.fsencode(p.name))
        if len(children) == 1 and children[0].is_dir() and not children[0].is_symlink():
            level = children[0]
            continue
        break
    names = [child.name for child in children]
    safe = [name for name in names if _SAFE.match(name)]
    prefix = level.relative_to(tree).as_posix()
    return [f"{prefix}/{name}" if prefix != "." else name for name in safe[1::2]]


def parts_yaml(tree: Path) -> str:
    """The 'parts:' body (indented by two) for two dump parts sharing ``tree``'s files."""
    second = split_names(tree)
    if not second:
        return "  tree:\n    plugin: dump\n    source: tree\n"
    excluded = json.dumps(["*", *(f"-{name}" for name in second)])
    return (
        f"  tree:\n    plugin: dump\n    source: tree\n    stage: {excluded}\n"
        f"  more:\n    plugin: dump\n    source: tree\n    stage: {json.dumps(second)}\n"
    )


@dataclass(frozen=True)
class OwnLayer:
    origin: str
    members: list[tarfile.TarInfo]


def own_layers(rock: Path) -> list[OwnLayer]:
    """The rock's own layers (those rockpack annotated), metadata excluded, bottom first."""
    image = read_rock(rock)
    layers = []
    for blob in image.layers:
        origin = dict(blob.annotations).get(ORIGIN)
        if origin is None or origin == "metadata":
            continue
        with open_blob(image, blob) as stream:
            data = gzip.decompress(stream.read())
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            layers.append(OwnLayer(origin, tar.getmembers()))
    return layers


def _kind(member: tarfile.TarInfo) -> str:
    if member.isreg():
        return "file"
    if member.islnk():
        return "hardlink"
    return "dir" if member.isdir() else "other"


def layer_types(rock: Path) -> dict[str, str]:
    """Path -> 'file', 'hardlink', 'dir' or 'other' across the rock's own layers."""
    return {m.name.rstrip("/"): _kind(m) for layer in own_layers(rock) for m in layer.members}


def path_origins(rock: Path) -> dict[str, str]:
    """Path -> the origin of the layer holding it (directories: the last layer)."""
    return {m.name.rstrip("/"): layer.origin for layer in own_layers(rock) for m in layer.members}


def layer_rule_problems(rock: Path) -> list[str]:
    """What breaks the layer rules: hardlinks to a path not earlier in the same layer, a
    path twice in a layer or in two layers (directories aside, which must be identical),
    unattributed files, parents after children."""
    problems = []
    directories: dict[str, tuple] = {}
    owner: dict[str, str] = {}
    for layer in own_layers(rock):
        if layer.origin == "unattributed":
            problems.append(f"files no part claims: {[m.name for m in layer.members][:5]}")
        seen: dict[str, tarfile.TarInfo] = {}
        names = {m.name.rstrip("/") for m in layer.members}
        for member in layer.members:
            name = member.name.rstrip("/")
            parent = name.rpartition("/")[0]
            if parent in names and parent not in seen:
                problems.append(f"{name}: before its parent in layer {layer.origin}")
            if name in seen:
                problems.append(f"{name}: twice in layer {layer.origin}")
            if member.islnk() and (
                member.linkname not in seen or not seen[member.linkname].isreg()
            ):
                problems.append(f"{name}: hardlink to {member.linkname}, not earlier in its layer")
            if member.isdir():
                facts = (member.mode, member.uid, member.gid, member.mtime, member.pax_headers)
                if directories.setdefault(name, facts) != facts:
                    problems.append(f"{name}: a directory with two metadata")
            elif name in owner:
                problems.append(f"{name}: in layers {owner[name]} and {layer.origin}")
            else:
                owner[name] = layer.origin
            seen[name] = member
    return problems
