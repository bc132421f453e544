"""The project's ``layering`` key: how the rock's own files are split into layers.

The shape is apko's (``layering: {strategy: origin, budget: N}``), which users of
Wolfi images already know; rockpack's origin of a file is the part that primed it, so
its strategy is called ``part``. ``single`` is Rockcraft's one layer. The ``pack
--layers`` flag overrides the key: ``part``, ``part:N``, ``N`` or ``single``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Literal

import pydantic
from pydantic import Field

from rockpack.errors import EXIT_USAGE, RockpackError
from rockpack.project.layer_budget import DEFAULT_BUDGET
from rockpack.project.model_base import RockpackModel

if TYPE_CHECKING:  # model.py imports this module for its 'layering' field
    from rockpack.project.model import LoadedProject

MAX_BUDGET = 100


class Layering(RockpackModel):
    """How the files the parts prime (and the files rockpack generates) become layers."""

    strategy: Literal["part", "single"] = Field(
        default="part",
        description="'part': a layer per part (in the project file's order, a part after "
        "the parts its 'after' names), and small layers of their own for the Pebble layer "
        "file and the run-user's accounts; 'single': one layer for everything, as "
        "Rockcraft makes. /.rock/metadata.yaml always has a small layer of its own.",
    )
    budget: int | None = Field(
        default=None,
        ge=1,
        le=MAX_BUDGET,
        description=f"With 'part': at most this many layers of files (default "
        f"{DEFAULT_BUDGET}; the base's layers and the metadata layer are not counted). "
        "Over it, the largest layers are kept and the smallest merged into one.",
    )

    @pydantic.model_validator(mode="after")
    def _budget_with_part(self) -> Layering:
        if self.strategy == "single" and self.budget not in (None, 1):
            raise ValueError("'budget' applies to strategy 'part'; 'single' is one layer")
        return self

    @property
    def effective_budget(self) -> int:
        """How many layers of files the rock may have."""
        if self.strategy == "single":
            return 1
        return self.budget if self.budget is not None else DEFAULT_BUDGET


def effective_layering(declared: Layering | None) -> Layering:
    """The project's layering, or the default: a layer per part."""
    return declared if declared is not None else Layering()


class LayersFlagError(RockpackError):
    """A --layers value rockpack cannot read."""

    def __init__(self, value: str) -> None:
        super().__init__(
            f"--layers {value!r} is not a layering rockpack knows.",
            resolution=f"Use 'part' (a layer per part, at most {DEFAULT_BUDGET}), 'part:N' "
            f"or 'N' (at most N layers, 1 to {MAX_BUDGET}), or 'single' (one layer).",
            retcode=EXIT_USAGE,
        )


def parse_layers_flag(value: str) -> Layering:
    """``part``, ``part:N``, ``N`` or ``single`` as a Layering."""
    strategy, _, budget = value.strip().partition(":")
    if strategy.isdigit() and not budget:
        strategy, budget = "part", strategy
    if strategy not in ("part", "single") or (budget and not budget.isdigit()):
        raise LayersFlagError(value)
    try:
        return Layering.model_validate(
            {"strategy": strategy, **({"budget": int(budget)} if budget else {})}
        )
    except pydantic.ValidationError as err:
        raise LayersFlagError(value) from err


def with_layers_flag(loaded: LoadedProject, value: str | None) -> LoadedProject:
    """The loaded project with its 'layering' replaced by the --layers flag, if given."""
    if value is None:
        return loaded
    project = loaded.project.model_copy(update={"layering": parse_layers_flag(value)})
    return replace(loaded, project=project)
