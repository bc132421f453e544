"""Rockcraft's 12-factor extensions: a few lines of project file become a web app rock.

``apply_extensions`` expands a project's ``extensions`` into the parts, services and
run-user they add, merged with the project's own keys as Rockcraft merges them; the
project is validated afterwards, as if it had been written out in full.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rockpack.project.extensions.framework import (
    App,
    Extension,
    ExtensionError,
    apply_extension,
    check_base,
    merge,
)
from rockpack.project.extensions.printing import project_yaml
from rockpack.project.extensions.registry import EXTENSIONS, extension_table

__all__ = [
    "EXTENSIONS",
    "App",
    "Extension",
    "ExtensionError",
    "UnknownExtensionsError",
    "apply_extensions",
    "experimental_allowed",
    "extension_table",
    "merge",
    "project_yaml",
]

# Either name opts in to experimental extensions (Rockcraft's, for projects that set it).
EXPERIMENTAL_ENV = (
    "ROCKPACK_ENABLE_EXPERIMENTAL_EXTENSIONS",
    "ROCKCRAFT_ENABLE_EXPERIMENTAL_EXTENSIONS",
)


def experimental_allowed(environ: Mapping[str, str]) -> bool:
    """Whether the environment opts in to experimental extensions."""
    return any(
        environ.get(name, "").lower() not in ("", "0", "false", "no") for name in EXPERIMENTAL_ENV
    )


class UnknownExtensionsError(ExtensionError):
    """The project names extensions rockpack does not have."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(
            ", ".join(names),
            [f"rockpack does not provide it (available: {', '.join(sorted(EXTENSIONS))})"],
            resolution="Check the name (`rockpack list-extensions`), or write out the parts "
            "and services the extension would add and remove it from 'extensions'.",
        )


def apply_extensions(
    project_dir: Path,
    data: dict[str, Any],
    *,
    allow_experimental: bool = False,
    check_app: bool = True,
) -> dict[str, Any]:
    """``data`` with its extensions expanded and its ``extensions`` key removed (in place).

    Each extension first checks the base and, with ``check_app``, the app's files in
    ``project_dir``; the first extension that cannot apply raises ExtensionError listing
    every problem it found. Extensions apply in name order, as in Rockcraft.
    """
    names = data.get("extensions")
    if not isinstance(names, list) or not names:
        return data  # absent, or the model reports the wrong type
    unknown = [str(n) for n in names if n not in EXTENSIONS]
    if unknown:
        raise UnknownExtensionsError(unknown)
    if not isinstance(data.get("base"), str):
        return data  # the model reports the missing base
    del data["extensions"]
    for name in sorted(set(names)):
        extension = EXTENSIONS[name]
        app = App(project_dir, copy.deepcopy(data), check_app=check_app)
        problems = check_base(extension, app, allow_experimental)
        if problems:
            raise ExtensionError(name, problems)
        apply_extension(extension, app, data)
    return data
