"""The Project model: a project file's keys, their types, and the rules across them.

Every rule that needs only the file's values is here, so that a project which validates
is one the later stages can take as it is; loading it (model.py) adds the checks that
need craft-parts, craft-archives or the file's lines.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

import pydantic
from license_expression import get_spdx_licensing
from pydantic import Field

from rockpack.project import pebble_rules
from rockpack.project import services as pebble_models
from rockpack.project.attestations import Attestations
from rockpack.project.diagnostics import KeyedError
from rockpack.project.layering import Layering
from rockpack.project.model_base import RockpackModel
from rockpack.project.names import (
    NAME_MAX,
    NAME_MIN,
    NAME_PATTERN,
    Environment,
    check,
    nested_part_names,
    part_name_problem,
    rock_name_problem,
    version_problem,
)
from rockpack.project.platforms import Platform, PlatformName, check_platforms
from rockpack.project.run_user import RunUserField

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


def _part_name(name: str) -> str:
    check(part_name_problem(name), "Rename the part (e.g. 'my-part', or 'group/my-part').")
    return name


PartName = Annotated[str, pydantic.AfterValidator(_part_name)]


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
        return check_platforms(platforms)

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
