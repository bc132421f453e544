"""Rules for the names and values that become file names, paths or environment entries.

Each rule is a function returning what is wrong (``None`` when nothing is), so that the
models (as pydantic errors) and later stages (as RockpackErrors, e.g. for a version a
scriptlet set with ``craftctl set``) state the same rule in the same words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated

import pydantic

from rockpack.errors import RockpackError

NAME_MIN = 3
NAME_MAX = 40
NAME_PATTERN = r"^[a-z](?:-?[a-z0-9]){2,}$"
NAME_RE = re.compile(NAME_PATTERN.strip("^$"))
NAME_RULE = (
    f"use {NAME_MIN} to {NAME_MAX} characters: ASCII lowercase letters, digits and hyphens; "
    "start with a letter; do not end with a hyphen or use two hyphens in a row"
)

VERSION_MAX = 32
# Rockcraft's (craft-application's, snapd's) version rule.
VERSION_RE = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9:.+~-]*[a-zA-Z0-9+~])?")
VERSION_RULE = (
    f"use 1 to {VERSION_MAX} ASCII letters, digits and ':.+~-', starting with a letter or "
    "digit, ending with one of those or '+' or '~', and without '..'"
)

PART_WORD_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")
PART_NAME_RULE = (
    "use letters, digits and '-', '_', '.', '+', starting with a letter or digit; "
    "'/' may join such words (as in 'flask/install-app'), but a name cannot start or "
    "end with '/', have an empty word, or contain '..'"
)

ENV_NAME_RULE = "a name must not be empty or contain '=', whitespace or control characters"


class InvalidValueError(RockpackError):
    """A name or version that would become a file name, path or tag breaks its rule."""

    def __init__(self, source: str, what: str, value: str, problem: str) -> None:
        self.value = value
        super().__init__(
            f"{source}: invalid {what} {value!r}: {problem}.",
            resolution=f"Set a {what} that follows the rule above.",
        )


def rock_name_problem(name: str) -> str | None:
    """What is wrong with a rock name (it names the .rock file and the Pebble layer)."""
    if len(name) > NAME_MAX or not NAME_RE.fullmatch(name):
        return f"invalid name for rock: {NAME_RULE}"
    return None


def version_problem(version: str) -> str | None:
    """What is wrong with a version (it names the .rock file and tags the image)."""
    if len(version) > VERSION_MAX or not VERSION_RE.fullmatch(version) or ".." in version:
        return f"invalid version: {VERSION_RULE}"
    return None


def part_name_problem(name: str) -> str | None:
    """What is wrong with a part name (it becomes parts/<name>/ in the work directory)."""
    words = name.split("/")
    if all(PART_WORD_RE.fullmatch(w) for w in words) and ".." not in name:
        return None
    return f"invalid part name {name!r}: {PART_NAME_RULE}"


def nested_part_names(names: list[str]) -> list[tuple[str, str]]:
    """Pairs (nested, parent) where one part name is a directory of another (craft-parts)."""
    known = set(names)
    found = []
    for name in names:
        words = name.split("/")
        for end in range(1, len(words)):
            parent = "/".join(words[:end])
            if parent in known:
                found.append((name, parent))
    return found


RESERVED_PLATFORM_NAMES = ("any", "*")  # craft-application's


def platform_name_problem(name: str) -> str | None:
    """What is wrong with a platform name (it ends the .rock file's name)."""
    if "/" in name:
        return f"platform name {name!r} contains '/', which platform names cannot contain"
    if name in RESERVED_PLATFORM_NAMES:
        return f"platform name {name!r} is reserved"
    if not name or any(not c.isprintable() for c in name):
        return f"platform name {name!r} is empty or contains a control character"
    return None


def env_name_problem(name: str) -> str | None:
    """What no runtime accepts in an environment variable's name (OCI Env is NAME=value)."""
    if not name:
        return "an environment variable name cannot be empty"
    if "=" in name:
        return (
            f"environment variable name {name!r} contains '=': runtimes split 'NAME=value' "
            "at the first '=', so the name would change"
        )
    if any(c.isspace() or not c.isprintable() for c in name):
        return (
            f"environment variable name {name!r} contains whitespace or a control "
            "character, which runtimes refuse"
        )
    return None


def env_value_problem(value: str) -> str | None:
    if "\0" in value:
        return "the value contains a NUL character, which no runtime accepts"
    return None


def inner_path_problem(path: str, *, absolute_ok: bool = False) -> str | None:
    """What makes ``path`` climb out of the directory it is relative to.

    ``absolute_ok``: a leading '/' means the directory itself (craft-parts strips it
    from organize targets).
    """
    if "\0" in path:
        return f"{path!r} contains a NUL character"
    if path.startswith("/") and not absolute_ok:
        return f"{path!r} is absolute; write it relative to the part's directory"
    if ".." in path.split("/"):
        return f"{path!r} uses '..', which would reach outside the part's directory"
    return None


class RuleError(ValueError):
    """A broken rule inside a model validator, with what to do about it."""

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.fix = fix


def check(problem: str | None, fix: str | None = None) -> None:
    """Raise a model validator's error when a rule is broken."""
    if problem:
        raise RuleError(problem, fix)


def checked(problem: Callable[[str], str | None], fix: str) -> pydantic.AfterValidator:
    """A validator of a string field that raises ``problem``'s error, with ``fix``."""

    def validate(value: str) -> str:
        check(problem(value), fix)
        return value

    return pydantic.AfterValidator(validate)


# An environment mapping whose every name and value a runtime accepts.
Environment = dict[
    Annotated[
        str, checked(env_name_problem, "Use a name of letters, digits and '_' (e.g. MY_VAR).")
    ],
    Annotated[str, checked(env_value_problem, "Remove the NUL character from the value.")],
]
