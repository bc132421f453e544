"""Limits on what reading one project file may cost, checked before anything is built.

A YAML file can ask for far more than its size: aliases that refer to aliases expand
exponentially ("billion laughs"), an anchor can contain an alias to itself, and deep
nesting exhausts Python's stack (or, in libyaml's composer, the C stack). So the event
stream, which the parser produces without recursion, is scanned first: it gives the
nesting depth and the number of nodes the document has once every alias is expanded,
and each is refused past its bound before the document is composed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from rockpack.errors import ProjectFileError

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 250_000

# libyaml's parser when PyYAML was built with it: the same events, ten times faster.
Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class _Frame:
    """An open mapping or sequence: its anchor, the node count at its start, its depth."""

    anchor: str | None
    start: int
    depth: int = 0  # levels below this node, once aliases are expanded


@dataclass
class _Scan:
    path: Path
    nodes: int = 0
    stack: list[_Frame] = field(default_factory=list)
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)  # anchor -> (nodes, depth)
    open_anchors: set[str] = field(default_factory=set)

    def add(self, count: int, depth: int, line: int) -> None:
        self.nodes += count
        if self.nodes > MAX_NODES:
            raise bound_error(
                self.path,
                f"has more than {MAX_NODES} values once its aliases are expanded "
                f"(the limit is {MAX_NODES})",
                line,
                "Write the values out, or use fewer aliases ('*name').",
            )
        if len(self.stack) + depth > MAX_DEPTH:
            raise bound_error(
                self.path,
                f"nests mappings and lists more than {MAX_DEPTH} levels deep "
                f"(the limit is {MAX_DEPTH})",
                line,
                "Flatten the structure; a project file needs only a few levels.",
            )
        if self.stack:
            self.stack[-1].depth = max(self.stack[-1].depth, depth)


def bound_error(path: Path, problem: str, line: int | None, fix: str) -> ProjectFileError:
    return ProjectFileError(path, f"{problem}.", line=line, fix=fix)


def check_bounds(path: Path, text: str) -> None:
    """Refuse ``text`` if it is too large, too deep or expands too far; don't build it."""
    if len(text) > MAX_FILE_BYTES:
        raise too_large(path)
    scan = _Scan(path)
    for event in yaml.parse(text, Loader=Loader):
        line = event.start_mark.line + 1 if event.start_mark else 0
        if isinstance(event, yaml.ScalarEvent):
            scan.add(1, 1, line)
            if event.anchor:
                scan.sizes[event.anchor] = (1, 1)
        elif isinstance(event, yaml.CollectionStartEvent):
            scan.add(1, 1, line)
            scan.stack.append(_Frame(event.anchor, scan.nodes))
            if event.anchor:
                scan.open_anchors.add(event.anchor)
        elif isinstance(event, yaml.CollectionEndEvent):
            frame = scan.stack.pop()
            depth = frame.depth + 1
            if scan.stack:
                scan.stack[-1].depth = max(scan.stack[-1].depth, depth)
            if frame.anchor:
                scan.open_anchors.discard(frame.anchor)
                scan.sizes[frame.anchor] = (scan.nodes - frame.start + 1, depth)
        elif isinstance(event, yaml.AliasEvent):
            _alias(scan, event, line)


def _alias(scan: _Scan, event: yaml.AliasEvent, line: int) -> None:
    anchor = str(event.anchor)
    if anchor in scan.open_anchors:
        raise bound_error(
            scan.path,
            f"uses the alias '*{anchor}' inside the value it names, which would never end",
            line,
            f"Remove '*{anchor}' from inside '&{anchor}'.",
        )
    count, depth = scan.sizes.get(anchor, (1, 1))  # an unknown anchor: the composer says so
    scan.add(count, depth, line)


def too_large(path: Path) -> ProjectFileError:
    return bound_error(
        path,
        f"is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB (the limit for a project file)",
        None,
        "A project file describes parts and services; move large content into files "
        "the parts install.",
    )
