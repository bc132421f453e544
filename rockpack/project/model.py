"""The project file: its models, and loading it with errors that point at a line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import pydantic
from license_expression import get_spdx_licensing
from pydantic import Field

from rockpack.errors import ProjectFileError, ProjectFileErrors
from rockpack.project import diagnostics, pebble_rules
from rockpack.project import services as pebble_models
from rockpack.project.architectures import SUPPORTED_ARCHS
from rockpack.project.attestations import Attestations
from rockpack.project.diagnostics import KeyedError
from rockpack.project.layering import Layering
from rockpack.project.model_base import RockpackModel
from rockpack.project.names import (
    NAME_MAX,
    NAME_MIN,
    NAME_PATTERN,
    Environment,
    InvalidValueError,
    RuleError,
    check,
    nested_part_names,
    part_name_problem,
    platform_name_problem,
    rock_name_problem,
    version_problem,
)
from rockpack.project.project_file import find_project_file as find_project_file
from rockpack.project.repositories import repository_problems
from rockpack.project.yaml_source import KeyPath, YamlSource, load_yaml

DistroBase = Literal[
    "ubuntu@20.04",
    "ubuntu@22.04",
    "ubuntu@24.04",
    "ubuntu@25.10",
    "ubuntu@26.04",
    "debian@12",
    "debian@13",
]
BaseName = Literal["bare", DistroBase]
BuildBaseName = Literal[DistroBase, "devel"]
BASES: tuple[str, ...] = ("bare", *get_args(DistroBase))
# Rockcraft still reads these with a warning; any other "distro:version" is an error.
DEPRECATED_COLON_BASES = {"ubuntu:20.04": "ubuntu@20.04", "ubuntu:22.04": "ubuntu@22.04"}

LEGACY_KEYS = ("cmd", "entrypoint", "env")
LEGACY_MESSAGE = (
    "is not supported: rocks start services through Pebble, so the image's command and "
    "environment come from 'services' (and 'environment')."
)
LEGACY_FIX = (
    "Describe the program as a service under 'services' (use 'entrypoint-service' to make "
    "it the default), or set 'entrypoint-command'; move variables to 'environment'."
)

Arch = Literal["amd64", "arm64", "armhf", "i386", "ppc64el", "riscv64", "s390x"]


def validate_version(value: str, source: str) -> str:
    """``value`` if it is a valid rock version, else InvalidValueError naming ``source``.

    For a version that does not come from the project file: a part's
    ``craftctl set version=...``. It names the .rock file and tags the image.
    """
    problem = version_problem(value)
    if problem:
        raise InvalidValueError(source, "version", value, problem.removeprefix("invalid version: "))
    return value


def validate_rock_name(value: str, source: str) -> str:
    """``value`` if it is a valid rock name, else InvalidValueError naming ``source``."""
    problem = rock_name_problem(value)
    if problem:
        raise InvalidValueError(
            source, "rock name", value, problem.removeprefix("invalid name for rock: ")
        )
    return value


def _part_name(name: str) -> str:
    check(part_name_problem(name), "Rename the part (e.g. 'my-part', or 'group/my-part').")
    return name


PartName = Annotated[str, pydantic.AfterValidator(_part_name)]


def _platform_name(name: str) -> str:
    check(platform_name_problem(name), "Rename the platform (e.g. 'amd64' or 'my-platform').")
    return name


PlatformName = Annotated[str, pydantic.AfterValidator(_platform_name)]


def _as_list(value: object) -> object:
    return [value] if isinstance(value, str) else value


class CustomRunUser(RockpackModel):
    """A run-user of the project's own, with explicit ids (beyond Rockcraft's _daemon_)."""

    name: str = Field(
        pattern=r"^[a-z_][a-z0-9_-]{0,31}$", description="A user name, as useradd takes it."
    )
    uid: int = Field(ge=1, le=4294967294, description="The user's numeric id (not root).")
    gid: int = Field(ge=1, le=4294967294, description="The user's primary group id.")


def _run_user_kind(value: object) -> str:
    return "declared" if isinstance(value, dict | CustomRunUser) else "named"


# A string names a known user; a mapping declares one. Only the matching form's errors
# are reported (the tags are dropped from error locations).
RUN_USER_TAGS = ("named", "declared")
RunUserField = (
    Annotated[
        Annotated[Literal["_daemon_"], pydantic.Tag("named")]
        | Annotated[CustomRunUser, pydantic.Tag("declared")],
        pydantic.Discriminator(_run_user_kind),
    ]
    | None
)


class Platform(RockpackModel):
    """Where a rock is built and what it runs on."""

    build_on: Annotated[list[Arch], pydantic.BeforeValidator(_as_list)] = Field(
        min_length=1, description="Architectures this platform can be built on."
    )
    build_for: Annotated[list[Arch], pydantic.BeforeValidator(_as_list)] | None = Field(
        default=None,
        min_length=1,
        max_length=1,
        description="The single architecture the rock runs on.",
    )


class Project(RockpackModel):
    """A rockpack project file (rockpack.yaml or rockcraft.yaml)."""

    name: str = Field(
        json_schema_extra={"minLength": NAME_MIN, "maxLength": NAME_MAX, "pattern": NAME_PATTERN},
        description="The rock's name: 3 to 40 lowercase letters, digits and single hyphens, "
        "starting with a letter and not ending with a hyphen.",
    )
    title: str | None = Field(default=None, description="A human-readable title.")
    version: str | None = Field(
        default=None,
        description='The rock\'s version (quote it: "1.10"); tags the image and names the '
        ".rock file.",
    )
    # Rockcraft's project model drops craft-application's 78-character limit.
    summary: str | None = Field(default=None, description="A short description of the rock.")
    description: str | None = None
    license: str | None = Field(default=None, description="An SPDX license expression.")
    base: BaseName = Field(description="The image the rock's layers are put on.")
    build_base: BuildBaseName | None = Field(
        default=None, description="The system the parts are built on; required with 'bare'."
    )
    platforms: dict[PlatformName, Platform | None] = Field(
        min_length=1, description="Platforms to build; a null value means build-on=build-for=name."
    )
    run_user: RunUserField = Field(
        default=None,
        description="Who the rock runs as: '_daemon_' (584792), or {name, uid, gid}.",
    )
    environment: Environment | None = None
    services: dict[pebble_rules.ServiceName, pebble_models.Service] | None = None
    checks: dict[pebble_rules.CheckName, pebble_models.Check] | None = None
    entrypoint_service: str | None = None
    entrypoint_command: str | None = None
    pebble: Literal["injected", "project"] = Field(
        default="injected",
        description="Where /usr/bin/pebble comes from: rockpack's injected part, or "
        "('project') the project's own part named 'pebble'.",
    )
    extensions: list[str] | None = None
    package_repositories: list[dict[str, Any]] | None = None
    adopt_info: str | None = None
    layering: Layering | None = Field(default=None, description=Layering.__doc__)
    attestations: Attestations | None = Field(default=None, description=Attestations.__doc__)
    parts: dict[PartName, dict[str, Any]] = Field(
        description="craft-parts parts; each is validated by craft-parts and its plugin."
    )

    @pydantic.field_validator("name")
    @classmethod
    def _name_format(cls, name: str) -> str:
        check(rock_name_problem(name), "Rename the rock (e.g. 'my-rock').")
        return name

    @pydantic.field_validator("version")
    @classmethod
    def _version_format(cls, version: str | None) -> str | None:
        if version is not None:
            check(version_problem(version), 'Use a version such as "1.0" or "2.4.1+git3".')
        return version

    @pydantic.field_validator("license")
    @classmethod
    def _license_spdx(cls, license_: str | None) -> str | None:
        if not license_ or license_ == "proprietary":
            return license_ or None
        try:
            errors = get_spdx_licensing().validate(license_).errors
        except (AttributeError, ValueError, TypeError) as err:  # the parser's own failures
            errors = [f"cannot parse it: {err.__class__.__name__}"]
        if errors:
            raise ValueError(
                f"license {license_!r} is not 'proprietary' or an SPDX expression "
                f"({'; '.join(errors)})"
            )
        return license_

    @pydantic.field_validator("environment")
    @classmethod
    def _no_interpolation(cls, environment: dict[str, str] | None) -> dict[str, str] | None:
        for key, value in (environment or {}).items():
            if "$" in value:
                raise KeyedError((key,), f"'{key}': variable interpolation ('$') is not supported")
        return environment

    @pydantic.field_validator("parts")
    @classmethod
    def _parts_not_nested(cls, parts: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for nested, parent in nested_part_names(list(parts)):
            raise KeyedError(
                (nested,),
                f"part '{nested}' is inside part '{parent}' (craft-parts keeps each part in "
                "parts/<name>/, so one cannot be a directory of the other)",
                f"Rename '{nested}' or '{parent}'.",
            )
        return parts

    @pydantic.field_validator("platforms")
    @classmethod
    def _platforms_known(cls, platforms: dict[str, Platform | None]) -> dict[str, Platform | None]:
        for label, platform in platforms.items():
            if platform is None or platform.build_for is None:
                if label not in SUPPORTED_ARCHS:
                    raise ValueError(
                        f"platform '{label}' is not an architecture, so it needs 'build-on' "
                        f"and 'build-for' (architectures: {', '.join(SUPPORTED_ARCHS)})"
                    )
            elif label in SUPPORTED_ARCHS and platform.build_for[0] != label:
                raise ValueError(
                    f"platform '{label}' is named after an architecture but builds for "
                    f"'{platform.build_for[0]}'; make the two match or rename the platform"
                )
        return platforms

    @pydantic.model_validator(mode="after")
    def _cross_field_rules(self) -> Project:
        if self.base == "bare" and self.build_base is None:
            raise KeyedError(("base",), "'build-base' is required when 'base' is 'bare'")
        if not self.adopt_info:
            missing = [k for k in ("version", "summary", "description") if getattr(self, k) is None]
            if missing:
                raise KeyedError(
                    (missing[0],),
                    f"missing {', '.join(repr(m) for m in missing)} (needed unless 'adopt-info' "
                    "names a part that sets them)",
                )
        elif self.adopt_info not in self.parts:
            raise KeyedError(
                ("adopt-info",), f"'adopt-info' names unknown part '{self.adopt_info}'"
            )
        if self.pebble == "project" and "pebble" not in self.parts:
            raise KeyedError(
                ("pebble",),
                "'pebble: project' needs a part named 'pebble' that installs usr/bin/pebble",
            )
        return self

    @pydantic.model_validator(mode="after")
    def _entrypoint_rules(self) -> Project:
        if self.entrypoint_service and self.entrypoint_command:
            raise KeyedError(
                ("entrypoint-command",),
                "set either 'entrypoint-service' or 'entrypoint-command', not both",
            )
        if self.entrypoint_service:
            service = (self.services or {}).get(self.entrypoint_service)
            if service is None:
                raise KeyedError(
                    ("entrypoint-service",),
                    f"'entrypoint-service' names unknown service '{self.entrypoint_service}'",
                )
            command = service.command or ""
            if not command or pebble_models.split_command_group(command)[1] is None:
                raise KeyedError(
                    ("entrypoint-service",),
                    f"'entrypoint-service': service '{self.entrypoint_service}' has no default "
                    "arguments in '[ ... ]', so it cannot be the entrypoint",
                    "End the service's command with '[ default args ]', or with '[ ]' for none.",
                )
        if self.entrypoint_command:
            try:
                pebble_models.split_command(self.entrypoint_command, attached_brackets=True)
            except pebble_models.CommandSyntaxError as err:
                raise KeyedError(("entrypoint-command",), f"'entrypoint-command' {err}") from err
        return self

    @pydantic.model_validator(mode="after")
    def _pebble_rules(self) -> Project:
        """What Pebble would refuse when the rock starts, refused now."""
        services = self.services or {}
        if self.runs_pebble:
            problem = pebble_rules.label_problem(self.name)
            if problem:
                raise KeyedError(
                    ("name",),
                    problem,
                    "Rename the rock so its name does not start with "
                    f"'{pebble_rules.RESERVED_LABEL_PREFIX}'.",
                )
        problems = pebble_models.check_references(services, self.checks or {})
        if problems:
            key = problems[0][0]
            raise KeyedError(key, "; ".join(m for _, m in problems))
        loop = pebble_rules.start_order_loop(services)
        if loop:
            raise KeyedError(
                ("services", loop[0]),
                pebble_rules.loop_message(loop),
                "Remove one of the 'after'/'before' entries that close the loop.",
            )
        return self

    @property
    def runs_pebble(self) -> bool:
        """Whether the rock's entrypoint is Pebble: every rock but one with an
        entrypoint-command and no services or checks."""
        has_services = bool(self.services) or bool(self.checks)
        return pebble_rules.runs_pebble(has_services, self.entrypoint_command)

    @property
    def effective_build_base(self) -> str:
        """The system the parts build on: build-base, or the base itself."""
        return self.build_base or self.base

    @property
    def effective_title(self) -> str:
        return self.title or self.name

    def marshal(self) -> dict[str, Any]:
        """The project as it would be written in YAML (kebab-case keys, no nulls)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


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
    warnings = _apply_legacy_rules(source, data)
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


def _apply_legacy_rules(source: YamlSource, data: dict[str, Any]) -> list[str]:
    """Reject keys and bases Rockcraft retired; rewrite the deprecated colon bases."""
    errors = [
        ProjectFileError(
            source.path, LEGACY_MESSAGE, key=key, line=source.line_of((key,)), fix=LEGACY_FIX
        )
        for key in LEGACY_KEYS
        if key in data
    ]
    warnings: list[str] = []
    for key in ("base", "build-base"):
        value = data.get(key)
        if isinstance(value, str) and value in DEPRECATED_COLON_BASES:
            data[key] = DEPRECATED_COLON_BASES[value]
            warnings.append(f"'{key}: {value}' is deprecated; write '{data[key]}'.")
    if errors:
        raise ProjectFileErrors(errors)
    return warnings


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
