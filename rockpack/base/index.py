"""An index of a base image's filesystem, without unpacking it.

Layers are applied oldest first (the order a runtime uses; the reverse breaks
hardlinks and whiteouts), honouring whiteouts, opaque directories and hardlinks.
The index is cached by the base's manifest digest.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from rockpack.base.resolve import BaseImage
from rockpack.errors import LayerError
from rockpack.oci.blobs import BlobStore
from rockpack.oci.entries import Kind
from rockpack.oci.layer_reader import iter_layer

WHITEOUT_PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"
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
    index = build_index([store.path(layer.digest) for layer in base.layers])
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache_file.with_suffix(".tmp")
    tmp.write_text(
        json.dumps({"version": _INDEX_VERSION, "files": {p: asdict(f) for p, f in index.items()}})
    )
    tmp.replace(cache_file)
    return index


def build_index(layer_paths: list[Path]) -> BaseIndex:
    """Apply layers (oldest first) into an index of the resulting tree."""
    index: BaseIndex = {}
    for number, path in enumerate(layer_paths, start=1):
        label = f"{number} ({path.name[:12]})"
        added: set[str] = set()
        for member, content in iter_layer(path, label):
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
                digest = _sha256_of(content) if content is not None else ""
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
    """The final content and metadata of a few regular files of the base (e.g. etc/passwd)."""
    found: dict[str, FileContent] = {}
    for number, path in enumerate(layer_paths, start=1):
        for member, content in iter_layer(path, f"{number} ({path.name[:12]})"):
            parent, _, name = member.path.rpartition("/")
            if name == OPAQUE:
                for key in [k for k in found if k.startswith(parent + "/")]:
                    del found[key]
                continue
            hidden = f"{parent}/{name[len(WHITEOUT_PREFIX) :]}" if parent else name
            if name.startswith(WHITEOUT_PREFIX) and hidden in found:
                del found[hidden]
            if member.path not in wanted:
                continue
            if member.kind == Kind.FILE and content is not None:
                found[member.path] = FileContent(
                    content.read(), member.mode, member.uid, member.gid
                )
            elif member.kind == Kind.HARDLINK and member.link in found:
                found[member.path] = found[member.link]
            else:
                found.pop(member.path, None)
    return found


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
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("version") != _INDEX_VERSION:
        return None
    return {
        p: BaseFile(
            kind=f["kind"],
            mode=f["mode"],
            uid=f["uid"],
            gid=f["gid"],
            size=f["size"],
            digest=f["digest"],
            link=f["link"],
            xattrs=tuple((str(k), str(v)) for k, v in f["xattrs"]),
            device=(int(f["device"][0]), int(f["device"][1])),
            inode=f["inode"],
        )
        for p, f in data["files"].items()
    }
