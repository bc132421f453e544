"""The project file: its models, and loading it with errors that point at a line."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import pydantic
from license_expression import get_spdx_licensing
from pydantic import Field

from rockpack.errors import ProjectFileError, ProjectFileErrors, ProjectNotFoundError
from rockpack.project import parts as parts_validation
from rockpack.project import services as pebble_models
from rockpack.project.architectures import SUPPORTED_ARCHS
from rockpack.project.model_base import RockpackModel
from rockpack.project.repositories import repository_problems
from rockpack.project.yaml_source import KeyPath, YamlSource, load_yaml

PROJECT_FILE_NAMES = ("rockpack.yaml", "rockcraft.yaml")

NAME_RE = r"^([a-z](?:-?[a-z0-9]){2,})$"
NAME_MAX = 40
VERSION_RE = r"^[a-zA-Z0-9](?:[a-zA-Z0-9:.+~-]{0,30}[a-zA-Z0-9+~])?$"
SUMMARY_MAX = 78

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


class KeyedError(ValueError):
    """A cross-field problem that belongs to one key, so its line can be found."""

    def __init__(self, key: KeyPath, message: str) -> None:
        super().__init__(message)
        self.key = key


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
        max_length=NAME_MAX,
        description="The rock's name: lowercase letters, digits and single hyphens, "
        "starting with a letter and not ending with a hyphen.",
    )
    title: str | None = Field(default=None, description="A human-readable title.")
    version: str | None = Field(
        default=None,
        description="The rock's version; tags the image and names the .rock file.",
    )
    summary: str | None = Field(default=None, max_length=SUMMARY_MAX)
    description: str | None = None
    license: str | None = Field(default=None, description="An SPDX license expression.")
    base: BaseName = Field(description="The image the rock's layers are put on.")
    build_base: BuildBaseName | None = Field(
        default=None, description="The system the parts are built on; required with 'bare'."
    )
    platforms: dict[str, Platform | None] = Field(
        min_length=1, description="Platforms to build; a null value means build-on=build-for=name."
    )
    run_user: RunUserField = Field(
        default=None,
        description="Who the rock runs as: '_daemon_' (584792), or {name, uid, gid}.",
    )
    environment: dict[str, str] | None = None
    services: dict[str, pebble_models.Service] | None = None
    checks: dict[str, pebble_models.Check] | None = None
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
    parts: dict[str, dict[str, Any]] = Field(
        description="craft-parts parts; each is validated by craft-parts and its plugin."
    )

    @pydantic.field_validator("name")
    @classmethod
    def _name_format(cls, name: str) -> str:
        if not re.match(NAME_RE, name):
            raise ValueError(
                "invalid name for rock: use ASCII lowercase letters, numbers and hyphens; "
                "start with a letter, do not end with a hyphen or use two hyphens in a row"
            )
        return name

    @pydantic.field_validator("version")
    @classmethod
    def _version_format(cls, version: str | None) -> str | None:
        if version is not None and not re.match(VERSION_RE, version):
            raise ValueError(
                "invalid version: use up to 32 letters, digits and ':.+~-', starting with a "
                "letter or digit and ending with one of those or '+' or '~'"
            )
        return version

    @pydantic.field_validator("license")
    @classmethod
    def _license_spdx(cls, license_: str | None) -> str | None:
        if not license_ or license_ == "proprietary":
            return license_ or None
        info = get_spdx_licensing().validate(license_)
        if info.errors:
            raise ValueError(
                f"license {license_!r} is not 'proprietary' or an SPDX expression "
                f"({'; '.join(info.errors)})"
            )
        return license_

    @pydantic.field_validator("environment")
    @classmethod
    def _no_interpolation(cls, environment: dict[str, str] | None) -> dict[str, str] | None:
        for key, value in (environment or {}).items():
            if "$" in value:
                raise ValueError(f"'{key}': variable interpolation ('$') is not supported")
        return environment

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
        if self.entrypoint_service and self.entrypoint_command:
            raise KeyedError(
                ("entrypoint-command",),
                "set either 'entrypoint-service' or 'entrypoint-command', not both",
            )
        services = self.services or {}
        if self.entrypoint_service:
            service = services.get(self.entrypoint_service)
            if service is None:
                raise KeyedError(
                    ("entrypoint-service",),
                    f"'entrypoint-service' names unknown service '{self.entrypoint_service}'",
                )
            if not service.command or not pebble_models.split_command(service.command)[1]:
                raise KeyedError(
                    ("entrypoint-service",),
                    f"'entrypoint-service': service '{self.entrypoint_service}' has no default "
                    "arguments in '[ ... ]', so it cannot be the entrypoint",
                )
        if self.entrypoint_command:
            try:
                pebble_models.split_command(self.entrypoint_command, attached_brackets=True)
            except pebble_models.CommandSyntaxError as err:
                raise KeyedError(("entrypoint-command",), f"'entrypoint-command' {err}") from err
        problems = pebble_models.check_references(services, self.checks or {})
        if problems:
            key = problems[0][0]
            raise KeyedError(key, "; ".join(m for _, m in problems))
        return self

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


def find_project_file(project_dir: Path) -> Path:
    """rockpack.yaml if it exists, else rockcraft.yaml."""
    for name in PROJECT_FILE_NAMES:
        candidate = project_dir / name
        if candidate.is_file():
            return candidate
    raise ProjectNotFoundError(project_dir)


def load_project(project_dir: Path) -> LoadedProject:
    """Find, parse and validate the project file in ``project_dir``."""
    path = find_project_file(project_dir)
    return validate_project(load_yaml(path))


def validate_project(source: YamlSource) -> LoadedProject:
    """Validate a parsed project file; raise one error listing every problem found."""
    data = source.data
    if not isinstance(data, dict):
        raise ProjectFileError(
            source.path, "must be a mapping of keys (name:, base:, parts: ...).", line=1
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
    errors += _part_errors(source, data)
    errors += _repository_errors(source, data.get("package-repositories"))
    if errors or project is None:
        errors.sort(key=lambda e: e.line or 0)
        raise ProjectFileErrors(errors)
    return LoadedProject(project=project, path=source.path, source=source, warnings=warnings)


# Extensions rockpack can expand, by name. None exist yet; the key is read so that a
# project using one fails with a message about the extension, not about what it adds.
EXTENSIONS: dict[str, Any] = {}


def _expand_extensions(source: YamlSource, data: dict[str, Any]) -> None:
    names = data.get("extensions") or []
    if not isinstance(names, list):
        return  # the model reports the wrong type
    unknown = [n for n in names if n not in EXTENSIONS]
    if unknown:
        available = ", ".join(sorted(EXTENSIONS)) or "none yet"
        raise ProjectFileError(
            source.path,
            f"uses extension(s) rockpack does not provide: {', '.join(map(str, unknown))} "
            f"(available: {available}).",
            key="extensions",
            line=source.line_of(("extensions",)),
            fix="Write out the parts and services the extension would add, and remove "
            "'extensions'.",
        )


def _repository_errors(source: YamlSource, repositories: object) -> list[ProjectFileError]:
    errors = []
    for sub, message, kind in repository_problems(repositories):
        loc = ("package-repositories", *sub)
        errors.append(
            ProjectFileError(
                source.path,
                message if message.endswith(".") else message + ".",
                key=".".join(map(str, loc)),
                line=source.line_of(loc),
                fix=_TYPE_FIXES.get(kind),
            )
        )
    return errors


def _part_errors(source: YamlSource, data: dict[str, Any]) -> list[ProjectFileError]:
    parts = data.get("parts")
    if not isinstance(parts, dict):
        return []
    errors: list[ProjectFileError] = []
    for name, spec in parts.items():
        if not isinstance(spec, dict):
            continue  # the model reports a part that is not a mapping
        if data.get("base") == "bare" and parts_validation.has_overlay(spec):
            errors.append(
                ProjectFileError(
                    source.path,
                    "uses the overlay step, but a 'bare' base has no system to overlay.",
                    key=f"parts.{name}",
                    line=source.line_of(("parts", name)),
                    fix="Remove overlay-packages/overlay-script/overlay, or use a real base.",
                )
            )
        for sub, message, kind in parts_validation.part_problems(str(name), spec):
            loc = ("parts", str(name), *sub)
            errors.append(
                ProjectFileError(
                    source.path,
                    message if message.endswith(".") else message + ".",
                    key=".".join(loc),
                    line=source.line_of(loc),
                    fix=_TYPE_FIXES.get(kind),
                )
            )
    return errors


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


_TYPE_FIXES = {
    "missing": "Add the key.",
    "extra_forbidden": "Remove the key, or check its spelling.",
    "literal_error": "Use one of the values listed.",
    "string_too_long": "Shorten the value.",
    "list_type": "Write a YAML list: one '- item' per line, or [a, b].",
    "dict_type": "Write a mapping of 'key: value' lines.",
    "model_type": "Write a mapping of 'key: value' lines.",
    "string_type": "Write a string (quote it if YAML reads it as something else).",
    "int_type": "Write a whole number.",
    "int_parsing": "Write a whole number.",
    "float_parsing": "Write a number.",
    "greater_than_equal": "Use a larger value.",
    "less_than_equal": "Use a smaller value.",
}


def _to_file_error(source: YamlSource, error: Any) -> ProjectFileError:
    """Turn one pydantic error into a located project-file error, by error type."""
    loc: KeyPath = tuple(error["loc"])
    # Drop pydantic's union/function markers ("function-before[...]", "list[...]").
    loc = tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p in RUN_USER_TAGS)))
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, KeyedError):
        loc = (*loc, *cause.key)
    key = ".".join(str(p) for p in loc) or None
    kind = error["type"]
    message = str(error["msg"]).removeprefix("Value error, ")
    fix = _TYPE_FIXES.get(kind)
    if kind == "missing":
        message = "is required but missing."
    elif kind == "extra_forbidden":
        message = "is not a known key."
        suggestion = _closest_key(source, loc)
        if suggestion:
            fix = f"Did you mean '{suggestion}'?"
    elif kind == "literal_error":
        message = f"{message} (got {error.get('input')!r})."
        if loc and loc[-1] in ("base", "build-base"):
            fix = f"Use one of: {', '.join(BASES)}."
        elif loc[:1] == ("run-user",):
            fix = "Use '_daemon_', or {name: NAME, uid: N, gid: N}; remove the key to run as root."
    elif not message.endswith("."):
        message += "."
    line = source.line_of(loc) if loc else None
    return ProjectFileError(source.path, message, key=key, line=line, fix=fix)


def _closest_key(source: YamlSource, loc: KeyPath) -> str | None:
    """A likely intended key for a misspelt one (``run_user`` -> ``run-user``)."""
    if len(loc) != 1 or not isinstance(loc[0], str):
        return None
    known = [f.alias or name for name, f in Project.model_fields.items()]
    typed = loc[0].replace("_", "-")
    if typed in known:
        return typed
    matches = difflib.get_close_matches(typed, known, n=1)
    return matches[0] if matches else None
