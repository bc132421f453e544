"""Publish a rock: push it to a registry, or load it into podman or docker.

The rock is verified first (``read_rock``): a damaged or hostile file is refused with
what is wrong before a registry or podman sees it. Pushing skips blobs the registry
already has and mounts the base's layers from the base's own repository when both live
in the same registry. Loading streams a docker-archive (which both podman and docker
read) named after the rock's own name and version, read from the rock.
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
from rockpack.oci.index import platform_text
from rockpack.oci.index_rock import index_rock_directory, write_index_rock
from rockpack.oci.reference import (
    Reference,
    names_registry,
    names_tag,
    parse_reference,
    repository_component,
    tag_from,
)
from rockpack.oci.referrers import push_referrers
from rockpack.oci.registry_client import RegistryClient
from rockpack.oci.rock_archive import RockImage, open_blob, read_rock, read_rock_contents
from rockpack.oci.rock_metadata import RockIdentity, rock_identity
from rockpack.project.architectures import DEB_TO_OCI, host_arch

BASE_NAME_ANNOTATION = "org.opencontainers.image.base.name"


@dataclass(frozen=True)
class PushReport:
    reference: str  # registry/repository:tag@digest, as pushed
    digest: str
    uploaded: int
    uploaded_bytes: int
    present: int
    mounted: int
    images: tuple[str, ...] = ()  # of an index: each image's platform and digest


@dataclass
class BlobCounts:
    uploaded: int = 0
    uploaded_bytes: int = 0
    present: int = 0
    mounted: int = 0


def push(rock: Path, destination: str, client: RegistryClient | None = None) -> PushReport:
    """Push ``rock`` to ``destination`` (registry/repository[:tag]); return what was sent."""
    return push_image(read_rock(rock), destination, client)


def push_image(
    image: RockImage, destination: str, client: RegistryClient | None = None
) -> PushReport:
    """Push a rock's image, its manifest under the tag (the rock's version by default), or
    by digest only when ``destination`` names the image's digest."""
    reference = push_reference(destination, image.ref_name)
    if reference.digest and reference.digest != image.manifest.digest:
        raise RockpackError(
            f"{destination} names the digest {reference.digest}, but the rock's image is "
            f"{image.manifest.digest}.",
            resolution=f"Push it as {reference.registry}/{reference.repository}@"
            f"{image.manifest.digest}, or with a tag.",
        )
    note_docker_hub(destination, reference)
    client = client or RegistryClient()
    counts = push_blobs(client, reference, image)
    digest = client.put_manifest(reference, image.manifest.media_type, image.raw)
    attached = push_referrers(client, reference, image)  # the SBOM and provenance
    if attached.attached:
        emit.progress(attached.describe(digest), permanent=True)
    pushed = Reference(reference.registry, reference.repository, reference.tag)
    return PushReport(
        f"{pushed}@{digest}",
        digest,
        counts.uploaded,
        counts.uploaded_bytes,
        counts.present,
        counts.mounted,
    )


def push_rocks(
    rocks: list[Path], destination: str, client: RegistryClient | None = None
) -> PushReport:
    """Push one rock as it is, or several (or a multi-platform one) under one index."""
    from rockpack.publish_index import push_images

    contents = [read_rock_contents(rock) for rock in rocks]  # every rock checked first
    if len(contents) == 1 and isinstance(contents[0], RockImage):
        return push_image(contents[0], destination, client)
    return push_images(contents, destination, client or RegistryClient())


def assemble_index(
    destination: str,
    sources: list[str],
    client: RegistryClient | None = None,
    *,
    attestations: bool = False,
) -> PushReport:
    """Push an index of images already in ``destination``'s registry (no layer pulled)."""
    from rockpack.publish_index import assemble

    return assemble(destination, sources, client or RegistryClient(), attestations=attestations)


def index_directory(output: Path | None, project_dir: Path) -> Path:
    """Where ``pack --index`` writes its index rock: the rocks' directory (never a .rock)."""
    return index_rock_directory(output, project_dir)


