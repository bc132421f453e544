"""Put it together: project -> lifecycle -> layers -> image -> .rock.

Checks everything that can fail early (build environment, base, entrypoint) before
any part runs, so a project that cannot be packed fails in seconds, not after a build.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from craft_cli import emit

from rockpack.architectures import host_arch
from rockpack.base_rootfs import extracted_base
from rockpack.base_view import base_file_contents, base_index
from rockpack.bases import BaseImage, obtain_base
from rockpack.content_digests import DigestCache
from rockpack.errors import PackError, PlatformError
from rockpack.layering import place_on_base
from rockpack.lifecycle import Lifecycle, LifecycleResult, ShellOptions
from rockpack.oci.archive import write_oci_archive
from rockpack.oci.blobs import BlobStore
from rockpack.oci.compress import DEFAULT as DEFAULT_COMPRESSION
from rockpack.oci.compress import Compression
from rockpack.oci.entries import Entry, Kind, sort_entries
from rockpack.oci.image import index_json, referenced_blobs, write_image
from rockpack.oci.layer import Layer, write_layer
from rockpack.oci.layer_cache import cached_write_layer
from rockpack.package_modes import stage_package_overrides
from rockpack.parts import has_overlay
from rockpack.pebble_layer import layer_entries, next_layer_number
from rockpack.pebble_part import PART_NAME as PEBBLE_PART
from rockpack.pebble_part import check_user_part, pebble_part
from rockpack.prime import ScanOptions, default_owner_map, elect_hardlink_leaders, scan_tree
from rockpack.project import LoadedProject, Project
from rockpack.providers import check_host_matches, require_destructive_mode
from rockpack.repositories import refuse_unapplied
from rockpack.rock_image import RockInfo, image_spec, metadata_entries, needs_pebble, rfc3339
from rockpack.run_user import AccountFile, account_entries, run_user_of
from rockpack.source_date import project_source_date
from rockpack.workspace import (
    Workspace,
    base_rootfs_dir,
    base_view_dir,
    project_lock,
    shared_blob_root,
    user_cache_dir,
)


@dataclass(frozen=True)
class BuildTarget:
    """One platform of the project, built on this host."""

    platform: str
    build_for: str


@dataclass(frozen=True)
class BuildOptions:
    destructive_mode: bool = False
    platform: str | None = None
    build_for: str | None = None
    epoch: int | None = None  # SOURCE_DATE_EPOCH
    shell: ShellOptions = field(default_factory=ShellOptions)
    refresh_base: bool = False  # resolve the base's tag again instead of using the pin
    compression: Compression = DEFAULT_COMPRESSION


def build_targets(
    project: Project, *, platform: str | None, build_for: str | None, host: str | None = None
) -> list[BuildTarget]:
    """The platforms to build on this host, optionally narrowed by name or target."""
    host = host or host_arch()
    targets: list[BuildTarget] = []
    for label, spec in project.platforms.items():
        build_on = spec.build_on if spec else [label]
        target_arch = spec.build_for[0] if spec and spec.build_for else label
        if platform and label != platform:
            continue
        if build_for and target_arch != build_for:
            continue
        if host in build_on:
            targets.append(BuildTarget(platform=label, build_for=target_arch))
    if targets:
        return targets
    if platform and platform not in project.platforms:
        raise PlatformError(
            f"No platform named '{platform}' in the project.",
            resolution=f"Use one of: {', '.join(project.platforms)}.",
        )
    raise PlatformError(
        f"No platform of this project builds on this host's architecture ({host}).",
        resolution="Add it to a platform's 'build-on', or build on a matching machine.",
    )


def preflight(loaded: LoadedProject, options: BuildOptions, *, packing: bool) -> None:
    """Everything that can be checked before any part runs."""
    project = loaded.project
    require_destructive_mode(options.destructive_mode)
    check_host_matches(project.effective_build_base)
    refuse_unapplied(project.package_repositories)


def run_lifecycle(
    loaded: LoadedProject, step: str, options: BuildOptions
) -> list[tuple[BuildTarget, LifecycleResult]]:
    """Run the parts up to ``step`` for every selected platform."""
    project = loaded.project
    workspace, targets, injected = _plan(loaded, options, packing=False)
    with project_lock(workspace):
        uses_overlay = any(has_overlay(p) for p in project.parts.values())
        bases = {
            target.platform: _obtain_base(project, target, options, workspace)
            if uses_overlay
            else None
            for target in targets
        }
        return _run_targets(loaded, step, options, workspace, targets, bases, injected)


def pack(loaded: LoadedProject, options: BuildOptions, output: Path | None) -> list[Path]:
    """Build and pack every selected platform; return the .rock files written."""
    project = loaded.project
    workspace, targets, injected = _plan(loaded, options, packing=True)
    with project_lock(workspace):
        bases = {
            target.platform: _obtain_base(project, target, options, workspace) for target in targets
        }
        results = _run_targets(loaded, "prime", options, workspace, targets, bases, injected)
        return [
            _pack_one(loaded, target, result, options, workspace, output, bases[target.platform])
            for target, result in results
        ]


def injected_parts(project: Project, build_for: str) -> dict[str, dict[str, Any]]:
    """Parts rockpack adds to the project's: the pebble part, when the rock runs Pebble."""
    if not needs_pebble(project) or project.pebble == "project":
        return {}  # no Pebble, or the project's own 'pebble' part provides it
    part = pebble_part(build_for)
    check_user_part(project.parts, part)
    return {PEBBLE_PART: part}


