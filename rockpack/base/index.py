"""An index of a base image's filesystem, without unpacking it.

Layers are applied oldest first (the order a runtime uses; the reverse breaks
hardlinks and whiteouts), honouring whiteouts, opaque directories and hardlinks.
The index is cached by the base's manifest digest. Files read out of the base (the
account files) are found as a container sees them: through the base's own symlinks,
after every whiteout, and never more than ``MAX_FILE_BYTES`` of one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rockpack.base.resolve import BaseImage
from rockpack.errors import LayerError
from rockpack.oci.blobs import BlobStore, Descriptor
from rockpack.oci.entries import Kind
from rockpack.oci.layer_reader import iter_layer
from rockpack.oci.tempfiles import locked_temp_file, sweep

WHITEOUT_PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"
MAX_FILE_BYTES = 16 * 1024 * 1024  # of one file read out of the base (etc/passwd...)
MAX_SYMLINKS = 40  # followed on one path, as Linux does
_INDEX_VERSION = 2


@dataclass(frozen=True)
class BaseFile:
    """What the base has at one path."""

    kind: str  # a Kind value; hardlinks are recorded as the file they name
    mode: int
    uid: int
    gid: int
    size: int
    digest: str  # sha256 of a file's content; '' otherwise
    link: str  # a symlink's target
    xattrs: tuple[tuple[str, str], ...]  # values hex-encoded
    device: tuple[int, int]
    inode: str = ""  # files: where the content was created ("layer:path"); links share it


BaseIndex = dict[str, BaseFile]


def base_index(base: BaseImage, store: BlobStore, cache_dir: Path) -> BaseIndex:
    """The base's filesystem index, from the cache or built from its layers."""
    cache_file = cache_dir / f"{base.manifest_digest.partition(':')[2]}.json"
    cached = _read_cached(cache_file)
    if cached is not None:
        return cached
    index = build_index([store.path(layer.digest) for layer in base.layers], base.layers)
    _write_cached(cache_file, index)
    return index


def _write_cached(cache_file: Path, index: BaseIndex) -> None:
    """Keep the index for the next run; a cache that cannot be written is only a miss."""
    data = {"version": _INDEX_VERSION, "files": {p: asdict(f) for p, f in index.items()}}
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        sweep(cache_file.parent, f".{cache_file.name}.")
        with locked_temp_file(cache_file.parent, f".{cache_file.name}.") as temp:
            temp.handle.write(json.dumps(data).encode())
            temp.handle.flush()
            temp.path.replace(cache_file)
    except OSError:
        pass


def build_index(
    layer_paths: list[Path], blobs: list[Descriptor] | None = None, *, hash_content: bool = True
) -> BaseIndex:
    """Apply layers (oldest first) into an index of the resulting tree.

    With ``blobs`` (the layers' descriptors), each layer's media type is checked and its
    bytes verified as they are read. Without ``hash_content``, files get no digest.
    """
    index: BaseIndex = {}
    for number, path in enumerate(layer_paths, start=1):
        label = f"{number} ({path.name[:12]})"
        added: set[str] = set()
        blob = blobs[number - 1] if blobs else None
        for member, content in iter_layer(path, label, blob):
            parent, _, name = member.path.rpartition("/")
            _refuse_write_through_symlink(index, parent, member.path, label)
            if name == OPAQUE:
                _remove_below(index, parent, keep=added)
                continue
            if name.startswith(WHITEOUT_PREFIX):
                hidden = f"{parent}/{name[len(WHITEOUT_PREFIX) :]}" if parent else name[4:]
                index.pop(hidden, None)
                _remove_below(index, hidden, keep=added)
                continue
            if member.kind == Kind.HARDLINK:
                target = index.get(member.link)
                if target is None or target.kind != Kind.FILE.value:
                    raise LayerError(
                        f"Layer {label}: hardlink {member.path!r} names {member.link!r}, which "
                        "is not a file earlier in the image.",
                        resolution="Do not use this image; its layers are malformed.",
                    )
                entry = target
            else:
                hashed = content is not None and hash_content
                digest = _sha256_of(content) if hashed else ""
                entry = BaseFile(
                    kind=member.kind.value,
                    mode=member.mode,
                    uid=member.uid,
                    gid=member.gid,
                    size=member.size,
                    digest=digest,
                    link=member.link if member.kind == Kind.SYMLINK else "",
                    xattrs=tuple((k, v.hex()) for k, v in member.xattrs),
                    device=member.device,
                    inode=f"{number}:{member.path}" if member.kind == Kind.FILE else "",
                )
            previous = index.get(member.path)
            if previous and previous.kind == Kind.DIR.value and entry.kind != Kind.DIR.value:
                _remove_below(index, member.path, keep=set())
            index[member.path] = entry
            added.add(member.path)
    return index


