"""What a project's image says about itself: entrypoint, environment, labels, metadata.

Pure functions of the project and the declared inputs (the epoch is passed in; the
clock is never read here).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import yaml

from rockpack import __version__
from rockpack.base.resolve import BaseImage
from rockpack.errors import PackError
from rockpack.image.run_user import run_user_of
from rockpack.oci.entries import Entry, Kind
from rockpack.oci.image import HistoryItem, ImageSpec, RuntimeConfig
from rockpack.pebble.layer import pebble_entrypoint
from rockpack.pebble.source import ProvidedPebble
from rockpack.project import services as pebble
from rockpack.project.architectures import DEB_TO_OCI
from rockpack.project.model import Project

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
METADATA_DIR = ".rock"
METADATA_FILE = ".rock/metadata.yaml"


@dataclass(frozen=True)
class RockInfo:
    """The resolved facts of one rock being packed."""

    project: Project
    version: str
    platform: str
    build_for: str
    created: str  # RFC 3339, UTC
    base: BaseImage | None = None  # None for a bare base
    pebble: ProvidedPebble | None = None  # the Pebble rockpack put in the rock, if any


def rfc3339(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def needs_pebble(project: Project) -> bool:
    """Every rock runs Pebble, except one with an entrypoint-command and no services."""
    return project.runs_pebble


def base_env(base: BaseImage | None) -> dict[str, str]:
    """The base image's Env, as a mapping (PATH above all)."""
    if base is None:
        return {}
    env = {}
    for item in (base.config.get("config") or {}).get("Env") or []:
        key, _, value = str(item).partition("=")
        env[key] = value
    return env


def runtime_config(project: Project, base: BaseImage | None = None) -> RuntimeConfig:
    """Entrypoint, Cmd, Env and User: Pebble's, or the entrypoint-command's."""
    if needs_pebble(project):
        entrypoint, cmd = pebble_entrypoint(project)
    elif project.entrypoint_command:
        entrypoint, cmd = pebble.split_command(project.entrypoint_command, attached_brackets=True)
    else:  # pragma: no cover - needs_pebble() is true then
        raise PackError("The rock has no entrypoint.")
    env = {**base_env(base), **(project.environment or {})}
    env.setdefault("PATH", DEFAULT_PATH)
    run_user = run_user_of(project.run_user)
    user = run_user.oci_user if run_user else ""
    return RuntimeConfig(
        entrypoint=entrypoint, cmd=cmd, env=env, user=user, labels=oci_annotations_for(project)
    )


def oci_annotations_for(project: Project) -> dict[str, str]:
    """The org.opencontainers.image.* keys that describe the project itself."""
    out = {"org.opencontainers.image.title": project.effective_title}
    if project.version:
        out["org.opencontainers.image.version"] = project.version
    if project.summary:
        out["org.opencontainers.image.description"] = project.summary
    if project.license:
        out["org.opencontainers.image.licenses"] = project.license
    return out


def image_spec(info: RockInfo, layer_comments: list[str]) -> ImageSpec:
    """The image config and manifest facts for ``info``."""
    runtime = runtime_config(info.project, info.base)
    labels = {**runtime.labels, "org.opencontainers.image.version": info.version}
    labels["org.opencontainers.image.created"] = info.created
    if info.base is not None:
        labels["org.opencontainers.image.base.name"] = str(info.base.reference).partition("@")[0]
        labels["org.opencontainers.image.base.digest"] = info.base.manifest_digest
    runtime = RuntimeConfig(
        entrypoint=runtime.entrypoint,
        cmd=runtime.cmd,
        env=runtime.env,
        user=runtime.user,
        labels=labels,
    )
    platform = DEB_TO_OCI[info.build_for]
    history = _base_history(info.base) + [
        HistoryItem(created=info.created, created_by=f"rockpack {__version__}", comment=comment)
        for comment in layer_comments
    ]
    return ImageSpec(
        architecture=platform.architecture,
        variant=platform.variant,
        created=info.created,
        runtime=runtime,
        history=history,
        annotations=dict(labels),
    )


def _base_history(base: BaseImage | None) -> list[HistoryItem]:
    if base is None:
        return []
    items = []
    for item in base.config.get("history") or []:
        items.append(
            HistoryItem(
                created=str(item.get("created", "")),
                created_by=str(item.get("created_by", "")),
                comment=str(item.get("comment", "")),
                empty_layer=bool(item.get("empty_layer", False)),
            )
        )
    return items


def metadata_yaml(info: RockInfo) -> bytes:
    """Contents of /.rock/metadata.yaml."""
    project = info.project
    document: dict[str, object] = {
        "name": project.name,
        "title": project.effective_title,
        "version": info.version,
        "summary": project.summary or "",
        "created": info.created,
        "base": project.base,
        "base-digest": info.base.manifest_digest if info.base else "",
        "build-base": project.effective_build_base,
        "architecture": info.build_for,
        "rockpack-version": __version__,
    }
    pebble_facts = pebble_metadata(info)
    if pebble_facts:
        document["pebble"] = pebble_facts
    return yaml.safe_dump(document, sort_keys=True).encode()


def pebble_metadata(info: RockInfo) -> dict[str, str] | None:
    """Version and sha256 of the Pebble rockpack put in the rock (sha256 of /usr/bin/pebble;
    archive-sha256 of the release archive it came from). None when the rock runs no Pebble
    or its own part provides it."""
    project = info.project
    provided = info.pebble
    if provided is None or not needs_pebble(project) or project.pebble == "project":
        return None
    facts = {"version": provided.version, "sha256": provided.sha256}
    if provided.archive_sha256:
        facts["archive-sha256"] = provided.archive_sha256
    return facts


def metadata_entries(info: RockInfo, mtime: int) -> list[Entry]:
    """The small layer holding /.rock/metadata.yaml."""
    content = metadata_yaml(info)
    return [
        Entry(path=METADATA_DIR, kind=Kind.DIR, mode=0o755, mtime=mtime),
        Entry(
            path=METADATA_FILE,
            kind=Kind.FILE,
            mode=0o644,
            mtime=mtime,
            size=len(content),
            content=content,
        ),
    ]