def write_index(rocks: list[Path], directory: Path, name: str) -> Path:
    """Write ``<name>_<version>.rock``, a multi-platform rock of ``rocks``' images."""
    return write_index_rock(rocks, directory, name)


def note_docker_hub(destination: str, reference: Reference) -> None:
    """A destination without a registry host means Docker Hub: say so before going there."""
    if not names_registry(destination):
        emit.progress(
            f"'{destination}' names no registry host, so it means Docker Hub: pushing to "
            f"{reference}. Write HOST/REPOSITORY (e.g. ghcr.io/me/app) for another registry.",
            permanent=True,
        )


def push_blobs(
    client: RegistryClient, reference: Reference, image: RockImage, counts: BlobCounts | None = None
) -> BlobCounts:
    """Send the image's blobs the registry lacks: present ones are skipped, the base's are
    mounted from its repository when it is in the same registry, the rest uploaded."""
    counts = BlobCounts() if counts is None else counts
    base_repository = _same_registry_base(image, reference.registry)
    for blob in image.blobs:
        if client.blob_exists(reference, blob.digest):
            counts.present += 1
            continue
        if base_repository and client.mount_blob(reference, blob.digest, base_repository):
            counts.mounted += 1
            continue
        emit.progress(f"Uploading {blob.digest[:19]} ({blob.size / 1_000_000:.1f} MB)")
        with open_blob(image, blob) as content:
            client.upload_blob(reference, blob, content)
        counts.uploaded += 1
        counts.uploaded_bytes += blob.size
    return counts


def push_reference(destination: str, version: str) -> Reference:
    """Where to push: ``destination``, tagged with the rock's version when it has no tag."""
    reference = parse_reference(destination)
    tag = tag_from(version)
    if not names_tag(destination) and reference.digest is None and tag:
        reference = Reference(reference.registry, reference.repository, tag)
    return reference


def _same_registry_base(image: RockImage, registry: str) -> str | None:
    annotations = image.document.get("annotations")
    base_name = annotations.get(BASE_NAME_ANNOTATION) if isinstance(annotations, dict) else None
    if not isinstance(base_name, str) or not base_name:
        return None
    try:
        base = parse_reference(base_name)
    except RockpackError:
        return None  # an annotation we cannot use is no reason to fail the push
    return base.repository if base.registry == registry else None


def load(rock: Path, tool: str | None = None) -> str:
    """Load ``rock`` into podman or docker, named ``<rock name>:<version>``; return the name.

    Of a multi-platform rock, the image for this host's architecture is loaded."""
    image = image_for_host(rock)
    name = image_name(rock_identity(image))
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
        except BaseException:
            process.kill()  # our side failed (e.g. the rock changed): load nothing
            process.wait()
            raise
        returncode = process.wait()
        output.seek(0)
        said = output.read().decode(errors="replace").strip()
    if returncode != 0:
        raise RockpackError(
            f"'{program} load' failed: {said}",
            resolution=f"Check that {program} works ('{program} info').",
        )
    return name


def image_for_host(rock: Path) -> RockImage:
    """The rock's image; of a multi-platform rock, the one for this host's architecture."""
    contents = read_rock_contents(rock)
    if isinstance(contents, RockImage):
        return contents
    host = host_arch()
    oci = DEB_TO_OCI.get(host)
    wanted = (("architecture", oci.architecture), ("os", "linux")) if oci else ()
    image = contents.image_for(wanted) if oci else None
    if image is None:
        raise RockpackError(
            f"{rock} has no image for this host ({host}): it holds "
            f"{', '.join(map(platform_text, contents.platforms))}.",
            resolution="Load it on a machine of one of those platforms, or push it with "
            "'rockpack push' and run it with 'podman run --arch'.",
        )
    return image


def image_name(identity: RockIdentity) -> str:
    """``<name>:<version>`` as an image name podman and docker accept."""
    name = repository_component(identity.name) or "rock"
    return f"{name}:{tag_from(identity.version) or 'latest'}"


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
