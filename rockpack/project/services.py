"""Pebble services and checks as declared in a project file.

The models accept exactly what Pebble's layer format accepts (unknown keys, numbers
where a duration is expected and a missing ``override`` are rejected, as Pebble would).
"""

from __future__ import annotations

import re
import shlex
from typing import Annotated, Literal

import pydantic
from pydantic import Field

from rockpack.project.model_base import RockpackModel
from rockpack.project.names import Environment, RuleError
from rockpack.project.pebble_rules import is_zero_duration

# Go's time.ParseDuration syntax with a mandatory unit ("0" alone is not accepted).
_DURATION_RE = re.compile(r"^(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+$")


def _check_duration(value: object) -> object:
    if not isinstance(value, str) or not _DURATION_RE.match(value):
        raise ValueError(
            f"{value!r} is not a duration: write a number with a unit, such as '500ms', "
            "'10s' or '1m30s'"
        )
    return value


Duration = Annotated[
    str,
    pydantic.BeforeValidator(_check_duration),
    Field(description="A Go-style duration with a unit, e.g. '500ms', '10s', '1m30s'."),
]
Startup = Literal["enabled", "disabled"]
Override = Literal["merge", "replace"]


class CommandSyntaxError(ValueError):
    """A service command's optional ``[ default args ]`` group is malformed."""


def split_command(command: str, *, attached_brackets: bool = False) -> tuple[list[str], list[str]]:
    """Split a command into its fixed words and its bracketed default arguments.

    Pebble's rule: an optional final ``[ ... ]`` group holds arguments that
    ``pebble enter --args`` may replace. With ``attached_brackets``, ``[arg]`` written
    without spaces is accepted too (Rockcraft's entrypoint-command allows it).
    """
    fixed, defaults = split_command_group(command, attached_brackets=attached_brackets)
    return fixed, defaults or []


def split_command_group(
    command: str, *, attached_brackets: bool = False
) -> tuple[list[str], list[str] | None]:
    """Like split_command, but the defaults are None when there is no ``[ ... ]`` group.

    ``/bin/web [ ]`` has an empty group (no default arguments, Rockcraft 1.16+), which
    is not the same as ``/bin/web`` (no group).
    """
    try:
        words = shlex.split(command)
    except ValueError as err:
        raise CommandSyntaxError(f"cannot be split into words: {err}") from err
    if attached_brackets:
        words = _detach_brackets(words)
    fixed: list[str] = []
    defaults: list[str] = []
    state = "fixed"  # -> "group" -> "closed"
    for word in words:
        if state == "group":
            if word == "[":
                raise CommandSyntaxError("cannot nest '[ ... ]' groups")
            if word == "]":
                state = "closed"
            else:
                defaults.append(word)
        elif state == "closed":
            raise CommandSyntaxError("has words after its '[ ... ]' group; the group must be last")
        elif word == "[":
            if not fixed:
                raise CommandSyntaxError("cannot start with a '[ ... ]' group")
            state = "group"
        elif word == "]":
            raise CommandSyntaxError("has a ']' without a matching '['")
        else:
            fixed.append(word)
    if state == "group":
        raise CommandSyntaxError("has a '[' without a closing ']'")
    if not fixed:
        raise CommandSyntaxError("is empty")
    return fixed, defaults if state == "closed" else None


def _detach_brackets(words: list[str]) -> list[str]:
    out: list[str] = []
    for word in words:
        opening = word.startswith("[") and word != "["
        closing = word.endswith("]") and word != "]"
        core = word[1 if opening else 0 : -1 if closing else None]
        out.extend(["["] if opening else [])
        out.extend([core] if core else [])
        out.extend(["]"] if closing else [])
    return out


class _RunsAs(RockpackModel):
    """Where and as whom a Pebble service or exec check runs its command."""

    environment: Environment | None = None
    user: str | None = None
    user_id: int | None = Field(default=None, ge=0)
    group: str | None = None
    group_id: int | None = Field(default=None, ge=0)
    working_dir: str | None = None


