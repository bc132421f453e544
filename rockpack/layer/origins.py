"""Where each placed entry comes from: the part that primed it, or a generated file.

An origin is a short string: ``part:NAME``, ``generated:pebble-layer``,
``generated:accounts``, or ``unattributed`` (a primed path no part's prime state
lists, such as a file an override-prime script wrote). Origins are decided on the prime
paths, then carried to the paths ``place_on_base`` gives them, so the split into layers
happens after pruning and usrmerge redirection, on exactly the entries placed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rockpack.base.index import WHITEOUT_PREFIX, BaseIndex
from rockpack.layer.place import resolve
from rockpack.oci.entries import Entry, Kind

PEBBLE_LAYER = "generated:pebble-layer"
ACCOUNTS = "generated:accounts"
UNATTRIBUTED = "unattributed"
GENERATED = (PEBBLE_LAYER, ACCOUNTS)


def part_origin(name: str) -> str:
    return f"part:{name}"


def part_order(parts: Mapping[str, Mapping[str, Any]], primed: Iterable[str]) -> list[str]:
    """The parts in layer order, bottom first.

    Parts rockpack adds (the pebble part: in ``primed`` but not in ``parts``) come
    first, by name: they change least. Then the project's parts in the project file's
    order, except that a part comes after every part its ``after`` names.
    """
    injected = sorted(set(primed) - set(parts))
    pending = list(parts)
    placed: list[str] = []
    while pending:
        ready = next(
            (
                name
                for name in pending
                if all(dep in placed or dep not in parts for dep in parts[name].get("after") or [])
            ),
            pending[0],  # a cycle: craft-parts refuses it before this runs
        )
        pending.remove(ready)
        placed.append(ready)
    return [*injected, *placed]


def origin_order(parts: Sequence[str]) -> list[str]:
    """Every origin in layer order: the parts', then the generated files', then the rest."""
    return [*(part_origin(name) for name in parts), *GENERATED, UNATTRIBUTED]


def prime_origins(
    primed_by_part: Mapping[str, Iterable[str]], parts: Sequence[str]
) -> dict[str, str]:
    """Prime path -> origin: a path several parts primed belongs to the first in order."""
    origins: dict[str, str] = {}
    for name in parts:
        for path in primed_by_part.get(name, ()):
            origins.setdefault(path, part_origin(name))
    return origins


def generated_origin(path: str) -> str:
    """The Pebble layer file and its directories, or the run-user's account files."""
    return PEBBLE_LAYER if path == "var" or path.startswith("var/") else ACCOUNTS


def entry_origins(
    entries: list[Entry], generated: list[Entry], by_prime_path: Mapping[str, str]
) -> dict[str, str]:
    """Origin of each of ``entries`` (primed and generated, merged), by its prime path.

    A generated entry that ``merge_entries`` kept is generated; one it dropped (a plain
    directory the parts also have) leaves the path to the part.
    """
    made = {entry.path: entry for entry in generated}
    return {
        entry.path: generated_origin(entry.path)
        if made.get(entry.path) == entry
        else by_prime_path.get(entry.path, UNATTRIBUTED)
        for entry in entries
    }


def placed_origins(
    entries: list[Entry], origins: Mapping[str, str], index: BaseIndex, order: Sequence[str]
) -> dict[str, str]:
    """Final path -> origin, each prime path rewritten as ``place_on_base`` rewrites it.

    Two prime paths that land on one final path (identical, or placing fails) give it
    the origin that comes first in ``order``.
    """
    rank = {origin: number for number, origin in enumerate(order)}
    parents: dict[str, str] = {}
    placed: dict[str, str] = {}
    for entry in entries:
        final = placed_path(entry, index, parents)
        origin = origins.get(entry.path, UNATTRIBUTED)
        known = placed.get(final)
        if known is None or rank.get(origin, len(rank)) < rank.get(known, len(rank)):
            placed[final] = origin
    return placed


def placed_path(entry: Entry, index: BaseIndex, parents: dict[str, str] | None = None) -> str:
    """The path ``place_on_base`` gives ``entry``, through the base's symlinks.

    Every parent is followed, the last component is not (it is the entry itself): so
    the parent is resolved once per directory (``parents`` remembers it), not per file.
    """
    parent, _, name = entry.path.rpartition("/")
    directory = _resolved_parent(parent, index, {} if parents is None else parents)
    final = f"{directory}/{name}" if directory else name
    if entry.kind != Kind.DIR or name.startswith(WHITEOUT_PREFIX):
        return final
    found = index.get(final)
    if found is not None and found.kind == Kind.SYMLINK.value:
        return resolve(final, index, follow_last=True)  # a dangling link's target
    return final


def _resolved_parent(parent: str, index: BaseIndex, cache: dict[str, str]) -> str:
    if not parent:
        return ""
    resolved = cache.get(parent)
    if resolved is None:
        resolved = cache[parent] = resolve(parent, index, follow_last=True)
    return resolved