def _obtain_base(
    project: Project, target: BuildTarget, options: BuildOptions, workspace: Workspace
) -> BaseImage | None:
    if project.base == "bare":
        return None
    emit.progress(f"Obtaining base {project.base} for {target.build_for}")
    base = obtain_base(
        project.base,
        target.build_for,
        cache=BlobStore(shared_blob_root()),
        pin_file=workspace.base_pins,
        refresh=options.refresh_base,
    )
    emit.debug(f"Base {project.base} is {base.reference}")
    return base


def _plan(
    loaded: LoadedProject, options: BuildOptions, *, packing: bool
) -> tuple[Workspace, list[BuildTarget], dict[str, dict[str, dict[str, Any]]]]:
    """Everything decided before any state is touched: checks, targets, injected parts."""
    preflight(loaded, options, packing=packing)
    project = loaded.project
    targets = build_targets(project, platform=options.platform, build_for=options.build_for)
    injected = {t.platform: injected_parts(project, t.build_for) for t in targets}
    return Workspace(loaded.project_dir), targets, injected


def _run_targets(
    loaded: LoadedProject,
    step: str,
    options: BuildOptions,
    workspace: Workspace,
    targets: list[BuildTarget],
    bases: dict[str, BaseImage | None],
    injected: dict[str, dict[str, dict[str, Any]]],
) -> list[tuple[BuildTarget, LifecycleResult]]:
    project = loaded.project
    uses_overlay = any(has_overlay(p) for p in project.parts.values())
    results = []
    for target in targets:
        base = bases.get(target.platform)
        base_layer = None
        if base is not None and uses_overlay:
            emit.progress(f"Extracting base {project.base} for the overlay step")
            rootfs = extracted_base(base, BlobStore(shared_blob_root()), base_rootfs_dir())
            base_layer = (rootfs, base.manifest_digest)
        lifecycle = Lifecycle(
            project,
            project_dir=loaded.project_dir,
            work_dir=workspace.work_dir(target.platform),
            cache_dir=user_cache_dir() / "craft-parts",
            build_for=target.build_for,
            base_layer=base_layer,
            extra_parts=injected.get(target.platform),
        )
        results.append((target, lifecycle.run(step, options.shell)))
    return results


def rock_file_name(name: str, version: str, platform: str) -> str:
    return f"{name}_{version}_{platform}.rock"


