"""Loading the project file, with every problem in one error, each at its line.

The model (project_model.py) says what a valid project is; loading wraps it in what needs
the file itself: Rockcraft's legacy keys and the extensions before, craft-parts' and
craft-archives' checks after, and the line of each problem. Callers import Project here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic

from rockpack.errors import ProjectFileError, ProjectFileErrors
from rockpack.project import diagnostics, pebble_rules
from rockpack.project.diagnostics import KeyedError
from rockpack.project.legacy import apply_legacy_rules
from rockpack.project.names import RuleError
from rockpack.project.project_file import find_project_file as find_project_file
from rockpack.project.project_model import BASES
from rockpack.project.project_model import Project as Project
from rockpack.project.repositories import repository_problems
from rockpack.project.run_user import RUN_USER_TAGS
from rockpack.project.yaml_source import KeyPath, YamlSource, load_yaml


@dataclass(frozen=True)
class LoadedProject:
    """A validated project, where it came from, and warnings for the user."""

    project: Project
    path: Path
    source: YamlSource
    warnings: list[str] = field(default_factory=list)

    @property
    def project_dir(self) -> Path:
        return self.path.parent


def load_project(project_dir: Path) -> LoadedProject:
    """Find, parse and validate the project file in ``project_dir``."""
    path = find_project_file(project_dir)
    return validate_project(load_yaml(path))


# What a rule (ours, or craft-parts' or craft-archives') may raise on data it did not
# expect; a project file must never cause an internal error, so each becomes a file error.
_UNEXPECTED = (ValueError, TypeError, AttributeError, KeyError, IndexError, RecursionError)


def validate_project(source: YamlSource) -> LoadedProject:
    """Validate a parsed project file; raise one error listing every problem found."""
    try:
        return _validate(source)
    except _UNEXPECTED as err:
        raise ProjectFileError(
            source.path,
            f"cannot be validated: {type(err).__name__}: {str(err)[:200]}.",
            fix="Check the file's keys and values against docs/project-file.md; if they "
            "look right, please report this with the file.",
        ) from err


def part_errors(source: YamlSource, data: dict[str, Any]) -> list[ProjectFileError]:
    """craft-parts' problems with the parts. craft-parts takes a quarter of a second to
    import: only validation loads it, not importing the models (types, a no-op pack)."""
    from rockpack.project import part_errors as parts_validation

    return parts_validation.part_errors(source, data)


def first_errors(source: YamlSource, errors: list[ProjectFileError]) -> list[ProjectFileError]:
    from rockpack.project import part_errors as parts_validation

    return parts_validation.first_errors(source, errors)


def _validate(source: YamlSource) -> LoadedProject:
    data = source.data
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a single value ({data!r:.40})"
        raise ProjectFileError(
            source.path,
            f"must be a mapping of keys (name:, base:, parts: ...), not {kind}.",
            line=1,
            fix="Start the file with 'name: my-rock' and the other top-level keys.",
        )
    data = dict(data)
    warnings = apply_legacy_rules(source, data)
    _expand_extensions(source, data)
    errors: list[ProjectFileError] = []
    project = None
    try:
        project = Project.model_validate(data)
    except pydantic.ValidationError as err:
        errors = [_to_file_error(source, e) for e in err.errors()]
    if project is not None:
        errors += diagnostics.number_errors(source, data, project.model_dump(by_alias=True))
    errors += part_errors(source, data)
    errors += _repository_errors(source, data.get("package-repositories"))
    if errors or project is None:
        errors.sort(key=lambda e: e.line or 0)
        raise ProjectFileErrors(first_errors(source, errors))
    warnings += [
        f"service '{name}': Pebble deprecates '{name}' as a service name; rename it."
        for name in pebble_rules.deprecated_service_names(project.services or {})
    ]
    return LoadedProject(project=project, path=source.path, source=source, warnings=warnings)


def _expand_extensions(source: YamlSource, data: dict[str, Any]) -> None:
    """Replace 'extensions' by what they add, as Rockcraft does, before validation."""
    import os

    from rockpack.project.extensions import (
        ExtensionError,
        apply_extensions,
        experimental_allowed,
    )

    names = data.get("extensions") or []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return  # the model reports the wrong type
    try:
        apply_extensions(
            source.path.parent,
            data,
            allow_experimental=experimental_allowed(os.environ),
        )
    except ExtensionError as err:
        where = [i for i, n in enumerate(names) if n in err.extension.split(", ")] or [0]
        line = source.line_of(("extensions", where[0])) or source.line_of(("extensions",))
        raise ProjectFileErrors(
            [
                ProjectFileError(
                    source.path,
                    f"extension '{err.extension}': {problem}.",
                    key="extensions",
                    line=line,
                    fix=err.resolution,
                )
                for problem in err.problems
            ]
        ) from err


def _repository_errors(source: YamlSource, repositories: object) -> list[ProjectFileError]:
    return [
        diagnostics.error_for(source, sub, kind, message, None, prefix=("package-repositories",))
        for sub, message, kind in repository_problems(repositories)
    ]


def _literal_fix(loc: KeyPath) -> str | None:
    if loc and loc[-1] in ("base", "build-base", "build_base"):
        return f"Use one of: {', '.join(BASES)}."
    if loc[:1] in (("run-user",), ("run_user",)):
        return "Use '_daemon_', or {name: NAME, uid: N, gid: N}; remove the key to run as root."
    return None


def _to_file_error(source: YamlSource, error: Any) -> ProjectFileError:
    """Turn one pydantic error into a located project-file error, by error type."""
    loc = diagnostics.clean_loc(error["loc"], RUN_USER_TAGS)
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, KeyedError):
        return diagnostics.located(source, (*loc, *cause.key), str(cause), cause.fix)
    if isinstance(cause, RuleError):
        return diagnostics.located(source, loc, str(cause), cause.fix)
    return diagnostics.error_for(
        source,
        loc,
        error["type"],
        str(error["msg"]),
        error.get("input"),
        models=[Project],
        literal_fix=_literal_fix,
    )
