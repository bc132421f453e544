"""apt's answer about build-packages, kept while apt's state is the same.

craft-parts 2.37 asks ``apt-get --simulate install`` which packages the build-packages
would bring (``deb._get_packages_marked_for_installation_apt_get``), on every pack from
clean, even when they are all installed: a second of apt reading its caches. Its answer
depends only on the names asked, the recommends flag and apt's own state: dpkg's status
and architectures, the package lists, apt's configuration and apt itself. So the answer
is kept in ``$XDG_CACHE_HOME/rockpack/apt-simulations`` under a digest of all of those,
taken from their stat data; any change to apt's state is another key, and a failure is
never kept (upstream raises it each time). The same answer as upstream's, only without
asking twice; it could go upstream as it is.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path

from craft_parts.packages import deb

from rockpack.build.workspace import user_cache_dir
from rockpack.json_state import read_state, write_state
from rockpack.oci.disk import DiskWriteError

Marked = list[tuple[str, str]]
upstream_marked: Callable[..., Marked] = deb._get_packages_marked_for_installation_apt_get
APT_STATE = (  # what apt-get's simulation reads
    "/var/lib/dpkg/status",
    "/var/lib/dpkg/arch",
    "/var/lib/apt/lists",
    "/etc/apt",
    "/usr/bin/apt-get",
)


def marked_for_installation(
    package_names: list[str], *, include_recommends: bool = False
) -> Marked:
    """``_get_packages_marked_for_installation_apt_get``, answered from the cache when
    apt's state is as it was. Inside a chroot (the overlay step installs its packages
    in one) it is upstream's, untouched: a cache written there would land in the rock."""
    if _root() != _HOST_ROOT:
        return upstream_marked(package_names, include_recommends=include_recommends)
    key = _key(package_names, include_recommends)
    cached = _cached(key)
    if cached is not None:
        return cached
    marked = upstream_marked(package_names, include_recommends=include_recommends)
    _store(key, marked)
    return marked


def _key(package_names: list[str], include_recommends: bool) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps([package_names, include_recommends]).encode())
    digest.update(os.environ.get("APT_CONFIG", "").encode() + b"\0")
    for line in _state_lines():
        digest.update(line.encode("utf-8", "surrogateescape") + b"\n")
    return digest.hexdigest()


def _state_lines() -> Iterator[str]:
    for top in APT_STATE:
        for path in [top, *_below(top)]:
            try:
                st = os.lstat(path)
            except OSError:
                yield f"{path} -"
                continue
            yield f"{path} {st.st_mode} {st.st_size} {st.st_mtime_ns} {st.st_ctime_ns} {st.st_ino}"


def _below(top: str) -> list[str]:
    found = []
    for directory, dirnames, filenames in os.walk(top):
        dirnames.sort()
        found += [f"{directory}/{name}" for name in sorted(dirnames + filenames)]
    return found


def _entry(key: str) -> Path:
    return user_cache_dir() / "apt-simulations" / f"{key}.json"


def _cached(key: str) -> Marked | None:
    marked = read_state(_entry(key)).get("marked")
    if not isinstance(marked, list):
        return None
    try:
        return [(str(name), str(version)) for name, version in marked]
    except (TypeError, ValueError):
        return None


def _store(key: str, marked: Marked) -> None:
    with suppress(DiskWriteError):  # a cache that cannot be written is no error
        write_state(_entry(key), {"marked": marked})


def _root() -> tuple[int, int]:
    st = Path("/").stat()
    return st.st_dev, st.st_ino


_HOST_ROOT = _root()  # imported by apply(), before any step chroots


def apply() -> None:
    deb._get_packages_marked_for_installation_apt_get = marked_for_installation
