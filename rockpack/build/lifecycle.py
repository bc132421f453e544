"""Run a project's parts through craft-parts: pull, overlay, build, stage, prime.

This is the only module that drives craft-parts' LifecycleManager. Steps re-run
incrementally from craft-parts' own state in the work directory.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sysconfig
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from craft_cli import emit
from craft_parts import (
    Action,
    ActionType,
    LifecycleManager,
    PartsError,
    ProjectDirs,
    ProjectInfo,
    Step,
    StepInfo,
    callbacks,
)
from craft_parts.errors import CallbackRegistrationError
from craft_parts.parts import Part
from craft_parts.state_manager import states

from rockpack.build import craft_parts_patches
from rockpack.build.chisel import CHISEL_SNAP, chisel_on_path
from rockpack.build.patch_gc import fewer_collections
from rockpack.build.providers import is_managed
from rockpack.build.repositories import Applied, apply_repositories
from rockpack.build.steps import ShellOptions as ShellOptions
from rockpack.errors import LifecycleError
from rockpack.project.model import Project
from rockpack.project.parts import enable_features

STEPS: dict[str, Step] = {
    "pull": Step.PULL,
    "overlay": Step.OVERLAY,
    "build": Step.BUILD,
    "stage": Step.STAGE,
    "prime": Step.PRIME,
}

_VERBS = {
    Step.PULL: "Pulling",
    Step.OVERLAY: "Overlaying",
    Step.BUILD: "Building",
    Step.STAGE: "Staging",
    Step.PRIME: "Priming",
}

# Project keys a part named by adopt-info may set with `craftctl set KEY=VALUE`.
ADOPTABLE_VARS = ("version", "summary", "description", "title")

# Paths in the project directory that are rockpack's own and never part sources.
IGNORED_LOCAL_SOURCES = [".rockpack", "*.rock", ".git"]


@dataclass(frozen=True)
class LifecycleResult:
    """What the lifecycle produced for packing."""

    prime_dir: Path
    parts_dir: Path
    project_vars: dict[str, str]
    stage_package_dirs: dict[str, Path]
    # Each part's primed paths (files and directories, relative to prime_dir), as
    # craft-parts' prime states list them: which part a file's layer is. After prime only.
    primed_by_part: dict[str, frozenset[str]] = field(default_factory=dict)


class Lifecycle:
    """craft-parts for one project, one build-for architecture, one work directory."""

    def __init__(
        self,
        project: Project,
        *,
        project_dir: Path,
        work_dir: Path,
        cache_dir: Path,
        build_for: str,
        base_layer: tuple[Path, str] | None = None,
        extra_parts: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        """``base_layer``: the extracted base and its digest, for the overlay step;
        ``extra_parts``: parts rockpack adds (the pebble part)."""
        enable_features()
        craft_parts_patches.apply()  # the same results as upstream's code, faster
        _put_craftctl_on_path()
        self._project = project
        self._work_dir = work_dir
        self._project_dir = project_dir
        self._part_names = [*project.parts, *(extra_parts or {})]
        # Declared even when unset: craft-parts lets adopt-info set only declared vars.
        project_vars = {key: getattr(project, key) or "" for key in ADOPTABLE_VARS}
        # craft-parts appends the chisel snap to this very list when parts have slices.
        self._extra_snaps: list[str] = []
        try:
            self._lcm = LifecycleManager(
                {"parts": {**_parts_with_plugins(project.parts), **(extra_parts or {})}},
                application_name="rockpack",
                cache_dir=cache_dir,
                work_dir=work_dir,
                arch=build_for,
                base=project.effective_build_base,
                project_name=project.name,
                project_vars_part_name=project.adopt_info,
                project_vars=project_vars,
                ignore_local_sources=IGNORED_LOCAL_SOURCES,
                base_layer_dir=base_layer[0] if base_layer else None,
                base_layer_hash=base_layer[1].encode() if base_layer else None,
                parallel_build_count=os.cpu_count() or 1,
                extra_build_snaps=self._extra_snaps,
                # Read back by the overlay callback (craft-parts passes unknown keywords on).
                package_repositories=project.package_repositories or [],
                rockpack_project_dir=project_dir,
            )
        except PartsError as err:
            raise _lifecycle_error(err) from err
        if CHISEL_SNAP in self._extra_snaps and chisel_on_path():
            self._extra_snaps.remove(CHISEL_SNAP)  # the chisel on PATH cuts the slices

    @property
    def prime_dir(self) -> Path:
        return Path(self._lcm.project_info.prime_dir)

    def run(self, step_name: str, shell: ShellOptions | None = None) -> LifecycleResult:
        """Run every part up to ``step_name``; return where prime is."""
        # A few objects per file and few of them garbage: rarer collector passes.
        with fewer_collections():
            return self._run(step_name, shell or ShellOptions())

    def _run(self, step_name: str, shell: ShellOptions) -> LifecycleResult:
        target = STEPS[step_name]
        prime_key = str(self.prime_dir)
        _forget_primed(prime_key)
        with suppress(CallbackRegistrationError):  # registered once per process
            callbacks.register_post_step(_remember_primed, step_list=[Step.PRIME])
        # craft-parts resolves local sources ("source: .") against the working directory.
        with _in_directory(self._project_dir):
            self._apply_repositories()
            try:
                actions = self._lcm.plan(target)
            except PartsError as err:
                raise _lifecycle_error(err) from err
            before, final = _split_last_step(actions, target) if shell.shell else (actions, [])
            try:
                self._execute(before)
            except LifecycleError:
                if shell.debug:
                    self._open_shell()
                raise
            if final:
                emit.debug(f"Not running {len(final)} action(s) of {step_name}: --shell")
            if shell.shell or shell.shell_after:
                self._open_shell()
        return LifecycleResult(
            prime_dir=self.prime_dir,
            parts_dir=self._work_dir / "parts",
            project_vars=_project_vars(self._lcm),
            stage_package_dirs={
                name: self._work_dir / "parts" / name / "stage_packages"
                for name, spec in self._project.parts.items()
                if spec.get("stage-packages")
            },
            primed_by_part=self._primed_by_part(target, prime_key),
        )

    def _primed_by_part(self, target: Step, prime_key: str) -> dict[str, frozenset[str]]:
        if target != Step.PRIME:
            return {}
        known = _just_primed(prime_key)
        _forget_primed(prime_key)
        return primed_paths(self._lcm.project_info.dirs, self._part_names, known)

    def _apply_repositories(self) -> None:
        """package-repositories into the build system's apt sources, then fresh lists."""
        data = self._project.package_repositories
        if not data:
            return
        emit.progress("Applying package-repositories")
        applied = apply_repositories(data, self._project_dir)
        _report_applied(applied)
        if applied.refresh_required:
            emit.progress("Refreshing the package lists")
            try:
                self._lcm.refresh_packages_list()
            except PartsError as err:
                raise _lifecycle_error(err) from err
        with suppress(CallbackRegistrationError):  # registered once per process
            callbacks.register_configure_overlay(_overlay_repositories)

    def clean(self, part_names: list[str] | None = None) -> None:
        """Remove what the steps made, for some parts or all of them."""
        with _in_directory(self._project_dir):
            self._lcm.clean(Step.PULL, part_names=part_names)

    def _execute(self, actions: list[Action]) -> None:
        try:
            with self._lcm.action_executor() as executor:
                for action in actions:
                    _report(action)
                    with emit.open_stream() as stream:
                        executor.execute([action], stdout=stream, stderr=stream)
        except PartsError as err:
            raise _lifecycle_error(err) from err
        except subprocess.CalledProcessError as err:
            raise LifecycleError(
                f"A command failed while running the parts: {err.cmd!r} exited {err.returncode}.",
                resolution="Check the build output above; run with --debug for a shell.",
            ) from err

    def _open_shell(self) -> None:
        emit.message("Opening a shell in the build environment; exit it to continue.")
        with emit.pause():
            subprocess.run(["bash", "-l"], cwd=self._work_dir, check=False)


