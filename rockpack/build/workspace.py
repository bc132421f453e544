"""Where rockpack keeps its files, and the lock that keeps two runs apart.

Per project: ``<project>/.rockpack/`` holds the lifecycle work dirs (one per platform),
the OCI blob store and the lock. Shared by all projects: the user's cache directory.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rockpack.errors import RockpackError

STATE_DIR_NAME = ".rockpack"


@dataclass(frozen=True)
class Workspace:
    project_dir: Path

    @property
    def state_dir(self) -> Path:
        return self.project_dir / STATE_DIR_NAME

    def work_dir(self, platform: str) -> Path:
        return self.state_dir / "work" / platform

    @property
    def blob_root(self) -> Path:
        return self.state_dir / "oci"

    @property
    def lock_path(self) -> Path:
        return self.state_dir / "lock"

    def layer_cache(self, platform: str) -> Path:
        return self.state_dir / f"layer-cache-{platform}.json"

    def digest_cache(self, platform: str) -> Path:
        return self.state_dir / f"content-digests-{platform}.json"

    @property
    def base_pins(self) -> Path:
        """The digests the project's bases resolved to, so later runs need no registry."""
        return self.state_dir / "bases.lock.json"


def user_cache_dir() -> Path:
    """$XDG_CACHE_HOME/rockpack (or ~/.cache/rockpack): shared by every project."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rockpack"


def shared_blob_root() -> Path:
    """Blobs pulled from registries: content-addressed, shared by every project."""
    return user_cache_dir() / "oci"


def base_view_dir() -> Path:
    return user_cache_dir() / "base-views"


def base_rootfs_dir() -> Path:
    """Bases extracted for the overlay step, one tree per manifest digest."""
    return user_cache_dir() / "rootfs"


class WorkspaceError(RockpackError):
    """The project's state dir is not rockpack's own: a symlink, or not a directory."""


def ensure_state_dir(workspace: Workspace) -> None:
    """Create ``.rockpack`` if needed; refuse one that would lead rockpack's writes (or
    ``clean``'s deletions) elsewhere: a symlink, a non-directory, or a symlink inside."""
    state_dir = workspace.state_dir
    if state_dir.is_symlink() or (state_dir.exists() and not state_dir.is_dir()):
        kind = (
            f"a symlink to {os.readlink(state_dir)}"
            if state_dir.is_symlink()
            else "not a directory"
        )
        raise WorkspaceError(
            f"{state_dir} is {kind}: rockpack never writes or deletes through it.",
            resolution=f"Remove {state_dir} (rockpack makes a new one), then run again.",
        )
    try:
        state_dir.mkdir(mode=0o755, exist_ok=True)
        children = list(state_dir.iterdir())
    except OSError as err:
        raise WorkspaceError(
            f"Cannot create {state_dir}: {err.strerror}.",
            resolution="Make the project directory writable, or build a copy of it.",
        ) from err
    for child in children:
        if child.is_symlink():
            raise WorkspaceError(
                f"{child} is a symlink to {os.readlink(child)}: rockpack never writes or "
                "deletes through a symlink in its own directory.",
                resolution=f"Remove {child}, then run again.",
            )


@contextmanager
def project_lock(workspace: Workspace) -> Iterator[None]:
    """Hold the project's lock; fail at once, clearly, if another run holds it."""
    ensure_state_dir(workspace)
    flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
    fd = os.open(workspace.lock_path, flags, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise RockpackError(
                f"Another rockpack run (pid {holder}) is using {workspace.project_dir}.",
                resolution="Wait for it to finish, then run this command again.",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)
