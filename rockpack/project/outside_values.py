"""A version or rock name that comes from outside the project file, checked.

A part's ``craftctl set version=...`` (or a flag) names files and tags images just as the
file's own values do, so it is held to the same rules and refused in the same words.
"""

from __future__ import annotations

from rockpack.project.names import InvalidValueError, rock_name_problem, version_problem


def validate_version(value: str, source: str) -> str:
    """``value`` if it is a valid rock version, else InvalidValueError naming ``source``.

    For a version that does not come from the project file: a part's
    ``craftctl set version=...``. It names the .rock file and tags the image.
    """
    problem = version_problem(value)
    if problem:
        raise InvalidValueError(source, "version", value, problem.removeprefix("invalid version: "))
    return value


def validate_rock_name(value: str, source: str) -> str:
    """``value`` if it is a valid rock name, else InvalidValueError naming ``source``."""
    problem = rock_name_problem(value)
    if problem:
        raise InvalidValueError(
            source, "rock name", value, problem.removeprefix("invalid name for rock: ")
        )
    return value