class Service(_RunsAs):
    """A Pebble service."""

    override: Override = Field(description="How this layer combines with lower layers.")
    command: str | None = Field(default=None, description="The command to run.")
    summary: str | None = None
    description: str | None = None
    startup: Startup | None = None
    after: list[str] | None = None
    before: list[str] | None = None
    requires: list[str] | None = None
    on_success: Literal["restart", "shutdown", "failure-shutdown", "ignore"] | None = None
    on_failure: Literal["restart", "shutdown", "success-shutdown", "ignore"] | None = None
    on_check_failure: (
        dict[str, Literal["restart", "shutdown", "success-shutdown", "ignore"]] | None
    ) = None
    backoff_delay: Duration | None = None
    backoff_factor: float | None = Field(default=None, ge=1)
    backoff_limit: Duration | None = None
    kill_delay: Duration | None = None

    @pydantic.field_validator("command")
    @classmethod
    def _command_well_formed(cls, command: str | None) -> str | None:
        if command is not None:
            try:
                split_command(command)
            except CommandSyntaxError as err:
                raise ValueError(f"the command {err}") from err
        return command

    @pydantic.model_validator(mode="after")
    def _replace_needs_command(self) -> Service:
        if self.override == "replace" and not self.command:
            raise ValueError("a service with 'override: replace' needs a 'command'")
        return self


class HttpCheck(RockpackModel):
    """An HTTP check: succeeds on a 2xx answer."""

    url: str
    headers: dict[str, str] | None = None


class TcpCheck(RockpackModel):
    """A TCP check: succeeds when the port accepts a connection."""

    port: int = Field(ge=1, le=65535)
    host: str | None = None


class ExecCheck(_RunsAs):
    """An exec check: succeeds when the command exits 0."""

    command: str
    service_context: str | None = None


class Check(RockpackModel):
    """A Pebble health check: exactly one of http, tcp or exec."""

    override: Override
    level: Literal["alive", "ready"] | None = None
    startup: Startup | None = None
    period: Duration | None = None
    timeout: Duration | None = None
    threshold: int | None = Field(default=None, ge=1)
    http: HttpCheck | None = None
    tcp: TcpCheck | None = None
    exec: ExecCheck | None = None

    @pydantic.model_validator(mode="after")
    def _exactly_one_kind(self) -> Check:
        kinds = [k for k in ("http", "tcp", "exec") if getattr(self, k) is not None]
        if len(kinds) != 1:
            found = ", ".join(kinds) if kinds else "none"
            raise ValueError(
                f"a check needs exactly one of 'http', 'tcp' or 'exec' (found: {found})"
            )
        return self

    @pydantic.model_validator(mode="after")
    def _times_not_zero(self) -> Check:
        for key in ("period", "timeout"):
            value = getattr(self, key)
            if value is not None and is_zero_duration(value):
                raise RuleError(
                    f"'{key}: {value}' is zero, and Pebble refuses it: {key} must not be zero",
                    f"Set a {key} above zero, such as '10s', or remove the key.",
                )
        return self


def check_references(
    services: dict[str, Service], checks: dict[str, Check]
) -> list[tuple[tuple[str, ...], str]]:
    """Names in services and checks that refer to nothing: (key path, message) each."""
    problems: list[tuple[tuple[str, ...], str]] = []
    for name, service in services.items():
        for field in ("after", "before", "requires"):
            for target in getattr(service, field) or []:
                if target not in services:
                    problems.append(
                        (
                            ("services", name, field),
                            f"service '{name}': '{field}' names unknown service '{target}'",
                        )
                    )
        for check_name in service.on_check_failure or {}:
            if check_name not in checks:
                problems.append(
                    (
                        ("services", name, "on-check-failure"),
                        f"service '{name}': 'on-check-failure' names unknown check '{check_name}'",
                    )
                )
    for name, check in checks.items():
        context = check.exec.service_context if check.exec else None
        if context and context not in services:
            problems.append(
                (
                    ("checks", name, "exec"),
                    f"check '{name}': 'exec.service-context' names unknown service '{context}'",
                )
            )
    return problems
