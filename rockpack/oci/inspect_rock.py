"""What a rock holds, layer by layer: sizes, origins, and the bytes later layers waste.

Layers are applied oldest first, as a runtime applies them (whiteouts, opaque
directories, hardlinks). A file's bytes are wasted when every name of it is hidden by a
later layer: overwritten (by other content), duplicated (the same content again) or
removed (a whiteout, or a directory replaced). That is what ``dive`` reports as wasted
space; a rock whose layers are split by part should waste nothing.

A layer's origin is the annotation rockpack writes on its descriptor; layers without
one are the base's.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from rockpack.oci.blobs import Descriptor, Digester
from rockpack.oci.entries import Kind
from rockpack.oci.layer_reader import iter_layer
from rockpack.oci.rock_archive import RockArchiveError, RockImage, open_blob, read_rock

ORIGIN_ANNOTATION = "io.rockpack.layer.origin"
PRUNED_ANNOTATIONS = (
    "io.rockpack.base.pruned-files",
    "io.rockpack.base.pruned-bytes",
    "io.rockpack.base.pruned-directories",
)
BASE = "base"
_WHITEOUT = ".wh."
_OPAQUE = ".wh..wh..opq"


@dataclass(frozen=True)
class LayerFacts:
    number: int  # 1 for the bottom layer
    digest: str
    diff_id: str
    media_type: str
    compressed_size: int
    size: int  # bytes of file contents (each inode once)
    entries: int
    files: int
    origin: str  # 'base', 'part:NAME', 'generated:...', 'metadata', several joined by ','
    history: str  # the history item's comment (or created_by)
    wasted_files: int = 0  # its files a later layer hides
    wasted_bytes: int = 0


@dataclass(frozen=True)
class Waste:
    path: str
    size: int
    layer: int  # the layer that stores the bytes
    hidden_by: int  # the later layer that hides them
    how: str  # 'overwritten', 'duplicated' or 'removed'


@dataclass(frozen=True)
class Pruning:
    files: int
    bytes: int
    directories: int


@dataclass(frozen=True)
class ConfigBrief:
    architecture: str
    os: str
    created: str
    entrypoint: list[str]
    cmd: list[str]
    user: str
    working_dir: str
    env: list[str]
    labels: dict[str, str]


@dataclass(frozen=True)
class RockReport:
    rock: str
    manifest_digest: str
    ref_name: str
    config: ConfigBrief
    layers: list[LayerFacts]
    wasted: list[Waste]  # every hidden file, largest first
    pruned: Pruning | None  # None for a rock that did not record it
    annotations: dict[str, str] = field(default_factory=dict)
    # artifactType and digest of each artifact the rock's index lists (``in-index``)
    index_artifacts: list[tuple[str, str]] = field(default_factory=list)

    @property
    def wasted_bytes(self) -> int:
        return sum(waste.size for waste in self.wasted)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "wasted_bytes": self.wasted_bytes}


def inspect_rock(path: Path) -> RockReport:
    """Read ``path`` (a .rock) whole and report on it."""
    image = read_rock(path)
    config = _read_json(image, image.config)
    origins = _origins(image, config)
    tree = _Tree()
    layers = []
    for number, (blob, origin) in enumerate(zip(image.layers, origins, strict=True), 1):
        layers.append(tree.apply(image, blob, number, origin))
    history = _layer_history(config, len(layers))
    diff_ids = [str(d) for d in (config.get("rootfs") or {}).get("diff_ids") or []]
    layers = [
        _completed(facts, tree.wasted, history[n], diff_ids[n] if n < len(diff_ids) else "")
        for n, facts in enumerate(layers)
    ]
    annotations = dict(image.document.get("annotations") or {})
    return RockReport(
        rock=str(path),
        manifest_digest=image.manifest.digest,
        ref_name=image.ref_name,
        config=_config_brief(config),
        layers=layers,
        wasted=sorted(tree.wasted, key=lambda w: (-w.size, w.path)),
        pruned=_pruning(annotations),
        annotations=annotations,
        index_artifacts=[(a.artifact_type, a.descriptor.digest) for a in image.artifacts],
    )


@dataclass
class _Data:
    """One stored file's bytes, and the names that still show them."""

    layer: int
    size: int
    digest: str
    names: set[str]


@dataclass
class _Node:
    kind: Kind
    data: _Data | None = None


