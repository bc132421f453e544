"""The Pebble layer a rock's services and checks become, and the rock's entrypoint.

The file is ``var/lib/pebble/default/layers/NNN-<name>.yaml``: NNN one above the
highest layer the base already has, the label the rock's name (which satisfies
Pebble's label rule). Its bytes depend only on the project.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import yaml

from rockpack.oci.entries import Entry, Kind
from rockpack.project import services as pebble
from rockpack.project.model import Project

PEBBLE_BINARY = "/usr/bin/pebble"
PEBBLE_DIR = "var/lib/pebble/default"
LAYERS_DIR = f"{PEBBLE_DIR}/layers"
_LAYER_FILE_RE = re.compile(r"^(\d{3})-[a-z](?:-?[a-z0-9]){2,}\.yaml$")


def next_layer_number(existing_paths: Iterable[str]) -> int:
    """One above the highest NNN of the Pebble layers already present."""
    highest = 0
    for path in existing_paths:
        directory, _, name = path.rpartition("/")
        match = _LAYER_FILE_RE.match(name)
        if directory == LAYERS_DIR and match:
            highest = max(highest, int(match.group(1)))
    if highest >= 999:
        raise ValueError("the base already has Pebble layer 999; no number is left")
    return highest + 1


def layer_document(project: Project) -> dict[str, Any]:
    document: dict[str, Any] = {}
    if project.summary:
        document["summary"] = project.summary
    if project.description:
        document["description"] = project.description
    for key, items in (("services", project.services), ("checks", project.checks)):
        if items:
            document[key] = {
                name: item.model_dump(mode="json", by_alias=True, exclude_none=True)
                for name, item in items.items()
            }
    return document


def layer_yaml(project: Project) -> bytes:
    return yaml.safe_dump(layer_document(project), sort_keys=True, allow_unicode=True).encode()


def layer_entries(
    project: Project, number: int, *, owner: tuple[int, int], mtime: int
) -> list[Entry]:
    """The layer file and its directories; $PEBBLE belongs to the run user."""
    content = layer_yaml(project)
    uid, gid = owner
    directories = ["var", "var/lib", "var/lib/pebble"]
    entries = [Entry(path, Kind.DIR, 0o755, mtime=mtime) for path in directories]
    entries.append(Entry(PEBBLE_DIR, Kind.DIR, 0o755, uid, gid, mtime))
    entries.append(Entry(LAYERS_DIR, Kind.DIR, 0o755, uid, gid, mtime))
    entries.append(
        Entry(
            f"{LAYERS_DIR}/{number:03d}-{project.name}.yaml",
            Kind.FILE,
            0o644,
            uid,
            gid,
            mtime,
            size=len(content),
            content=content,
        )
    )
    return entries


def pebble_entrypoint(project: Project) -> tuple[list[str], list[str]]:
    """(Entrypoint, Cmd): ``pebble enter``, with ``--args <service>`` for an entrypoint-service."""
    entrypoint = [PEBBLE_BINARY, "enter"]
    if not project.entrypoint_service:
        return entrypoint, []
    service = (project.services or {})[project.entrypoint_service]
    _, defaults = pebble.split_command(service.command or "")
    return [*entrypoint, "--args", project.entrypoint_service], defaults
