"""The pipeline: project -> build -> base -> layer -> image -> .rock.

1. plan:   checks that can fail early, the platforms to build, the parts rockpack adds;
2. build:  the base image (pinned, cached) and the parts' lifecycle up to prime;
3. layer:  the prime dir scanned, generated files added, placed on the base's files;
4. image:  the layers written, the config and manifest;
5. rock:   the OCI archive, written atomically.

Everything that can fail early (build environment, base, entrypoint) is checked before any
part runs, so a project that cannot be packed fails in seconds, not after a build.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from craft_cli import emit

from rockpack.base.index import base_index
from rockpack.base.resolve import BaseImage, obtain_base
from rockpack.base.rootfs import extracted_base
from rockpack.build.environment import check_build_environment, check_snaps_installable
from rockpack.build.fingerprint import skip_when_unchanged
from rockpack.build.foreign import by_architecture, check_built_for
from rockpack.build.lifecycle import Lifecycle, LifecycleResult
from rockpack.build.package_modes import stage_package_overrides
from rockpack.build.providers import (
    check_host_matches,
    is_managed,
    require_destructive_mode,
)
from rockpack.build.source_date import project_source_date
from rockpack.build.steps import ShellOptions
from rockpack.build.targets import BuildTarget, build_targets, check_foreign_targets
from rockpack.build.workspace import (
    Workspace,
    base_rootfs_dir,
    base_view_dir,
    project_lock,
    shared_blob_root,
    user_cache_dir,
)
from rockpack.errors import PackError
from rockpack.image.attestations import COMMENT as ATTESTATION_COMMENT
from rockpack.image.attestations import (
    AttestationRequest,
    attestation_documents,
    attestation_entries,
)
from rockpack.image.generated import generated_entries, merge_entries
from rockpack.image.spec import RockInfo, image_spec, metadata_entries, needs_pebble, rfc3339
from rockpack.layer.content_digests import DigestCache
from rockpack.layer.place import Placement, place_on_base
from rockpack.layer.plan import LayerPlan, LayerSources, split_into_layers
from rockpack.layer.scan import ScanOptions, default_owner_map, scan_tree
from rockpack.layer.volatile import without_volatile
from rockpack.oci.archive import write_oci_archive
from rockpack.oci.artifacts import ATTESTATION_ORIGIN, Attachment
from rockpack.oci.attested_index import store_attested_index
from rockpack.oci.blobs import BlobStore, Descriptor
from rockpack.oci.compress import DEFAULT as DEFAULT_COMPRESSION
from rockpack.oci.compress import Compression
from rockpack.oci.image import index_json, referenced_blobs, write_image
from rockpack.oci.inspect_rock import ORIGIN_ANNOTATION
from rockpack.oci.layer import Layer, write_layer
from rockpack.oci.layer_cache import LayerRequest, cached_write_layers
from rockpack.pebble.part import PART_NAME as PEBBLE_PART
from rockpack.pebble.part import check_user_part, pebble_part
from rockpack.pebble.source import ProvidedPebble, provide_pebble
from rockpack.project.layering import effective_layering
from rockpack.project.model import LoadedProject, Project
from rockpack.project.outside_values import validate_version
from rockpack.project.parts import has_overlay
from rockpack.project.repositories import apply_on_host_requested

__all__ = ["BuildOptions", "BuildTarget", "build_targets", "pack", "run_lifecycle"]


@dataclass(frozen=True)
class BuildOptions:
    destructive_mode: bool = False
    platform: str | None = None
    build_for: str | None = None
    epoch: int | None = None  # SOURCE_DATE_EPOCH
    shell: ShellOptions = field(default_factory=ShellOptions)
    refresh_base: bool = False  # resolve the base's tag again instead of using the pin
    compression: Compression = DEFAULT_COMPRESSION
    # --apply-package-repositories: a destructive build may change this host's apt sources
    apply_repositories: bool = False


@dataclass(frozen=True)
class Plan:
    """What is decided before any state is touched."""

    workspace: Workspace
    targets: list[BuildTarget]
    pebble: dict[str, ProvidedPebble]  # platform -> the Pebble rockpack puts in its rock

    def extra_parts(self, platform: str) -> dict[str, dict[str, Any]]:
        """Parts rockpack adds to the project's: the pebble part, when it provides Pebble."""
        provided = self.pebble.get(platform)
        return {PEBBLE_PART: pebble_part(provided)} if provided else {}