def primed_paths(
    dirs: ProjectDirs, part_names: list[str], known: Mapping[str, frozenset[str]] | None = None
) -> dict[str, frozenset[str]]:
    """Each part's primed paths, from craft-parts' prime state of the part.

    ``known``: the paths of parts primed in this process, as their prime state held them
    when it was written (``_remember_primed``); the others' states are read back.
    What the overlay step made is primed once for all parts (one shared migration
    state); each such path goes to the last part whose overlay layer holds it.
    """
    known = known or {}
    parts = {name: Part(name, {}, project_dirs=dirs) for name in part_names}
    primed = {
        name: set(known[name])
        if name in known
        else _state_paths(states.get_step_state_path(part, Step.PRIME))
        for name, part in parts.items()
    }
    overlay_state = states.get_overlay_migration_state_path(dirs.overlay_dir, Step.PRIME)
    for path in sorted(_state_paths(overlay_state)):
        owner = next((n for n, p in reversed(parts.items()) if _in_layer(p, Path(path))), None)
        if owner is not None:
            primed[owner].add(path)
    return {name: frozenset(paths) for name, paths in primed.items()}


# Each part's primed paths, keyed by prime dir and part, as the prime step that ran in
# this process left them: the same paths its state file lists (every primed file), which
# a 100,000-file part would otherwise read back from YAML.
_PRIMED_IN_PROCESS: dict[tuple[str, str], frozenset[str]] = {}


def _remember_primed(step_info: StepInfo) -> bool:
    """craft-parts' post-prime callback: the state it has just written, in memory."""
    state = step_info.state
    if state is None:
        return False
    paths = frozenset(path.as_posix() for path in (*state.files, *state.directories))
    _PRIMED_IN_PROCESS[(str(step_info.prime_dir), step_info.part_name)] = paths
    return True


