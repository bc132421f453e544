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
        # Only the kebab-case spelling is accepted: `run_user` is a typo, not an alias.
        populate_by_name=False,
        # YAML writes `PORT: 8000`; Pebble and Rockcraft read such values as strings.
        coerce_numbers_to_str=True,
    )