@skip_when_unchanged  # nothing changed since the last pack: its .rock files, at once
def pack(loaded: LoadedProject, options: BuildOptions, output: Path | None) -> list[Path]:
    """Build and pack every selected platform; return the .rock files written.

    Each architecture is planned apart, a foreign one from the project with its
    stage-packages named for it; every build is checked for its architecture before any
    rock is packed.
    """
    selected = build_targets(loaded.project, platform=options.platform, build_for=options.build_for)
    groups = [
        (variant, plan_build(variant, replace(options, build_for=arch)))
        for arch, variant in by_architecture(loaded, [t.build_for for t in selected])
    ]
    with project_lock(groups[0][1].workspace):
        bases = {
            t.platform: obtain_target_base(loaded.project, t, options, plan)
            for _, plan in groups
            for t in plan.targets
        }
        built = [
            (variant, plan, target, result)
            for variant, plan in groups
            for target, result in build_parts(variant, "prime", options, plan, bases)
        ]
        for _, _, target, result in built:
            check_built_for(
                target.platform, target.build_for, result.prime_dir, result.stage_package_dirs
            )
        return [
            pack_rock(variant, target, result, options, plan, output, bases[target.platform])
            for variant, plan, target, result in built
        ]


def run_lifecycle(
    loaded: LoadedProject, step: str, options: BuildOptions
) -> list[tuple[BuildTarget, LifecycleResult]]:
    """Run the parts up to ``step`` for every selected platform (no rock is packed)."""
    plan = plan_build(loaded, options)
    with project_lock(plan.workspace):
        needs_base = any(has_overlay(p) for p in loaded.project.parts.values())
        bases = {
            t.platform: obtain_target_base(loaded.project, t, options, plan) if needs_base else None
            for t in plan.targets
        }
        return build_parts(loaded, step, options, plan, bases)


# 1. plan


def plan_build(loaded: LoadedProject, options: BuildOptions) -> Plan:
    """Checks that need no build, the targets, and the parts rockpack adds to each."""
    project = loaded.project
    require_destructive_mode(options.destructive_mode)
    check_host_matches(project.effective_build_base)
    check_build_environment(
        loaded, apply_on_host=apply_on_host_requested(options.apply_repositories)
    )
    targets = build_targets(project, platform=options.platform, build_for=options.build_for)
    check_foreign_targets(project, targets)
    pebble = {t.platform: pebble_for(project, t.build_for) for t in targets}
    provided = {platform: p for platform, p in pebble.items() if p is not None}
    return Plan(Workspace(loaded.project_dir), targets, provided)


def pebble_for(project: Project, build_for: str) -> ProvidedPebble | None:
    """The Pebble rockpack puts in the rock, obtained (cache, or one download) and checked
    before any part runs; None when the rock runs no Pebble or its own part provides it."""
    if not needs_pebble(project) or project.pebble == "project":
        return None
    check_user_part(project.parts)
    return provide_pebble(build_for)


# 2. build


def obtain_target_base(
    project: Project, target: BuildTarget, options: BuildOptions, plan: Plan
) -> BaseImage | None:
    """The base image for one target, from the pin and the shared cache when it can."""
    if project.base == "bare":
        return None
    emit.progress(f"Obtaining base {project.base} for {target.build_for}")
    base = obtain_base(
        project.base,
        target.build_for,
        cache=BlobStore(shared_blob_root()),
        pin_file=plan.workspace.base_pins,
        refresh=options.refresh_base,
    )
    emit.debug(f"Base {project.base} is {base.reference}")
    return base


def build_parts(
    loaded: LoadedProject,
    step: str,
    options: BuildOptions,
    plan: Plan,
    bases: dict[str, BaseImage | None],
) -> list[tuple[BuildTarget, LifecycleResult]]:
    """Run craft-parts up to ``step`` for each target."""
    project = loaded.project
    uses_overlay = any(has_overlay(p) for p in project.parts.values())
    check_snaps_installable(loaded)  # the snap store, asked once, before any part runs
    results = []
    for target in plan.targets:
        base = bases.get(target.platform)
        base_layer = None
        if base is not None and uses_overlay:
            emit.progress(f"Extracting base {project.base} for the overlay step")
            rootfs = extracted_base(base, BlobStore(shared_blob_root()), base_rootfs_dir())
            base_layer = (rootfs, base.manifest_digest)
        lifecycle = Lifecycle(
            project,
            project_dir=loaded.project_dir,
            work_dir=plan.workspace.work_dir(target.platform),
            cache_dir=user_cache_dir() / "craft-parts",
            build_for=target.build_for,
            base_layer=base_layer,
            extra_parts=plan.extra_parts(target.platform),
        )
        results.append((target, lifecycle.run(step, options.shell)))
    return results


