"""Problems in the parts (craft-parts' and rockpack's rules), and the listing of problems."""

from __future__ import annotations

from typing import Any

from rockpack.errors import ProjectFileError
from rockpack.project import diagnostics
from rockpack.project import parts as parts_validation
from rockpack.project.yaml_source import KeyPath, YamlSource

MAX_LISTED_ERRORS = 50


def first_errors(source: YamlSource, errors: list[ProjectFileError]) -> list[ProjectFileError]:
    """At most MAX_LISTED_ERRORS errors, the last saying how many more there are."""
    if len(errors) <= MAX_LISTED_ERRORS:
        return errors
    more = len(errors) - MAX_LISTED_ERRORS + 1
    last = ProjectFileError(
        source.path, f"and {more} more problems, not listed.", fix="Fix those listed first."
    )
    return [*errors[: MAX_LISTED_ERRORS - 1], last]


def part_errors(source: YamlSource, data: dict[str, Any]) -> list[ProjectFileError]:
    parts = data.get("parts")
    if not isinstance(parts, dict):
        return []
    errors: list[ProjectFileError] = []
    for name, spec in parts.items():
        if not isinstance(spec, dict):
            continue  # the model reports a part that is not a mapping
        prefix = ("parts", name)
        if data.get("base") == "bare" and parts_validation.has_overlay(spec):
            errors.append(
                diagnostics.located(
                    source,
                    prefix,
                    "uses the overlay step, but a 'bare' base has no system to overlay",
                    "Remove overlay-packages/overlay-script/overlay, or use a real base.",
                )
            )
        problems = parts_validation.part_problems(name, spec)
        models = parts_validation.part_models(name, spec)
        for sub, message, kind in problems:
            value = value_at(spec, sub)
            errors.append(
                diagnostics.error_for(
                    source, sub, kind, message, value, models=models, prefix=prefix
                )
            )
        if not problems:
            validated = parts_validation.validated_part(name, spec)
            errors += diagnostics.number_errors(source, spec, validated, prefix)
    return errors


def value_at(data: Any, loc: KeyPath) -> Any:
    """The raw value at ``loc``, if there is one (craft-parts writes list indexes as text)."""
    for part in loc:
        if isinstance(data, list) and str(part).isdigit() and int(part) < len(data):
            data = data[int(part)]
        elif isinstance(data, dict) and part in data:
            data = data[part]
        else:
            return None
    return data
