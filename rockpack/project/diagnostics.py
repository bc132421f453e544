"""Validation errors (pydantic's, craft-parts', our own rules') as located file errors.

Each error is turned into a ProjectFileError by its ``type``, never by its text: a
misspelt key gets the closest valid key of that mapping, at any depth; a YAML number,
boolean or date where text is wanted gets the quoted text to write.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from rockpack.errors import ProjectFileError
from rockpack.project.keys import closest_key, known_keys
from rockpack.project.names import RuleError
from rockpack.project.quoting import changed_by_yaml, coerced_numbers, quote_message
from rockpack.project.yaml_source import KeyPath, YamlSource

TYPE_FIXES = {
    "missing": "Add the key.",
    "extra_forbidden": "Remove the key, or check its spelling.",
    "literal_error": "Use one of the values listed.",
    "string_too_long": "Shorten the value.",
    "string_too_short": "Lengthen the value.",
    "list_type": "Write a YAML list: one '- item' per line, or [a, b].",
    "dict_type": "Write a mapping of 'key: value' lines.",
    "model_type": "Write a mapping of 'key: value' lines.",
    "string_type": "Write a string (quote it if YAML reads it as something else).",
    "int_type": "Write a whole number.",
    "int_parsing": "Write a whole number.",
    "float_parsing": "Write a number.",
    "greater_than_equal": "Use a larger value.",
    "less_than_equal": "Use a smaller value.",
    "path_escape": "Write a path inside the part's own directory: relative, without '..'.",
}


class KeyedError(RuleError):
    """A cross-field problem that belongs to one key, so its line can be found."""

    def __init__(self, key: KeyPath, message: str, fix: str | None = None) -> None:
        super().__init__(message, fix)
        self.key = key


def clean_loc(loc: Iterable[Any], markers: Iterable[str] = ()) -> KeyPath:
    """A pydantic location without its markers (``function-after[...]``, ``[key]``, tags)."""
    dropped = set(markers)
    return tuple(
        p
        for p in loc
        if not (isinstance(p, str) and (p in dropped or p == "[key]" or _MARKER_RE.fullmatch(p)))
    )


_MARKER_RE = re.compile(r"[a-z][a-z-]*\[.*\]")


def located(
    source: YamlSource, loc: KeyPath, message: str, fix: str | None = None
) -> ProjectFileError:
    key = ".".join(str(p) for p in loc) or None
    if not message.endswith("."):
        message += "."
    return ProjectFileError(source.path, message, key=key, line=line_of(source, loc), fix=fix)


def line_of(source: YamlSource, loc: KeyPath) -> int | None:
    """The key's line, also when the file spells a field by its name (``run_user``)."""
    if not loc:
        return None
    spelt = tuple(p.replace("-", "_") if isinstance(p, str) else p for p in loc)
    for candidate in (tuple(loc), spelt):
        if candidate in source.lines:
            return source.lines[candidate]
    return source.line_of(loc) or source.line_of(spelt)


def error_for(
    source: YamlSource,
    loc: KeyPath,
    kind: str,
    message: str,
    value: Any,
    *,
    models: Iterable[Any] = (),
    prefix: KeyPath = (),
    literal_fix: Callable[[KeyPath], str | None] | None = None,
) -> ProjectFileError:
    """One validation error, located at ``prefix + loc``, by its type."""
    full = (*prefix, *loc)
    message = message.removeprefix("Value error, ")
    fix = TYPE_FIXES.get(kind)
    if kind == "missing":
        message = "is required but missing"
    elif kind == "extra_forbidden":
        message, fix = _unknown_key(source, full, loc, list(models))
    elif kind == "string_type" and (quoted := quote_message(source, full, value)):
        message, fix = quoted
    elif kind == "literal_error":
        message = f"{message} (got {value!r})"
        fix = (literal_fix(loc) if literal_fix else None) or fix
    return located(source, full, message, fix)


def _unknown_key(
    source: YamlSource, full: KeyPath, loc: KeyPath, models: list[Any]
) -> tuple[str, str]:
    typed = str(loc[-1]) if loc else ""
    known = known_keys(models, loc[:-1])
    spelt = typed.replace("_", "-")
    if spelt in known and (*full[:-1], spelt) in source.lines:
        return (
            f"is the same key as '{spelt}', which is also set",
            f"Keep one of '{typed}' and '{spelt}'.",
        )
    suggestion = closest_key(typed, known)
    if suggestion:
        return "is not a known key", f"Did you mean '{suggestion}'?"
    return "is not a known key", TYPE_FIXES["extra_forbidden"]


def number_errors(
    source: YamlSource, raw: Mapping[str, Any], validated: Any, prefix: KeyPath = ()
) -> list[ProjectFileError]:
    """Numbers (``1.10``) a model silently turned into other text than was written."""
    errors = []
    for path in coerced_numbers(raw, validated):
        value: Any = raw
        for part in path:
            value = value[part]
        full = (*prefix, *path)
        if changed_by_yaml(source, full, value):
            quoted = quote_message(source, full, value)
            if quoted:
                errors.append(located(source, full, *quoted))
    return errors
