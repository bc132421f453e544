"""Place primed entries on a base: follow its symlinks (usrmerge), drop what it has.

A directory entry where the base has a symlink (``bin -> usr/bin``) would replace the
symlink and break every binary in the image, so primed paths are rewritten through
the base's symlinks and such directory entries are not emitted. Entries the base
already has, identical in type, mode, owner, content and xattrs, are dropped.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

from rockpack.base.index import OPAQUE, WHITEOUT_PREFIX, BaseFile, BaseIndex
from rockpack.errors import LayerError
from rockpack.layer.content_digests import content_digest
from rockpack.layer.scan import elect_hardlink_leaders
from rockpack.oci.entries import Entry, Kind, sort_entries

_MAX_LINKS = 40  # as the kernel's limit on symlinks followed in one lookup


@dataclass(frozen=True)
class Placement:
    """The entries for the layer, and what placing them on the base saved."""

    entries: list[Entry]
    pruned_files: int = 0
    pruned_bytes: int = 0
    pruned_dirs: int = 0
    redirected: int = 0


def resolve(path: str, index: BaseIndex, *, follow_last: bool = False) -> str:
    """``path`` with every symlink of the base in its parents followed, component-wise.

    Targets may be relative or absolute (absolute means from the image's root); '..'
    stops at the root, as in the container.
    """
    result: list[str] = []
    pending = deque(p for p in path.split("/") if p not in ("", "."))
    followed = 0
    while pending:
        part = pending.popleft()
        if part == "..":
            if result:
                result.pop()
            continue
        candidate = "/".join([*result, part])
        found = index.get(candidate)
        if found is not None and found.kind == Kind.SYMLINK.value and (pending or follow_last):
            followed += 1
            if followed > _MAX_LINKS:
                raise LayerError(
                    f"The base's symlinks loop while resolving {path!r}.",
                    resolution="Use another base image; this one has a symlink loop.",
                )
            if found.link.startswith("/"):
                result = []
            pending.extendleft(reversed([p for p in found.link.split("/") if p not in ("", ".")]))
            continue
        result.append(part)
    return "/".join(result)


def place_on_base(
    entries: list[Entry], index: BaseIndex, digest: Callable[[Entry], str] = content_digest
) -> Placement:
    """Rewrite ``entries`` (sorted) through the base's symlinks and prune what it has.

    ``digest`` gives a file entry's content digest (a cache may stand in for reading).
    """
    placed: dict[str, Entry] = {}
    origin: dict[str, str] = {}
    pruned_files = pruned_bytes = pruned_dirs = redirected = 0
    for entry in entries:
        parent, _, name = entry.path.rpartition("/")
        if name.startswith(WHITEOUT_PREFIX):
            whiteout = _placed_whiteout(entry, parent, name, index)
            if whiteout is not None:
                placed[whiteout.path] = whiteout
                origin[whiteout.path] = entry.path
            continue
        final = resolve(entry.path, index)
        base = index.get(final)
        if entry.kind == Kind.DIR and base is not None and base.kind == Kind.SYMLINK.value:
            # Its contents are redirected through the link; the directory itself is not
            # emitted, unless the link dangles and the directory must exist.
            target = resolve(entry.path, index, follow_last=True)
            if target in index or target in placed:
                redirected += 1
                continue
            final, base = target, None
        if final != entry.path:
            redirected += 1
        if final in placed:
            if _same_entry(placed[final], entry, digest):
                continue
            raise LayerError(
                f"The primed paths {origin[final]!r} and {entry.path!r} both land on "
                f"{final!r} in the base, with different contents or metadata.",
                details="The base's symlinks (usrmerge) make both names the same file.",
                resolution="Keep only one of them in the parts (prime filters or organize).",
            )
        if base is not None and _matches_base(entry, base, digest):
            if entry.kind == Kind.DIR:
                pruned_dirs += 1
            else:
                pruned_files += 1
                pruned_bytes += entry.size
            continue
        placed[final] = replace(entry, path=final)
        origin[final] = entry.path
    kept = elect_hardlink_leaders(sort_entries(list(placed.values())))
    return Placement(kept, pruned_files, pruned_bytes, pruned_dirs, redirected)


def _placed_whiteout(entry: Entry, parent: str, name: str, index: BaseIndex) -> Entry | None:
    """An overlay deletion, where the base has something to hide; else nothing."""
    directory = resolve(parent, index, follow_last=True) if parent else ""
    if name == OPAQUE:
        present = directory == "" or index.get(directory, None) is not None
    else:
        hidden = f"{directory}/{name[len(WHITEOUT_PREFIX) :]}" if directory else name[4:]
        present = hidden in index
    if not present:
        return None
    path = f"{directory}/{name}" if directory else name
    return replace(
        entry,
        path=path,
        kind=Kind.FILE,
        mode=0o644,
        uid=0,
        gid=0,
        size=0,
        content=b"",
        source=None,
        inode=None,
        xattrs=(),
    )


def _kind_name(entry: Entry) -> str:
    return Kind.FILE.value if entry.kind == Kind.HARDLINK else entry.kind.value


def _matches_base(entry: Entry, base: BaseFile, digest: Callable[[Entry], str]) -> bool:
    """Same type, mode, owner, xattrs and content; cheap fields first, hashing last."""
    if (
        _kind_name(entry) != base.kind
        or entry.mode != base.mode
        or (entry.uid, entry.gid) != (base.uid, base.gid)
        or tuple((k, v.hex()) for k, v in entry.xattrs) != tuple(base.xattrs)
    ):
        return False
    if entry.kind == Kind.SYMLINK:
        return entry.link_target == base.link
    if entry.kind in (Kind.CHAR, Kind.BLOCK):
        return entry.device == tuple(base.device)
    if entry.kind in (Kind.FILE, Kind.HARDLINK):
        return entry.size == base.size and digest(entry) == base.digest
    return True


def _same_entry(a: Entry, b: Entry, digest: Callable[[Entry], str]) -> bool:
    if (_kind_name(a), a.mode, a.uid, a.gid, a.xattrs) != (
        _kind_name(b),
        b.mode,
        b.uid,
        b.gid,
        b.xattrs,
    ):
        return False
    if a.kind == Kind.SYMLINK:
        return a.link_target == b.link_target
    if a.kind in (Kind.FILE, Kind.HARDLINK):
        return a.size == b.size and digest(a) == digest(b)
    return a.device == b.device
