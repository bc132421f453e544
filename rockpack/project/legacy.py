"""Keys and bases Rockcraft retired or deprecated, dealt with before validation.

A Rockcraft project that uses them is told what replaced them (or has a deprecated base
rewritten, with a warning) rather than getting the model's bare 'unknown key'.
"""

from __future__ import annotations

from typing import Any

from rockpack.errors import ProjectFileError, ProjectFileErrors
from rockpack.project.yaml_source import YamlSource

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


def apply_legacy_rules(source: YamlSource, data: dict[str, Any]) -> list[str]:
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
