"""YAML scalars that are not text where the project wants text: ask to quote them.

YAML reads ``version: 1.10`` as the float 1.1, ``mode: 0755`` as the octal 493 and
``version: 1:20`` as the sexagesimal 80. A model that turns such a number back into a
string gets something the author never wrote. A plain whole number reads back as
written (``PORT: 8000``), as Rockcraft reads it; any other number, and any boolean,
date or null where text is wanted, is refused with the text to write instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rockpack.project.yaml_source import KeyPath, YamlSource, shown


def coerced_numbers(raw: Any, validated: Any, prefix: KeyPath = ()) -> Iterator[KeyPath]:
    """Paths where ``raw`` (as loaded) holds a number and ``validated`` holds a string."""
    if isinstance(raw, dict) and isinstance(validated, dict):
        for key, value in raw.items():
            match = key if key in validated else str(key).replace("_", "-")
            if match in validated:
                yield from coerced_numbers(value, validated[match], (*prefix, key))
    elif isinstance(raw, list) and isinstance(validated, list) and len(raw) == len(validated):
        for index, (value, seen) in enumerate(zip(raw, validated, strict=True)):
            yield from coerced_numbers(value, seen, (*prefix, index))
    elif isinstance(raw, int | float) and not isinstance(raw, bool) and isinstance(validated, str):
        yield prefix


def changed_by_yaml(source: YamlSource, path: KeyPath, value: Any) -> bool:
    """Whether reading the scalar at ``path`` as text gives other text than was written."""
    written = source.scalars.get(path)
    return written is not None and (isinstance(value, float) or str(value) != written)


def quote_message(source: YamlSource, path: KeyPath, value: Any) -> tuple[str, str] | None:
    """(problem, fix) for a number, boolean or date where text is wanted; else None."""
    written = source.scalars.get(path)
    if written is None or value is None:
        return None  # an empty value: the model's own message says what is missing
    key = path[-1] if path else None
    text = shown(written)
    line = f'{key}: "{text}"' if isinstance(key, str) else f'- "{text}"'
    if isinstance(value, bool):
        kind = f"the boolean {str(value).lower()}"
    elif isinstance(value, int | float):
        changed = str(value) != written
        kind = "a number" + (f", so it would become '{shown(str(value))}'" if changed else "")
    else:
        kind = f"a {type(value).__name__}"
    problem = (
        f"is {text}, which YAML reads as {kind}, but text is expected here; write it quoted: {line}"
    )
    return problem, f"Quote the value exactly as you mean it: {line}"