def base_file_contents(layer_paths: list[Path], wanted: set[str]) -> dict[str, FileContent]:
    """The final content and metadata of a few regular files of the base (e.g. etc/passwd),
    as a container sees them: through the base's symlinks (``etc/passwd`` a link, or
    ``etc`` itself), after whiteouts and opaque directories. More than
    ``MAX_FILE_BYTES`` in one of them is an error naming the bound."""
    tree = build_index(layer_paths, hash_content=False)
    by_layer: dict[int, dict[str, list[str]]] = {}
    entries: dict[str, BaseFile] = {}
    for path in sorted(wanted):
        final = resolve_path(tree, path)
        entry = tree.get(final) if final is not None else None
        if entry is None or entry.kind != Kind.FILE.value:
            continue  # missing, a loop, or not a file: the container has no such file
        if entry.size > MAX_FILE_BYTES:
            raise _too_large(path, final or path, entry.size)
        layer_number, _, member_path = entry.inode.partition(":")
        by_layer.setdefault(int(layer_number), {}).setdefault(member_path, []).append(path)
        entries[path] = entry
    found: dict[str, FileContent] = {}
    for number, members in sorted(by_layer.items()):
        layer = layer_paths[number - 1]
        for member, content in iter_layer(layer, f"{number} ({layer.name[:12]})"):
            if member.path not in members or content is None:
                continue
            data = content.read(MAX_FILE_BYTES + 1)
            if len(data) > MAX_FILE_BYTES:
                raise _too_large(member.path, member.path, len(data))
            for name in members[member.path]:  # the last copy in the layer wins, as in it
                entry = entries[name]
                found[name] = FileContent(data, entry.mode, entry.uid, entry.gid)
    return found


def resolve_path(index: BaseIndex, path: str) -> str | None:
    """``path`` as the container's kernel finds it: each symlink on the way followed
    (absolute targets from the image's root, '..' stopping there); None for a loop."""
    pending = [p for p in path.split("/") if p]
    done: list[str] = []
    hops = 0
    while pending:
        part = pending.pop(0)
        if part == ".":
            continue
        if part == "..":
            if done:
                done.pop()
            continue
        entry = index.get("/".join([*done, part]))
        if entry is not None and entry.kind == Kind.SYMLINK.value:
            hops += 1
            if hops > MAX_SYMLINKS:
                return None
            if entry.link.startswith("/"):
                done = []
            pending = [p for p in entry.link.split("/") if p] + pending
            continue
        done.append(part)
    return "/".join(done)


def _too_large(path: str, final: str, size: int) -> LayerError:
    where = f"{path!r}" + (f" (read through its symlinks as {final!r})" if final != path else "")
    return LayerError(
        f"The base's {where} is {size} bytes; rockpack reads at most "
        f"{MAX_FILE_BYTES // (1024 * 1024)} MiB of a file from a base.",
        resolution="Use a base image with ordinary account files.",
    )


@dataclass(frozen=True)
class FileContent:
    content: bytes
    mode: int
    uid: int
    gid: int


def _refuse_write_through_symlink(index: BaseIndex, parent: str, path: str, label: str) -> None:
    parts = parent.split("/") if parent else []
    for end in range(1, len(parts) + 1):
        prefix = "/".join(parts[:end])
        found = index.get(prefix)
        if found is not None and found.kind == Kind.SYMLINK.value:
            raise LayerError(
                f"Layer {label} writes {path!r} through the symlink {prefix!r} -> {found.link!r}.",
                details="Writing through a symlink can put files anywhere, even outside the "
                "image's root when extracted naively.",
                resolution="Do not use this image; build the base from a trusted source.",
            )


def _remove_below(index: BaseIndex, directory: str, *, keep: set[str]) -> None:
    prefix = f"{directory}/" if directory else ""
    for path in [p for p in index if p.startswith(prefix) and p not in keep]:
        del index[path]


def _sha256_of(content: object) -> str:
    digest = hashlib.sha256()
    read = content.read  # type: ignore[attr-defined]
    while chunk := read(1 << 20):
        digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def _read_cached(path: Path) -> BaseIndex | None:
    """The cached index, or None when it is missing, of another version, or damaged."""
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or data.get("version") != _INDEX_VERSION:
            return None
        return {str(p): _base_file(f) for p, f in data["files"].items()}
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError, RecursionError):
        return None


def _base_file(f: dict[str, Any]) -> BaseFile:
    return BaseFile(
        kind=str(f["kind"]),
        mode=int(f["mode"]),
        uid=int(f["uid"]),
        gid=int(f["gid"]),
        size=int(f["size"]),
        digest=str(f["digest"]),
        link=str(f["link"]),
        xattrs=tuple((str(k), str(v)) for k, v in f["xattrs"]),
        device=(int(f["device"][0]), int(f["device"][1])),
        inode=str(f["inode"]),
    )