def pack_rock(
    loaded: LoadedProject,
    target: BuildTarget,
    result: LifecycleResult,
    options: BuildOptions,
    plan: Plan,
    output: Path | None,
    base: BaseImage | None,
) -> Path:
    """Stages 3 to 5 for one target: its prime dir becomes a .rock."""
    started = time.monotonic()
    workspace = plan.workspace
    info, epoch = rock_info(loaded, target, result, options, base, plan.pebble.get(target.platform))
    destination = rock_destination(output, loaded.project_dir, info)
    emit.progress("Creating the rock's layers")
    cache = BlobStore(shared_blob_root())
    layer_plan = layer_entries(loaded.project, result, base, cache, workspace, target, epoch)
    store = BlobStore(workspace.blob_root)
    layers = write_layers(layer_plan, info, base, store, options, workspace, target, epoch)
    comments = [*layer_plan.comments, "rock metadata"]
    layers, comments, documents = attestations(
        loaded, info, result, base, layers, comments, store, options, epoch
    )
    spec = image_spec(info, comments)
    spec = replace(spec, annotations={**spec.annotations, **layer_plan.annotations})
    manifest = write_image(store, spec, layers)
    emit.progress(f"Writing {destination.name}")
    top, blobs = archive_contents(loaded.project, store, manifest, documents)
    write_oci_archive(
        destination, [store, cache], index_json([(top, info.version)]), blobs, mtime=epoch
    )
    emit.debug(f"Prime dir to .rock: {time.monotonic() - started:.3f} s")
    # Inside a clean build the host says where the rock landed, with this same digest.
    report = emit.debug if is_managed() else emit.message
    report(f"Packed {destination} ({manifest.digest})")
    return destination


def rock_info(
    loaded: LoadedProject,
    target: BuildTarget,
    result: LifecycleResult,
    options: BuildOptions,
    base: BaseImage | None,
    pebble: ProvidedPebble | None = None,
) -> tuple[RockInfo, int]:
    """The rock's resolved facts, and the epoch every date in it comes from."""
    project = loaded.project
    version = project.version or result.project_vars.get("version")
    if not version:
        raise PackError(
            f"{loaded.path}: the rock has no version.",
            resolution=f"Set 'version', or have the part '{project.adopt_info}' set it with "
            "'craftctl set version=...'."
            if project.adopt_info
            else "Set 'version' in the project file.",
        )
    if not project.version:  # set by a scriptlet: it names the .rock file, so check it here
        validate_version(version, f"part '{project.adopt_info}' (craftctl set version)")
    # SOURCE_DATE_EPOCH, or the project's own source date: never the clock.
    epoch = options.epoch if options.epoch is not None else project_source_date(loaded.project_dir)
    info = RockInfo(
        project=project,
        version=version,
        platform=target.platform,
        build_for=target.build_for,
        created=rfc3339(epoch),
        base=base,
        pebble=pebble,
    )
    return info, epoch


# 3. layer


def layer_entries(
    project: Project,
    result: LifecycleResult,
    base: BaseImage | None,
    cache: BlobStore,
    workspace: Workspace,
    target: BuildTarget,
    epoch: int,
) -> LayerPlan:
    """The prime dir and rockpack's generated files placed on the base, split into layers."""
    check_own_pebble(project, result.prime_dir)
    overrides = stage_package_overrides(result.stage_package_dirs.values())
    entries = scan_tree(
        result.prime_dir,
        ScanOptions(epoch=epoch, owner_map=default_owner_map(), overrides=overrides),
    )
    if any(has_overlay(part) for part in project.parts.values()):
        entries = without_volatile(entries)  # apt's logs and caches from the overlay step
    base_files = base_index(base, cache, base_view_dir()) if base is not None else {}
    generated = generated_entries(
        project, base, cache, base_files, entries, result.prime_dir, epoch, epoch
    )
    entries = merge_entries(entries, generated)
    placement = Placement(entries)
    if base is not None:
        digests = DigestCache(workspace.digest_cache(target.platform))
        placement = place_on_base(entries, base_files, digests.digest)
        digests.save()
        emit.progress(
            f"Pruned {placement.pruned_files} files ({_megabytes(placement.pruned_bytes)}) and "
            f"{placement.pruned_dirs} directories the base already has; "
            f"{placement.redirected} paths follow the base's symlinks",
            permanent=True,
        )
    sources = LayerSources(entries, generated, result.primed_by_part, project.parts, base_files)
    return split_into_layers(placement, effective_layering(project.layering), sources)


