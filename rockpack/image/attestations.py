"""A rock's attestations: its SBOM and SLSA provenance, as documents and layer entries.

Both are made after the rock's other layers are written (they name those layers by
diff_id) and before its manifest: they sit in a layer of their own, under ``/.rock/``,
below the metadata layer (which stays on top, where readers of a rock look for it).
``rockpack push`` sends the same bytes as OCI artifacts referring to the image manifest
(``rockpack.oci.artifacts``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from rockpack.base.index import base_index
from rockpack.base.resolve import BASE_IMAGES, BaseImage
from rockpack.build.lifecycle import LifecycleResult
from rockpack.build.workspace import base_view_dir, user_cache_dir
from rockpack.image.part_sources import part_sources
from rockpack.image.provenance import BuildFacts, Dependency, provenance_statement
from rockpack.image.sbom.base_packages import BaseSystem, base_system
from rockpack.image.sbom.collect import Inventory, PrimeInputs, base_components, prime_inventory
from rockpack.image.sbom.dpkg import distro_from_base_name
from rockpack.image.sbom.go_modules import read_go_program
from rockpack.image.sbom.language import PEBBLE_PATH
from rockpack.image.sbom.purl import generic_purl, oci_purl
from rockpack.image.sbom.spdx import BaseDescription, RockDescription, spdx_document
from rockpack.image.spec import METADATA_DIR, RockInfo, needs_pebble
from rockpack.oci.artifacts import (
    IN_TOTO_JSON,
    PROVENANCE_FILE,
    SBOM_FILE,
    SPDX_JSON,
    Attachment,
)
from rockpack.oci.blobs import BlobStore
from rockpack.oci.entries import Entry, Kind
from rockpack.project.layering import effective_layering

COMMENT = "rock attestations: SBOM and provenance"  # the layer's history comment


@dataclass(frozen=True)
class AttestationRequest:
    info: RockInfo
    project_dir: Path
    project_file: Path
    result: LifecycleResult
    base: BaseImage | None
    cache: BlobStore  # holds the base's blobs
    layers: list[tuple[str, str]]  # (origin, diff_id) of the rock's layers so far
    compression: str
    build_mode: str
    epoch: int


def attestation_documents(request: AttestationRequest) -> list[Attachment]:
    """The SBOM and the provenance the project asks for (both, by default)."""
    wanted = request.info.project.attestations
    want_sbom = wanted is None or wanted.sbom
    want_provenance = wanted is None or wanted.provenance
    if not (want_sbom or want_provenance):
        return []
    system = _base_system(request)
    inventory = _inventory(request, system)
    documents = []
    if want_sbom:
        documents.append(Attachment(SBOM_FILE, SPDX_JSON, _sbom(request, system, inventory)))
    if want_provenance:
        statement = provenance_statement(_build_facts(request, inventory))
        documents.append(Attachment(PROVENANCE_FILE, IN_TOTO_JSON, statement))
    return documents


def attestation_entries(documents: list[Attachment], mtime: int) -> list[Entry]:
    """The layer holding the documents under /.rock/."""
    entries = [Entry(path=METADATA_DIR, kind=Kind.DIR, mode=0o755, mtime=mtime)]
    for document in sorted(documents, key=lambda d: d.path):
        entries.append(
            Entry(
                path=document.path,
                kind=Kind.FILE,
                mode=0o644,
                mtime=mtime,
                size=len(document.content),
                content=document.content,
            )
        )
    return entries


def _base_system(request: AttestationRequest) -> BaseSystem | None:
    if request.base is None:
        return None
    index = base_index(request.base, request.cache, base_view_dir())
    return base_system(request.base, request.cache, index, user_cache_dir() / "base-packages")


def _inventory(request: AttestationRequest, system: BaseSystem | None) -> Inventory:
    project, result = request.info.project, request.result
    build_distro = distro_from_base_name(project.effective_build_base)
    inputs = PrimeInputs(
        prime_dir=result.prime_dir,
        primed_by_part=result.primed_by_part,
        stage_package_dirs=result.stage_package_dirs,
        parts=project.parts,
        build_distro=build_distro,
        base_distro=system.distro if system and system.distro else build_distro,
        base_packages=system.packages if system else [],
        pebble_version=_pebble_version(request),
    )
    found = prime_inventory(inputs)
    if system is None:
        return found
    base = base_components(system.packages, system.licenses, inputs.base_distro)
    return Inventory(base + found.components, found.unclaimed)


def _pebble_version(request: AttestationRequest) -> str | None:
    """The version of the Pebble the rock runs: the one rockpack provided, else (the
    project's own part built it) what its Go build info says; None without Pebble."""
    project = request.info.project
    if not needs_pebble(project):
        return None
    provided = request.info.pebble
    if project.pebble != "project" and provided is not None:
        return provided.version
    program = read_go_program(request.result.prime_dir, PEBBLE_PATH)
    version = program.module_version if program else ""
    return "" if version == "(devel)" else version


def _sbom(request: AttestationRequest, system: BaseSystem | None, inventory: Inventory) -> bytes:
    info = request.info
    part_layers: dict[str, tuple[str, ...]] = {}
    for origins, diff_id in request.layers:
        for origin in origins.split(","):
            if origin.startswith("part:"):
                name = origin.removeprefix("part:")
                part_layers[name] = (*part_layers.get(name, ()), diff_id)
    rock = RockDescription(
        name=info.project.name,
        version=info.version,
        architecture=info.build_for,
        created=info.created,
        license=info.project.license,
        base=_base_description(request) if system is not None else None,
        part_layers=part_layers,
    )
    return spdx_document(rock, inventory)


def _base_description(request: AttestationRequest) -> BaseDescription | None:
    base = request.base
    if base is None:
        return None
    repository, tag = base_repository(request.info.project.base, base)
    return BaseDescription(
        request.info.project.base, repository, tag, base.manifest_digest, tuple(base.diff_ids)
    )


def base_repository(name: str, base: BaseImage) -> tuple[str, str]:
    """The base's repository and tag as the project means them (never a mirror's)."""
    text = BASE_IMAGES.get(name)
    if text is None:
        reference = base.reference
        return f"{reference.registry}/{reference.repository}", reference.tag or ""
    repository, _, tag = text.rpartition(":")
    return repository, tag


def _build_facts(request: AttestationRequest, inventory: Inventory) -> BuildFacts:
    info, result = request.info, request.result
    layering = effective_layering(info.project.layering)
    dependencies = []
    if request.base is not None:
        repository, tag = base_repository(info.project.base, request.base)
        digest = request.base.manifest_digest
        purl = oci_purl(repository, digest, tag, info.build_for)
        dependencies.append(Dependency(f"base:{info.project.base}", purl, _sha(digest)))
    for component in inventory.components:
        if component.name == "pebble" and component.ecosystem == "generic":
            purl = generic_purl("pebble", component.version)
            dependencies.append(Dependency("pebble", purl, {"sha256": component.sha256}))
        elif component.ecosystem == "deb" and component.sha256:  # a stage-package
            name = f"stage-package:{component.owner}:{component.name}"
            dependencies.append(Dependency(name, component.purl, {"sha256": component.sha256}))
    return BuildFacts(
        project_file=request.project_file.name,
        project_sha256=hashlib.sha256(request.project_file.read_bytes()).hexdigest(),
        platform=info.platform,
        build_for=info.build_for,
        compression=request.compression,
        layering=layering.strategy
        if layering.strategy == "single"
        else f"part:{layering.effective_budget}",
        build_mode=request.build_mode,
        source_date_epoch=request.epoch,
        layers=list(request.layers),
        sources=part_sources(info.project.parts, result.parts_dir, request.project_dir),
        dependencies=dependencies,
    )


def _sha(digest: str) -> dict[str, str]:
    algorithm, _, value = digest.partition(":")
    return {algorithm: value}
