"""What every extension shares: the app it reads, its errors, and Rockcraft's merge.

An extension is a value (``Extension``): its name, the bases it supports, a function that
lists what the app lacks, and a function that returns the snippet to merge into the
project. ``apply_extensions`` checks each extension against the project, then merges its
snippet into the project data exactly as Rockcraft merges it, so a project's own keys
(``parts: {flask-framework/dependencies: ...}``, ``services: {flask: ...}``) override or
extend what the extension adds.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rockpack.errors import RockpackError

# Rockcraft's _daemon_ user (rockpack/image/run_user.py has the same ids).
DAEMON_UID = 584792
DAEMON = "_daemon_"
DOCS = "docs/extensions.md"


class ExtensionError(RockpackError):
    """An extension cannot apply to this project; ``problems`` says each reason."""

    def __init__(self, extension: str, problems: list[str], resolution: str | None = None) -> None:
        self.extension = extension
        self.problems = problems
        super().__init__(
            f"extension '{extension}': " + "; ".join(problems),
            resolution=resolution or f"See {DOCS}, section '{extension}'.",
        )


@dataclass(frozen=True)
class App:
    """The project an extension reads: its directory and its data as written."""

    project_dir: Path
    data: Mapping[str, Any]
    check_app: bool = True  # False: fill in placeholders instead of failing (init)

    @property
    def name(self) -> str:
        return str(self.data.get("name") or "app")

    @property
    def snake_name(self) -> str:
        """The name as a Python package: hyphens become underscores."""
        return self.name.replace("-", "_").lower()

    @property
    def base(self) -> str:
        return str(self.data.get("base"))

    @property
    def build_base(self) -> str:
        return str(self.data.get("build-base") or self.data.get("base"))

    @property
    def bare(self) -> bool:
        return self.base == "bare"

    def path(self, relative: str) -> Path:
        return self.project_dir / relative

    def exists(self, relative: str) -> bool:
        return self.path(relative).exists()

    def user_part(self, name: str) -> Mapping[str, Any]:
        """The project's own definition of part ``name`` (empty when it has none)."""
        return _mapping(_mapping(self.data.get("parts")).get(name))

    def user_list(self, part: str, key: str) -> list[Any]:
        """A list key of the project's part (empty when absent or not a list: the part's
        own validation reports a wrong type)."""
        value = self.user_part(part).get(key)
        return list(value) if isinstance(value, list) else []

    def user_service(self, name: str) -> Mapping[str, Any]:
        return _mapping(_mapping(self.data.get("services")).get(name))

    def user_command(self, service: str) -> bool:
        """Whether the project gives the service its own command."""
        return bool(self.user_service(service).get("command"))

    def project_files(self) -> list[str]:
        """The names at the top of the project directory, sorted."""
        if not self.project_dir.is_dir():
            return []
        return sorted(p.name for p in self.project_dir.iterdir())


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class Extension:
    """One extension: what it needs of the app and what it adds to the project."""

    name: str
    summary: str
    bases: tuple[str, ...]  # rock bases where it is stable
    experimental_bases: tuple[str, ...]  # rock bases where it needs the opt-in
    problems: Callable[[App], list[str]]  # what the app lacks; empty when it is fine
    snippet: Callable[[App], dict[str, Any]]  # run-user, services, parts, ...
    build_bases: tuple[str, ...] = ("debian@12", "debian@13", "ubuntu@22.04", "ubuntu@24.04")
    untested: tuple[str, ...] = field(default=())  # bases no test here has built on

    @property
    def all_bases(self) -> tuple[str, ...]:
        return (*self.bases, *self.experimental_bases)


def check_base(extension: Extension, app: App, allow_experimental: bool) -> list[str]:
    """Problems with the project's base and build-base for ``extension``."""
    if app.base not in extension.all_bases:
        return [f"does not support base '{app.base}' (supported: {', '.join(extension.all_bases)})"]
    if app.base in extension.experimental_bases and not allow_experimental:
        return [
            f"is experimental on base '{app.base}'; set "
            "ROCKPACK_ENABLE_EXPERIMENTAL_EXTENSIONS=1 to use it"
        ]
    if app.bare and app.build_base not in extension.build_bases:
        return [
            f"cannot build a 'bare' rock on build-base '{app.build_base}' (supported: "
            f"{', '.join(extension.build_bases)})"
        ]
    return []


def apply_extension(extension: Extension, app: App, data: dict[str, Any]) -> None:
    """Check the app and merge the extension's snippet into ``data`` (in place)."""
    problems = extension.problems(app) if app.check_app else []
    if problems:
        raise ExtensionError(extension.name, problems)
    snippet = extension.snippet(app)
    foreign = [p for p in snippet.get("parts", {}) if not p.startswith(f"{extension.name}/")]
    if foreign:  # a programming error: Rockcraft's naming rule for extension parts
        raise ValueError(f"extension {extension.name} adds parts outside its name: {foreign}")
    for key, value in snippet.items():
        if key == "run-user" and "run_user" in data:
            key = "run_user"  # the project spells it by the field's name
        data[key] = merge(data.get(key), copy.deepcopy(value))


def merge(existing: Any, added: Any) -> Any:
    """Rockcraft's merge of an extension's value into the project's own.

    An empty or missing value of the project takes the extension's. Two lists become the
    extension's items then the project's (strings once each). Two mappings merge key by
    key. Otherwise the project's value wins.
    """
    if not existing:
        return added
    if isinstance(existing, list) and isinstance(added, list):
        merged = added + existing
        if all(isinstance(item, str) for item in merged):
            return list(dict.fromkeys(merged))
        return merged
    if isinstance(existing, dict) and isinstance(added, dict):
        for key, value in added.items():
            existing[key] = merge(existing.get(key), value)
        return existing
    return existing
