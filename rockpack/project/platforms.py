"""The 'platforms' key: where a rock is built and what it runs on.

Apart from the project model so that Rockcraft's rule tying a platform's name to its
architecture (a name that is an architecture must build for it) reads on its own.
"""

from __future__ import annotations

from typing import Annotated, Literal

import pydantic
from pydantic import Field

from rockpack.project.architectures import SUPPORTED_ARCHS
from rockpack.project.model_base import RockpackModel
from rockpack.project.names import check, platform_name_problem

Arch = Literal["amd64", "arm64", "armhf", "i386", "ppc64el", "riscv64", "s390x"]


def _platform_name(name: str) -> str:
    check(platform_name_problem(name), "Rename the platform (e.g. 'amd64' or 'my-platform').")
    return name


PlatformName = Annotated[str, pydantic.AfterValidator(_platform_name)]


def _as_list(value: object) -> object:
    return [value] if isinstance(value, str) else value


class Platform(RockpackModel):
    """Where a rock is built and what it runs on."""

    build_on: Annotated[list[Arch], pydantic.BeforeValidator(_as_list)] = Field(
        min_length=1, description="Architectures this platform can be built on."
    )
    build_for: Annotated[list[Arch], pydantic.BeforeValidator(_as_list)] | None = Field(
        default=None,
        min_length=1,
        max_length=1,
        description="The single architecture the rock runs on.",
    )


def check_platforms(platforms: dict[str, Platform | None]) -> dict[str, Platform | None]:
    """``platforms`` if each one's name agrees with what it builds for, else ValueError."""
    for label, platform in platforms.items():
        if platform is None or platform.build_for is None:
            if label not in SUPPORTED_ARCHS:
                raise ValueError(
                    f"platform '{label}' is not an architecture, so it needs 'build-on' "
                    f"and 'build-for' (architectures: {', '.join(SUPPORTED_ARCHS)})"
                )
        elif label in SUPPORTED_ARCHS and platform.build_for[0] != label:
            raise ValueError(
                f"platform '{label}' is named after an architecture but builds for "
                f"'{platform.build_for[0]}'; make the two match or rename the platform"
            )
    return platforms
