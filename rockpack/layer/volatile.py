"""Files apt and dpkg leave behind when the overlay step installs packages.

They record when and on which machine the step ran (logs, backups of dpkg's state, apt's
binary caches of this host's package lists), so they would make every rock differ, and
they are no use in an image: a container refreshes apt's lists before it installs.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from rockpack.oci.entries import Entry, Kind

VOLATILE = (
    "var/cache/apt/*.bin",
    "var/cache/apt/archives/*",
    "var/cache/debconf/*-old",
    "var/cache/ldconfig/aux-cache",
    "var/lib/apt/lists/*",
    "var/lib/dpkg/*-old",
    "var/lib/dpkg/lock*",
    "var/log/alternatives.log",
    "var/log/apt/*",
    "var/log/dpkg.log",
)


def is_volatile(path: str) -> bool:
    return any(fnmatchcase(path, pattern) for pattern in VOLATILE)


def without_volatile(entries: list[Entry]) -> list[Entry]:
    """``entries`` less the volatile files (directories stay: the base has them too)."""
    return [e for e in entries if e.kind == Kind.DIR or not is_volatile(e.path)]
