"""The pydantic base shared by every project-file model."""

from __future__ import annotations

import pydantic


def to_kebab(name: str) -> str:
    """``run_user`` -> ``run-user``: project files use kebab-case keys."""
    return name.replace("_", "-")


class RockpackModel(pydantic.BaseModel):
    """Frozen, strict about unknown keys, kebab-case on the outside."""

    model_config = pydantic.ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_kebab,
        # Like Rockcraft (craft-application), a field's own name is accepted too: `run_user`.
        populate_by_name=True,
        # YAML writes `PORT: 8000`; Pebble and Rockcraft read such values as strings. Other
        # numbers (`version: 1.10`) are refused after validation, see quoting.py.
        coerce_numbers_to_str=True,
    )
