"""A pack with nothing changed, answered before the project is loaded.

Loading a project validates it with pydantic and craft-parts' part schemas: importing
them costs a no-op pack more than everything else it does. The validated model is a
function of the project file's bytes, the files in the project dir (extensions read
some), the environment, rockpack's code, the libraries it runs on and the pack's flags.
The fingerprint (``rockpack.build.fingerprint``) covers the trees by stat data; the
*request digest* here covers the rest, flags included as parsed, whatever they are. (A
project dir with a symlink leading out of it is never answered early: the stat walk
sees the link, not the file an extension may read through it.)

A pack records the digest of the request it served. A later pack whose request digest and
trees are the same is the same pack: it is answered from the fingerprint, repeating the
last pack's warnings and report, without loading the project. Anything else, or any doubt,
takes the normal path, where the fingerprint is checked against the validated model.

This module must stay light: it runs before anything heavy is imported.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from rockpack.build import fingerprint
from rockpack.errors import RockpackError

# Flags that always mean the normal path: a new base or a shell is wanted, or an index
# rock is written after the pack. Without --destructive-mode the pack runs in (or fails
# for want of) a clean instance, and only the instance's rockpack fingerprints.
NORMAL_PATH_FLAGS = ("refresh_base", "shell", "shell_after", "debug", "index")


@dataclass(frozen=True)
class PackRequest:
    """A ``rockpack pack``, before its project is loaded."""

    digest: str | None  # None: never answered early, nor recorded for that
    answered: bool = False  # the last pack's rocks were reported: nothing left to do


def request_digest(
    project_dir: Path, arguments: Mapping[str, object], environ: Mapping[str, str]
) -> str | None:
    """The digest of everything but the trees that decides a pack, None if this request
    is never answered early. ``arguments`` are the command's parsed flags, all of them."""
    if not arguments.get("destructive_mode") or any(arguments.get(f) for f in NORMAL_PATH_FLAGS):
        return None
    if environ.get("ROCKPACK_MANAGED") == "1":
        return None
    from rockpack.project.project_file import find_project_file

    path = find_project_file(project_dir)
    facts = {
        **fingerprint.common_facts(environ),
        "project_file": str(path.resolve()),
        "project_bytes": hashlib.sha256(path.read_bytes()).hexdigest(),
        "arguments": sorted((name, repr(value)) for name, value in arguments.items()),
        "cwd": str(Path.cwd()),  # relative --output and --project-dir
    }
    return fingerprint.digest_of(facts)


def answer_unchanged(
    project_dir: Path, arguments: Mapping[str, object], environ: Mapping[str, str]
) -> PackRequest:
    """Report the last pack's rocks if it served this same request and nothing changed
    since; the request's digest either way (to record with the pack that follows)."""
    try:
        digest = request_digest(project_dir, arguments, environ)
    except (OSError, ValueError, RuntimeError, RockpackError):
        return PackRequest(None)  # the normal path says what is wrong (RuntimeError: a loop)
    if digest is None:
        return PackRequest(None)
    unchanged = fingerprint.recorded_unchanged(project_dir, digest, environ)
    if unchanged is None:
        return PackRequest(digest)
    from craft_cli import emit

    for warning in unchanged.warnings:
        emit.message(f"Warning: {warning}")
    fingerprint.report_unchanged(unchanged.rocks)
    return PackRequest(digest, answered=True)