def _pack_one(
    loaded: LoadedProject,
    target: BuildTarget,
    result: LifecycleResult,
    options: BuildOptions,
    workspace: Workspace,
    output: Path | None,
    base: BaseImage | None,
) -> Path:
    started = time.monotonic()
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
    # SOURCE_DATE_EPOCH, or the project's own source date: never the clock.
    epoch = options.epoch if options.epoch is not None else project_source_date(loaded.project_dir)
    created_epoch = epoch
    info = RockInfo(
        project=project,
        version=version,
        platform=target.platform,
        build_for=target.build_for,
        created=rfc3339(created_epoch),
        base=base,
    )
    destination = _destination(output, loaded.project_dir, project.name, version, target.platform)

    emit.progress("Creating the rock's layers")
    overrides = stage_package_overrides(result.stage_package_dirs.values())
    own_pebble = needs_pebble(project) and project.pebble == "project"
    if own_pebble and not (result.prime_dir / "usr/bin/pebble").is_file():
        raise PackError(
            "The project's 'pebble' part did not install usr/bin/pebble.",
            resolution="Make the part put the Pebble binary at usr/bin/pebble "
            "(e.g. with 'organize'), or remove 'pebble: project'.",
        )
    entries = scan_tree(
        result.prime_dir,
        ScanOptions(epoch=epoch, owner_map=default_owner_map(), overrides=overrides),
    )
    cache = BlobStore(shared_blob_root())
    base_files = base_index(base, cache, base_view_dir()) if base is not None else {}
    generated = generated_entries(
        project, base, cache, base_files, entries, result.prime_dir, epoch, created_epoch
    )
    entries = merge_entries(entries, generated)
    base_layers: list[Layer] = []
    if base is not None:
        digests = DigestCache(workspace.digest_cache(target.platform))
        placement = place_on_base(entries, base_files, digests.digest)
        digests.save()
        entries = placement.entries
        emit.progress(
            f"Pruned {placement.pruned_files} files ({_megabytes(placement.pruned_bytes)}) and "
            f"{placement.pruned_dirs} directories the base already has; "
            f"{placement.redirected} paths follow the base's symlinks",
            permanent=True,
        )
        base_layers = [
            Layer(descriptor=descriptor, diff_id=diff_id)
            for descriptor, diff_id in zip(base.layers, base.diff_ids, strict=True)
        ]
    store = BlobStore(workspace.blob_root)
    parts_layer, reused = cached_write_layer(
        entries, store, options.compression, workspace.layer_cache(target.platform)
    )
    if reused:
        emit.debug("The prime directory is unchanged: reusing its layer")
    meta_layer = write_layer(
        metadata_entries(info, created_epoch), store, compression=options.compression
    )
    emit.debug(f"Parts layer {parts_layer.descriptor.digest}: {len(entries)} entries")

    spec = image_spec(info, ["parts: " + ", ".join(sorted(project.parts)), "rock metadata"])
    manifest = write_image(store, spec, [*base_layers, parts_layer, meta_layer])
    index = index_json([(manifest, version)])
    emit.progress(f"Writing {destination.name}")
    write_oci_archive(
        destination,
        [store, cache],
        index,
        referenced_blobs(store, manifest),
        mtime=epoch,
    )
    emit.debug(f"Prime dir to .rock: {time.monotonic() - started:.3f} s")
    emit.message(f"Packed {destination} ({manifest.digest})")
    return destination


def generated_entries(
    project: Project,
    base: BaseImage | None,
    cache: BlobStore,
    base_files: dict[str, Any],
    primed: list[Entry],
    prime_dir: Path,
    epoch: int | None,
    mtime: int,
) -> list[Entry]:
    """What rockpack writes into the rock besides the prime dir: Pebble's layer, accounts."""
    user = run_user_of(project.run_user)
    generated: list[Entry] = []
    if needs_pebble(project):
        number = next_layer_number([*base_files, *(e.path for e in primed)])
        owner = (user.uid, user.gid) if user else (0, 0)
        generated += layer_entries(project, number, owner=owner, mtime=mtime)
    if user is not None:
        wanted = {"etc/passwd", "etc/group", "etc/shadow"}
        existing = {
            path: AccountFile(found.content, found.mode, found.uid, found.gid)
            for path, found in (
                base_file_contents([cache.path(layer.digest) for layer in base.layers], wanted)
                if base is not None
                else {}
            ).items()
        }
        for path in wanted:  # the parts' own files sit on top of the base's
            primed_file = prime_dir / path
            if primed_file.is_file() and not primed_file.is_symlink():
                st = primed_file.stat()
                existing[path] = AccountFile(
                    primed_file.read_bytes(), st.st_mode & 0o7777, st.st_uid, st.st_gid
                )
        generated += account_entries(user, existing, epoch=epoch, mtime=mtime)
    return generated


def merge_entries(primed: list[Entry], generated: list[Entry]) -> list[Entry]:
    """Generated entries replace primed ones at the same path; order and leaders redone."""
    by_path = {entry.path: entry for entry in primed}
    for entry in generated:
        if entry.kind == Kind.DIR and entry.path in by_path and entry.uid == entry.gid == 0:
            continue  # a plain parent directory: the parts' own metadata wins
        by_path[entry.path] = entry
    return elect_hardlink_leaders(sort_entries(list(by_path.values())))


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def _destination(
    output: Path | None, project_dir: Path, name: str, version: str, platform: str
) -> Path:
    file_name = rock_file_name(name, version, platform)
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
