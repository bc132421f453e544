"""package-repositories, validated by craft-archives (as Rockcraft does)."""

from __future__ import annotations

from typing import Any

import pydantic

from rockpack.errors import ProviderError

Problem = tuple[tuple[str | int, ...], str, str]


def repository_problems(repositories: object) -> list[Problem]:
    """Problems in each entry, as (key path under package-repositories, message, type)."""
    if not isinstance(repositories, list):
        return []  # the model reports the wrong type
    # Imported here: craft-archives pulls in launchpadlib, a tenth of a second at every
    # start, and only projects with package-repositories need it.
    from craft_archives.repo import validate_repository

    problems: list[Problem] = []
    for index, repository in enumerate(repositories):
        if not isinstance(repository, dict):
            problems.append(((index,), "must be a mapping (type: apt, url: ...)", "dict_type"))
            continue
        try:
            validate_repository(repository)
        except pydantic.ValidationError as err:
            problems += [
                (
                    (index, *map(str, e["loc"])),
                    str(e["msg"]).removeprefix("Value error, "),
                    e["type"],
                )
                for e in err.errors()
            ]
        except ValueError as err:
            problems.append(((index,), str(err), "value_error"))
    return problems


def refuse_unapplied(repositories: list[dict[str, Any]] | None) -> None:
    """Building with extra repositories would change this host's apt sources."""
    if repositories:
        raise ProviderError(
            "The project adds package-repositories, which rockpack does not apply yet.",
            details="On this host (--destructive-mode) they would be added to its apt sources "
            "for good; clean builds will apply them inside the build instance.",
            resolution="Remove 'package-repositories' and take the packages from the "
            "build-base's own archive for now.",
        )
