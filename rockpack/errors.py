"""Errors a user can cause, each with a brief, details and a resolution.

Only the CLI prints them (through craft-cli's emitter) and maps them to exit codes;
everything below the CLI raises one of these and never prints.
"""

from __future__ import annotations

import errno
from pathlib import Path

from craft_cli import CraftError

EXIT_USAGE = 64  # sysexits' EX_USAGE: the command line itself is wrong


class RockpackError(CraftError):
    """Base of every error rockpack reports to a user."""

    def __init__(
        self,
        brief: str,
        *,
        details: str | None = None,
        resolution: str | None = None,
        retcode: int = 1,
    ) -> None:
        super().__init__(
            brief, details=details, resolution=resolution, retcode=retcode, reportable=False
        )

    @property
    def brief(self) -> str:
        return str(self.args[0])


class ProjectNotFoundError(RockpackError):
    """Neither rockpack.yaml nor rockcraft.yaml exists in the project directory."""

    def __init__(self, project_dir: Path) -> None:
        super().__init__(
            f"No project file in {project_dir}: expected rockpack.yaml or rockcraft.yaml.",
            resolution="Run 'rockpack init' to create one, or pass --project-dir.",
        )


class ProjectFileError(RockpackError):
    """One problem in a project file, located by file, line and key."""

    def __init__(
        self,
        path: Path,
        problem: str,
        *,
        key: str | None = None,
        line: int | None = None,
        fix: str | None = None,
    ) -> None:
        self.path = path
        self.key = key
        self.line = line
        self.problem = problem
        where = str(path) + (f":{line}" if line else "")
        subject = f" key '{key}':" if key else ""
        super().__init__(f"{where}:{subject} {problem}", resolution=fix)


class ProjectFileErrors(RockpackError):
    """Several problems found in one pass, so the user can fix them all at once."""

    def __init__(self, errors: list[ProjectFileError]) -> None:
        self.errors = errors
        first = errors[0]
        brief = f"{len(errors)} problems in {first.path}" if len(errors) > 1 else first.brief
        lines = [e.brief + (f"\n    fix: {e.resolution}" if e.resolution else "") for e in errors]
        super().__init__(
            brief,
            details="\n".join(lines) if len(errors) > 1 else None,
            resolution=first.resolution if len(errors) == 1 else "Fix each problem listed above.",
        )


class PlatformError(RockpackError):
    """The requested platform cannot be built here."""


class ProviderError(RockpackError):
    """The build environment (host or clean instance) cannot be used."""


class LifecycleError(RockpackError):
    """A part failed in pull, overlay, build, stage or prime."""


class PackError(RockpackError):
    """The image could not be written."""


class LayerError(RockpackError):
    """A tree could not be turned into a layer, or a layer could not be read."""


class DiskError(RockpackError):
    """The disk refused a read or write: full, read-only, or not permitted."""


_DISK_ADVICE = {
    errno.ENOSPC: "Free space on that filesystem (or point XDG_CACHE_HOME, --output or the "
    "project elsewhere), then run again: nothing half-written is kept.",
    errno.EDQUOT: "Free space within your quota, then run again.",
    errno.EROFS: "That filesystem is read-only: make it writable or use another directory.",
    errno.EACCES: "Fix the permissions of that path, or run as a user who may write there.",
    errno.EPERM: "Fix the permissions of that path, or run as a user who may write there.",
}


def disk_error(err: OSError) -> RockpackError:
    """An OSError that escaped every stage, as a message that names the path and a fix."""
    where = f" at {err.filename}" if err.filename else ""
    reason = err.strerror or str(err)
    return DiskError(
        f"{reason}{where}.",
        resolution=_DISK_ADVICE.get(
            err.errno or 0, "Check that path, then run again; the log file has the details."
        ),
    )