class _Tree:
    """The image's tree as layers are applied, with the waste each layer causes."""

    def __init__(self) -> None:
        self.nodes: dict[str, _Node] = {}
        self.wasted: list[Waste] = []

    def apply(self, image: RockImage, blob: Descriptor, number: int, origin: str) -> LayerFacts:
        added: set[str] = set()
        size = entries = files = 0
        with open_blob(image, blob) as stream:
            for member, content in iter_layer(stream, str(number), blob):
                entries += 1
                parent, _, name = member.path.rpartition("/")
                if name == _OPAQUE:
                    self._hide_below(parent, number, "removed", keep=added)
                    continue
                if name.startswith(_WHITEOUT):
                    hidden = f"{parent}/{name[len(_WHITEOUT) :]}" if parent else name[4:]
                    self._hide_below(hidden, number, "removed", keep=set())
                    self._hide(hidden, number, "removed")
                    continue
                digest = _sha256(content) if content is not None else ""
                self._replace(member.path, member.kind, digest, number)
                node = _Node(member.kind)
                if member.kind == Kind.FILE:
                    files += 1
                    size += member.size
                    node.data = _Data(number, member.size, digest, {member.path})
                elif member.kind == Kind.HARDLINK:
                    target = self.nodes.get(member.link)
                    node = _Node(Kind.FILE, target.data if target else None)
                    if node.data is not None:
                        node.data.names.add(member.path)
                self.nodes[member.path] = node
                added.add(member.path)
        return LayerFacts(
            number=number,
            digest=blob.digest,
            diff_id="",
            media_type=blob.media_type,
            compressed_size=blob.size,
            size=size,
            entries=entries,
            files=files,
            origin=origin,
            history="",
        )

    def _replace(self, path: str, kind: Kind, digest: str, number: int) -> None:
        """A new entry at ``path``: what was there is hidden, unless both are directories."""
        old = self.nodes.get(path)
        if old is None or (old.kind == Kind.DIR and kind == Kind.DIR):
            return
        if old.kind == Kind.DIR:
            self._hide_below(path, number, "removed", keep=set())
        same = old.data is not None and kind == Kind.FILE and old.data.digest == digest
        self._hide(path, number, "duplicated" if same else "overwritten")

    def _hide(self, path: str, number: int, how: str) -> None:
        node = self.nodes.pop(path, None)
        if node is None or node.data is None:
            return
        node.data.names.discard(path)
        if not node.data.names:
            self.wasted.append(Waste(path, node.data.size, node.data.layer, number, how))

    def _hide_below(self, directory: str, number: int, how: str, *, keep: set[str]) -> None:
        prefix = f"{directory}/" if directory else ""
        for path in [p for p in self.nodes if p.startswith(prefix) and p not in keep]:
            self._hide(path, number, how)


def _origins(image: RockImage, config: dict[str, Any]) -> list[str]:
    """Each layer's origin: rockpack's annotation, else the base's."""
    found = [dict(layer.annotations).get(ORIGIN_ANNOTATION) for layer in image.layers]
    if any(found):
        return [origin or BASE for origin in found]
    # A rock from before layers by part: its last two layers are the parts' and metadata.
    history = _layer_history(config, len(image.layers))
    return [
        ("metadata" if text == "rock metadata" else "parts")
        if text.startswith(("parts: ", "rock metadata"))
        else BASE
        for text in history
    ]


def _layer_history(config: dict[str, Any], count: int) -> list[str]:
    """The comment (or created_by) of each layer's history item, aligned from the top."""
    items = [
        item
        for item in config.get("history") or []
        if isinstance(item, dict) and not item.get("empty_layer")
    ]
    texts = [str(item.get("comment") or item.get("created_by") or "") for item in items]
    texts = texts[-count:] if count else []
    return [""] * (count - len(texts)) + texts


def _completed(facts: LayerFacts, wasted: list[Waste], history: str, diff_id: str) -> LayerFacts:
    mine = [waste for waste in wasted if waste.layer == facts.number]
    return replace(
        facts,
        diff_id=diff_id,
        history=history,
        wasted_files=len(mine),
        wasted_bytes=sum(waste.size for waste in mine),
    )


def _read_json(image: RockImage, blob: Descriptor) -> dict[str, Any]:
    with open_blob(image, blob) as stream:
        raw = stream.read(blob.size + 1)
    check = Digester()
    check.update(raw)
    if not check.matches(blob.digest, blob.size):
        raise RockArchiveError(f"{image.path}: blob {blob.digest} does not match its digest.")
    try:
        document = json.loads(raw)
    except ValueError as err:
        raise RockArchiveError(f"{image.path}: its image config is not JSON ({err}).") from err
    if not isinstance(document, dict):
        raise RockArchiveError(f"{image.path}: its image config is not a JSON object.")
    return document


def _config_brief(config: dict[str, Any]) -> ConfigBrief:
    runtime = config.get("config") or {}
    return ConfigBrief(
        architecture=str(config.get("architecture", ""))
        + (f"/{config['variant']}" if config.get("variant") else ""),
        os=str(config.get("os", "")),
        created=str(config.get("created", "")),
        entrypoint=[str(a) for a in runtime.get("Entrypoint") or []],
        cmd=[str(a) for a in runtime.get("Cmd") or []],
        user=str(runtime.get("User") or ""),
        working_dir=str(runtime.get("WorkingDir") or ""),
        env=[str(e) for e in runtime.get("Env") or []],
        labels={str(k): str(v) for k, v in (runtime.get("Labels") or {}).items()},
    )


def _pruning(annotations: dict[str, str]) -> Pruning | None:
    values = [annotations.get(key, "") for key in PRUNED_ANNOTATIONS]
    if not all(value.isdigit() for value in values):
        return None
    files, size, directories = (int(value) for value in values)
    return Pruning(files, size, directories)


def _sha256(content: Any) -> str:
    digest = hashlib.sha256()
    while chunk := content.read(1 << 20):
        digest.update(chunk)
    return digest.hexdigest()