def _forget_primed(prime_dir: str) -> None:
    for key in [key for key in _PRIMED_IN_PROCESS if key[0] == prime_dir]:
        del _PRIMED_IN_PROCESS[key]


def _just_primed(prime_dir: str) -> dict[str, frozenset[str]]:
    return {
        part: paths for (prime, part), paths in _PRIMED_IN_PROCESS.items() if prime == prime_dir
    }


# craft-parts writes a name that is not UTF-8 as a lone surrogate, "\uDCE9", which YAML
# will not read back: carry it through a private-use character instead.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][cC]([0-9a-fA-F]{2})")
_FROM_PRIVATE = {0xFDC00 + low: 0xDC00 + low for low in range(256)}
# libyaml's loader: a state lists every primed file, and the pure-Python one is slow.
_STATE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _state_paths(state_file: Path) -> set[str]:
    """The files and directories a craft-parts step (or migration) state lists."""
    try:
        text = state_file.read_text(encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        return set()
    text, escaped = _SURROGATE_ESCAPE.subn(lambda m: "\\U000FDC" + m.group(1), text)
    try:
        state = yaml.load(text, Loader=_STATE_LOADER)
    except yaml.YAMLError:
        state = None
    if not isinstance(state, dict):
        emit.debug(f"Cannot read {state_file}: its files go to no part's layer")
        return set()
    found = {str(path) for key in ("files", "directories") for path in state.get(key) or ()}
    return {path.translate(_FROM_PRIVATE) for path in found} if escaped else found


def _in_layer(part: Part, path: Path) -> bool:
    """Whether the part's overlay layer made ``path`` (an OCI whiteout names the deletion)."""
    name = path.name
    if name == ".wh..wh..opq":
        return (part.part_layer_dir / path.parent).is_dir()
    if name.startswith(".wh."):
        hidden = part.part_layer_dir / path.parent / name[len(".wh.") :]
        return os.path.lexists(hidden) or os.path.lexists(part.part_layer_dir / path)
    return os.path.lexists(part.part_layer_dir / path)


def _report_applied(applied: Applied) -> None:
    if is_managed():
        emit.debug(f"Applied package-repositories: {', '.join(map(str, applied.changed))}")
    elif applied.changed:
        emit.message(
            "Changed this host's apt configuration for the package-repositories (the "
            "change stays after the build; delete these files to undo it): "
            + ", ".join(map(str, applied.changed))
        )
    else:
        emit.progress("This host's apt configuration has the package-repositories already")


def _overlay_repositories(overlay_dir: Path, project_info: ProjectInfo) -> None:
    """The overlay's own apt (overlay-packages) gets the repositories too, as in Rockcraft."""
    data = getattr(project_info, "package_repositories", None)
    if data:
        apply_repositories(data, Path(project_info.rockpack_project_dir), root=overlay_dir)


def _put_craftctl_on_path() -> None:
    """Part scripts call ``craftctl``; it is installed beside this Python's other scripts."""
    scripts = Path(sysconfig.get_path("scripts"))
    path = os.environ.get("PATH", "")
    if (scripts / "craftctl").exists() and str(scripts) not in path.split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([str(scripts), path]) if path else str(scripts)


def _parts_with_plugins(parts: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Parts as craft-parts takes them (a part with no plugin uses its name)."""
    return {name: dict(spec) for name, spec in parts.items()}


def _project_vars(lcm: LifecycleManager) -> dict[str, str]:
    result: dict[str, str] = {}
    for name in ADOPTABLE_VARS:
        try:
            value = lcm.project_info.get_project_var(name, raw_read=True)
        except (ValueError, KeyError, PartsError):
            continue
        if value:
            result[name] = str(value)
    return result


def _split_last_step(actions: list[Action], target: Step) -> tuple[list[Action], list[Action]]:
    before = [a for a in actions if a.step != target]
    return before, [a for a in actions if a.step == target]


def _report(action: Action) -> None:
    verb = _VERBS.get(action.step, str(action.step))
    if action.action_type == ActionType.SKIP:
        emit.debug(f"Skipping {action.step.name.lower()} for {action.part_name} (already ran)")
        return
    suffix = f" ({action.reason})" if action.reason else ""
    emit.progress(f"{verb} {action.part_name}{suffix}")


def _lifecycle_error(err: PartsError) -> LifecycleError:
    return LifecycleError(err.brief, details=err.details, resolution=err.resolution)


@contextmanager
def _in_directory(path: Path) -> Iterator[None]:
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def remove_work_dir(work_dir: Path, on_remove: Callable[[Path], None] | None = None) -> None:
    """Delete the whole lifecycle work directory (parts, stage, prime, overlay)."""
    if work_dir.exists():
        if on_remove:
            on_remove(work_dir)
        shutil.rmtree(work_dir)