def check_own_pebble(project: Project, prime_dir: Path) -> None:
    """With 'pebble: project', the project's own part must have installed the binary."""
    own_pebble = needs_pebble(project) and project.pebble == "project"
    if own_pebble and not (prime_dir / "usr/bin/pebble").is_file():
        raise PackError(
            "The project's 'pebble' part did not install usr/bin/pebble.",
            resolution="Make the part put the Pebble binary at usr/bin/pebble "
            "(e.g. with 'organize'), or remove 'pebble: project'.",
        )


# 4. image


def write_layers(
    layer_plan: LayerPlan,
    info: RockInfo,
    base: BaseImage | None,
    store: BlobStore,
    options: BuildOptions,
    workspace: Workspace,
    target: BuildTarget,
    epoch: int,
) -> list[Layer]:
    """The base's layers unchanged, then the plan's layers and the metadata layer."""
    base_layers = (
        [
            Layer(descriptor=descriptor, diff_id=diff_id)
            for descriptor, diff_id in zip(base.layers, base.diff_ids, strict=True)
        ]
        if base is not None
        else []
    )
    requests = [LayerRequest(group.entries, group.annotations) for group in layer_plan.groups]
    metadata = ((ORIGIN_ANNOTATION, "metadata"),)
    requests.append(LayerRequest(metadata_entries(info, epoch), metadata))
    written = cached_write_layers(
        requests, store, options.compression, workspace.layer_cache(target.platform)
    )
    for (layer, reused), comment in zip(
        written, [*layer_plan.comments, "rock metadata"], strict=True
    ):
        state = "unchanged, reused" if reused else "written"
        emit.debug(f"Layer {layer.descriptor.digest[:19]} ({comment}): {state}")
    return [*base_layers, *(layer for layer, _ in written)]


def attestations(
    loaded: LoadedProject,
    info: RockInfo,
    result: LifecycleResult,
    base: BaseImage | None,
    layers: list[Layer],
    comments: list[str],
    store: BlobStore,
    options: BuildOptions,
    epoch: int,
) -> tuple[list[Layer], list[str], list[Attachment]]:
    """The rock's SBOM and SLSA provenance (unless the project turns them off), in a layer
    of their own under the metadata layer, which stays on top; ``comments`` likewise;
    and the documents themselves."""
    wanted = loaded.project.attestations
    if wanted is not None and not (wanted.sbom or wanted.provenance):
        return layers, comments, []
    emit.progress("Writing the rock's SBOM and provenance")
    compression = options.compression
    request = AttestationRequest(
        info=info,
        project_dir=loaded.project_dir,
        project_file=loaded.path,
        result=result,
        base=base,
        cache=BlobStore(shared_blob_root()),
        layers=[
            (dict(la.descriptor.annotations).get(ORIGIN_ANNOTATION, "base"), la.diff_id)
            for la in layers
        ],
        compression=f"{compression.algorithm}:{compression.level}",
        build_mode="lxd" if is_managed() else "destructive",
        epoch=epoch,
    )
    documents = attestation_documents(request)
    written = write_layer(attestation_entries(documents, epoch), store, compression=compression)
    annotations = ((ORIGIN_ANNOTATION, ATTESTATION_ORIGIN),)
    layer = Layer(replace(written.descriptor, annotations=annotations), written.diff_id)
    layers = [*layers[:-1], layer, layers[-1]]
    return layers, [*comments[:-1], ATTESTATION_COMMENT, comments[-1]], documents


def archive_contents(
    project: Project, store: BlobStore, manifest: Descriptor, documents: list[Attachment]
) -> tuple[Descriptor, list[Descriptor]]:
    """What the .rock's index.json names (the image, or with ``attestations: in-index``
    an index of the image and its attestations) and every blob the archive holds."""
    blobs = referenced_blobs(store, manifest)
    wanted = project.attestations
    if not documents or wanted is None or not wanted.in_index:
        return manifest, blobs
    index, artifacts = store_attested_index(store, manifest, documents)
    return index, [index, *blobs, *artifacts]


# 5. rock


def rock_file_name(name: str, version: str, platform: str) -> str:
    return f"{name}_{version}_{platform}.rock"


def rock_destination(output: Path | None, project_dir: Path, info: RockInfo) -> Path:
    """Where the rock goes: --output (a directory or a .rock file), else the project dir."""
    file_name = rock_file_name(info.project.name, info.version, info.platform)
    if output is None:
        return project_dir / file_name
    if output.suffix == ".rock":
        return output
    if output.exists() and not output.is_dir():
        raise PackError(
            f"--output {output} exists and is not a directory.",
            resolution="Name a directory, or a file ending in .rock.",
        )
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise PackError(
            f"Cannot create the output directory {output}: {err.strerror}.",
            resolution="Choose a writable directory with --output.",
        ) from err
    return output / file_name


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"
