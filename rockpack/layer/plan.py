"""The layer plan: which placed entries go in which of the rock's own layers.

Rules (docs/layers.md):

- a layer per origin (each part, the Pebble layer file, the accounts), in layer order;
- every name of one inode in one layer, the layer of the first origin among its names,
  with the data stored once and the other names hardlinks to an earlier path in it;
- each layer holds the directory entries of its paths' parents that were placed, the
  very same entries in every layer that needs them (so a directory never carries two
  different metadata), and none where the base has a symlink (placing removed those);
- over the budget, the largest ``budget - 1`` layers are kept and the rest merged into
  one, in layer order; sizes tie by layer order, so the choice is deterministic.

A layer's entries depend only on the files of its origin and their parents, so a part
that did not change gives the same bytes, whatever the other parts did.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rockpack.base.index import BaseIndex
from rockpack.layer.origins import (
    GENERATED,
    UNATTRIBUTED,
    entry_origins,
    generated_origin,
    origin_order,
    part_order,
    part_origin,
    placed_origins,
    prime_origins,
)
from rockpack.layer.place import Placement
from rockpack.layer.scan import elect_hardlink_leaders
from rockpack.oci.entries import Entry, Kind, sort_entries
from rockpack.oci.inspect_rock import ORIGIN_ANNOTATION, PRUNED_ANNOTATIONS
from rockpack.project.layering import Layering

_BLOCK = 512


@dataclass(frozen=True)
class LayerGroup:
    """One layer of the rock's own: what it holds, and its entries in layer order."""

    origins: tuple[str, ...]  # 'part:NAME', 'generated:...', 'unattributed'
    entries: list[Entry]

    @property
    def size(self) -> int:
        """The tar's size, near enough to rank layers: headers and padded contents."""
        total = 0
        for entry in self.entries:
            total += _BLOCK
            if entry.kind == Kind.FILE:
                total += -(-entry.size // _BLOCK) * _BLOCK
        return total

    @property
    def annotations(self) -> tuple[tuple[str, str], ...]:
        """The layer descriptor's annotations: its origins, for ``rockpack inspect``."""
        return ((ORIGIN_ANNOTATION, ",".join(self.origins)),)

    @property
    def comment(self) -> str:
        """The layer's history comment: 'part: app', 'parts: deps, app', ..."""
        parts = [o.partition(":")[2] for o in self.origins if o.startswith("part:")]
        made = [o.partition(":")[2] for o in self.origins if o.startswith("generated:")]
        pieces = []
        if parts:
            pieces.append(("part: " if len(parts) == 1 else "parts: ") + ", ".join(parts))
        if made:
            pieces.append("generated: " + ", ".join(made))
        if UNATTRIBUTED in self.origins:
            pieces.append("files no part's prime state lists")
        return "; ".join(pieces)


@dataclass(frozen=True)
class LayerPlan:
    """The rock's own layers of files, and what placing them on the base saved."""

    groups: list[LayerGroup]
    strategy: str
    budget: int
    pruned_files: int = 0
    pruned_bytes: int = 0
    pruned_dirs: int = 0
    comments: list[str] = field(default_factory=list)  # one per group, for the history

    @property
    def annotations(self) -> dict[str, str]:
        """Manifest annotations recording what pruning against the base saved."""
        files, size, dirs = PRUNED_ANNOTATIONS
        return {
            files: str(self.pruned_files),
            size: str(self.pruned_bytes),
            dirs: str(self.pruned_dirs),
        }


@dataclass(frozen=True)
class LayerSources:
    """What the split needs besides the placed entries: where each entry came from."""

    entries: list[Entry]  # primed and generated entries, merged, before placing
    generated: list[Entry]
    primed_by_part: Mapping[str, frozenset[str]]  # from the lifecycle
    parts: Mapping[str, Mapping[str, Any]]  # the project's parts, for their order
    index: BaseIndex  # the base's files ({} for a bare base)


def split_into_layers(placement: Placement, layering: Layering, sources: LayerSources) -> LayerPlan:
    """The layer plan for ``layering``: a layer per part (to a budget), or one layer."""
    order = part_order(sources.parts, sources.primed_by_part)
    if layering.strategy == "single":
        made = {generated_origin(entry.path) for entry in sources.generated}
        origins = (*(part_origin(name) for name in order), *(o for o in GENERATED if o in made))
        comment = "parts: " + ", ".join(sorted(sources.parts))  # as before layers by part
        group = LayerGroup(origins, placement.entries)
        return _plan([group], placement, "single", 1, [comment])  # even empty, as before
    by_prime_path = prime_origins(sources.primed_by_part, order)
    origins_of = entry_origins(sources.entries, sources.generated, by_prime_path)
    distinct = set(origins_of.values())
    if len(distinct) == 1:  # one origin (one part): nothing to follow through the base
        final = dict.fromkeys((entry.path for entry in placement.entries), distinct.pop())
    else:
        final = placed_origins(sources.entries, origins_of, sources.index, origin_order(order))
    return plan_layers(placement, final, origin_order(order), layering.effective_budget)


def plan_layers(
    placement: Placement, origins: Mapping[str, str], order: Sequence[str], budget: int
) -> LayerPlan:
    """Split placed entries by origin (``origins``: final path -> origin) into layers."""
    rank = {origin: number for number, origin in enumerate(order)}
    assigned = _assign(placement.entries, origins, rank)
    if len(assigned) == 1:  # one origin: the entries as placed (parents all there)
        (origin,) = assigned
        only = LayerGroup((origin,), placement.entries)
        return _plan([only], placement, "part", budget, [only.comment])
    directories = {e.path: e for e in placement.entries if e.kind == Kind.DIR}
    groups: list[LayerGroup] = []
    for origin in sorted(assigned, key=lambda o: rank.get(o, len(rank))):
        own = assigned[origin]
        entries = _with_parents(own, directories)
        if origin == UNATTRIBUTED:
            entries = _without_covered_dirs(entries, groups)
        if entries:
            groups.append(LayerGroup((origin,), entries))
    groups = merge_to_budget(groups, budget)
    return _plan(groups, placement, "part", budget, [g.comment for g in groups])


def merge_to_budget(groups: list[LayerGroup], budget: int) -> list[LayerGroup]:
    """Keep the ``budget - 1`` largest layers; merge the others into one, in place order."""
    if len(groups) <= budget:
        return groups
    by_size = sorted(range(len(groups)), key=lambda n: (-groups[n].size, n))
    kept = set(by_size[: budget - 1])
    merged_numbers = [n for n in range(len(groups)) if n not in kept]
    merged = _merge([groups[n] for n in merged_numbers])
    result = []
    for number, group in enumerate(groups):
        if number in kept:
            result.append(group)
        elif number == merged_numbers[0]:
            result.append(merged)
    return result


def _assign(
    entries: list[Entry], origins: Mapping[str, str], rank: Mapping[str, int]
) -> dict[str, list[Entry]]:
    """Entries by origin; every name of an inode goes with the first origin among them."""
    origin_of = {e.path: origins.get(e.path, UNATTRIBUTED) for e in entries}
    inode_origin: dict[tuple[int, int], str] = {}
    for entry in entries:
        if entry.inode is not None and entry.kind in (Kind.FILE, Kind.HARDLINK):
            origin = origin_of[entry.path]
            known = inode_origin.get(entry.inode)
            if known is None or rank.get(origin, len(rank)) < rank.get(known, len(rank)):
                inode_origin[entry.inode] = origin
    assigned: dict[str, list[Entry]] = {}
    for entry in entries:
        origin = origin_of[entry.path]
        if entry.inode is not None and entry.kind in (Kind.FILE, Kind.HARDLINK):
            origin = inode_origin[entry.inode]
        assigned.setdefault(origin, []).append(entry)
    return assigned


def _with_parents(own: list[Entry], directories: Mapping[str, Entry]) -> list[Entry]:
    """``own`` and the placed directory entries of their parents, sorted, leaders elected."""
    by_path = {entry.path: entry for entry in own}
    for entry in own:
        parent = entry.path.rpartition("/")[0]
        while parent and parent not in by_path:
            directory = directories.get(parent)
            if directory is not None:
                by_path[parent] = directory
            parent = parent.rpartition("/")[0]
    return elect_hardlink_leaders(sort_entries(list(by_path.values())))


def _without_covered_dirs(entries: list[Entry], groups: list[LayerGroup]) -> list[Entry]:
    """No layer for unattributed directories only, that other layers already hold."""
    covered = {e.path for group in groups for e in group.entries if e.kind == Kind.DIR}
    if all(e.kind == Kind.DIR and e.path in covered for e in entries):
        return []
    return entries


def _merge(groups: list[LayerGroup]) -> LayerGroup:
    by_path: dict[str, Entry] = {}
    for group in groups:
        for entry in group.entries:
            by_path.setdefault(entry.path, entry)
    origins = tuple(o for group in groups for o in group.origins)
    return LayerGroup(origins, elect_hardlink_leaders(sort_entries(list(by_path.values()))))


def _plan(
    groups: list[LayerGroup],
    placement: Placement,
    strategy: str,
    budget: int,
    comments: list[str],
) -> LayerPlan:
    return LayerPlan(
        groups=groups,
        strategy=strategy,
        budget=budget,
        pruned_files=placement.pruned_files,
        pruned_bytes=placement.pruned_bytes,
        pruned_dirs=placement.pruned_dirs,
        comments=comments,
    )
