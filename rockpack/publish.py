"""Publish a rock: push it to a registry, or load it into podman or docker.

Pushing skips blobs the registry already has and mounts the base's layers from the
base's own repository when both live in the same registry. Loading streams a
docker-archive (which both podman and docker read) tagged after the rock.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import IO

from craft_cli import emit

from rockpack.errors import RockpackError
from rockpack.oci.blobs import Descriptor
from rockpack.oci.reference import parse_reference
from rockpack.oci.registry import RegistryClient
from rockpack.oci.rock_archive import RockImage, open_blob, read_rock

BASE_NAME_ANNOTATION = "org.opencontainers.image.base.name"


@dataclass(frozen=True)
class PushReport:
    digest: str
    uploaded: int
    uploaded_bytes: int
    present: int
    mounted: int


def push(rock: Path, destination: str, client: RegistryClient | None = None) -> PushReport:
    """Push ``rock`` to ``destination`` (registry/repository[:tag]); return what was sent."""
    image = read_rock(rock)
    reference = parse_reference(destination)
    if reference.tag == "latest" and ":" not in destination.rsplit("/", 1)[-1] and image.ref_name:
        reference = parse_reference(f"{destination}:{image.ref_name}")
    client = client or RegistryClient()
    base_repository = _same_registry_base(image, reference.registry)
    uploaded = uploaded_bytes = present = mounted = 0
    for blob in image.blobs:
        if client.blob_exists(reference, blob.digest):
            present += 1
            continue
        if base_repository and client.mount_blob(reference, blob.digest, base_repository):
            mounted += 1
            continue
        emit.progress(f"Uploading {blob.digest[:19]} ({blob.size / 1_000_000:.1f} MB)")
        with open_blob(image, blob) as content:
            client.upload_blob(reference, blob, content)
        uploaded += 1
        uploaded_bytes += blob.size
    digest = client.put_manifest(reference, image.manifest.media_type, image.raw)
    return PushReport(digest, uploaded, uploaded_bytes, present, mounted)


def _same_registry_base(image: RockImage, registry: str) -> str | None:
    base_name = (image.document.get("annotations") or {}).get(BASE_NAME_ANNOTATION)
    if not base_name:
        return None
    base = parse_reference(base_name)
    return base.repository if base.registry == registry else None


def load(rock: Path, tool: str | None = None) -> str:
    """Load ``rock`` into podman or docker, named ``<rock name>:<version>``; return the name."""
    image = read_rock(rock)
    config = json.loads(_read(image, image.config))
    labels = (config.get("config") or {}).get("Labels") or {}
    name = _image_name(rock, image, labels)
    program = tool or next((t for t in ("podman", "docker") if shutil.which(t)), None)
    if program is None or shutil.which(program) is None:
        raise RockpackError(
            "Neither podman nor docker is installed."
            if program is None
            else f"{program} is not installed.",
            resolution="Install podman (apt-get install podman), or push the rock to a registry "
            "with 'rockpack push'.",
        )
    # Output goes to files: a pipe the tool fills while we stream into it could deadlock.
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(
            [program, "load"], stdin=subprocess.PIPE, stdout=output, stderr=subprocess.STDOUT
        )
        assert process.stdin is not None
        try:
            with process.stdin:
                write_docker_archive(image, name, process.stdin)
        except BrokenPipeError:
            pass  # the tool stopped reading; its exit status and output say why
        returncode = process.wait()
        output.seek(0)
        said = output.read().decode(errors="replace").strip()
    if returncode != 0:
        raise RockpackError(
            f"'{program} load' failed: {said}",
            resolution=f"Check that {program} works ('{program} info').",
        )
    return name


def _image_name(rock: Path, image: RockImage, labels: dict[str, str]) -> str:
    stem = rock.name.removesuffix(".rock").split("_")
    name = stem[0] if stem and stem[0] else labels.get("org.opencontainers.image.title", "rock")
    return f"{name}:{image.ref_name or 'latest'}"


def write_docker_archive(image: RockImage, name: str, out: IO[bytes]) -> None:
    """The rock as a docker-archive stream: compressed layers are loaded as they are."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as archive:
        layer_names = []
        for blob in image.blobs:
            member = f"blobs/sha256/{blob.digest.partition(':')[2]}"
            info = tarfile.TarInfo(member)
            info.size = blob.size
            with open_blob(image, blob) as content:
                archive.addfile(info, content)
            if blob != image.config:
                layer_names.append(member)
        manifest = [
            {
                "Config": f"blobs/sha256/{image.config.digest.partition(':')[2]}",
                "RepoTags": [name],
                "Layers": layer_names,
            }
        ]
        data = json.dumps(manifest).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        archive.addfile(info, BytesIO(data))


def _read(image: RockImage, blob: Descriptor) -> bytes:
    with open_blob(image, blob) as content:
        return content.read()
