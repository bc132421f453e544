"""The one error for a disk that refuses a write: full, read-only, or not ours."""

from __future__ import annotations

import errno
from pathlib import Path

from rockpack.errors import RockpackError

_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the filesystem is read-only",
    errno.EACCES: "permission is denied",
    errno.EPERM: "the operation is not permitted",
}
_FULL = (errno.ENOSPC, errno.EDQUOT)


class DiskWriteError(RockpackError):
    """rockpack could not write one of its files (cache, state, output)."""

    def __init__(self, directory: Path, err: OSError, *, what: str = "rockpack's cache") -> None:
        self.directory = directory
        self.errno = err.errno
        reason = _REASONS.get(err.errno or 0, err.strerror or str(err))
        if err.errno in _FULL:
            fix = f"Free some space on the filesystem holding {directory}"
        else:
            fix = f"Make {directory} writable by this user"
        move = " (XDG_CACHE_HOME moves rockpack's shared cache)" if "cache" in what else ""
        super().__init__(
            f"Cannot write to {what} in {directory}: {reason}.",
            details=str(err),
            resolution=f"{fix}{move}, then run the command again; nothing half-written is kept.",
        )
