"""What a rock says about itself: its name and version, read from the rock.

``/.rock/metadata.yaml`` (in the rock's top layer, where rockpack and Rockcraft put it)
names the rock; the image config's labels and the index's ref name stand in when it
is missing. Everything read is bounded: one layer, one small file.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from rockpack.errors import LayerError
from rockpack.oci.documents import field_dict, field_strings, parse_object
from rockpack.oci.layer_reader import iter_layer
from rockpack.oci.rock_archive import RockImage, open_blob, read_blob

METADATA_PATH = ".rock/metadata.yaml"
MAX_METADATA_BYTES = 64 * 1024
TITLE = "org.opencontainers.image.title"
VERSION = "org.opencontainers.image.version"


@dataclass(frozen=True)
class RockIdentity:
    name: str  # '' when the rock does not say
    version: str


def rock_identity(image: RockImage) -> RockIdentity:
    """The rock's name and version, from its metadata file, then its labels."""
    config = parse_object(read_blob(image, image.config), f"{image.path}: its image config")
    labels = field_strings(field_dict(config, "config", "the image config"), "Labels", "config")
    metadata = _metadata(image)
    name = _text(metadata.get("name")) or labels.get(TITLE, "")
    version = _text(metadata.get("version")) or labels.get(VERSION, "") or image.ref_name
    return RockIdentity(name=name, version=version)


def _metadata(image: RockImage) -> dict[str, object]:
    if not image.layers:
        return {}
    top = image.layers[-1]
    with open_blob(image, top) as blob:
        for member, content in iter_layer(blob, f"{len(image.layers)} of {image.path}"):
            if member.path != METADATA_PATH or content is None:
                continue
            if member.size > MAX_METADATA_BYTES:
                raise LayerError(
                    f"{image.path}: {METADATA_PATH} is {member.size} bytes; rockpack reads at "
                    f"most {MAX_METADATA_BYTES // 1024} KiB of it.",
                    resolution="Pass a rock packed by rockpack or Rockcraft.",
                )
            try:
                document = yaml.safe_load(content.read(MAX_METADATA_BYTES))
            except (yaml.YAMLError, RecursionError, UnicodeDecodeError):
                return {}
            return document if isinstance(document, dict) else {}
    return {}


def _text(value: object) -> str:
    return value if isinstance(value, str) else str(value) if isinstance(value, int | float) else ""
