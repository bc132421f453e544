"""The 'run-user' key: a user known by name, or one the project declares with its ids.

Apart from the project model because its two forms are told apart by a discriminator
whose tags error reporting must strip from the locations it shows.
"""

from __future__ import annotations

from typing import Annotated, Literal

import pydantic
from pydantic import Field

from rockpack.project.model_base import RockpackModel


class CustomRunUser(RockpackModel):
    """A run-user of the project's own, with explicit ids (beyond Rockcraft's _daemon_)."""

    name: str = Field(
        pattern=r"^[a-z_][a-z0-9_-]{0,31}$", description="A user name, as useradd takes it."
    )
    uid: int = Field(ge=1, le=4294967294, description="The user's numeric id (not root).")
    gid: int = Field(ge=1, le=4294967294, description="The user's primary group id.")


def _run_user_kind(value: object) -> str:
    return "declared" if isinstance(value, dict | CustomRunUser) else "named"


# A string names a known user; a mapping declares one. Only the matching form's errors
# are reported (the tags are dropped from error locations).
RUN_USER_TAGS = ("named", "declared")
RunUserField = (
    Annotated[
        Annotated[Literal["_daemon_"], pydantic.Tag("named")]
        | Annotated[CustomRunUser, pydantic.Tag("declared")],
        pydantic.Discriminator(_run_user_kind),
    ]
    | None
)
