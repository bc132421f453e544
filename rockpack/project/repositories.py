"""package-repositories: validated by craft-archives (as Rockcraft does), and where and how
they may be applied.

Applying them (rockpack.build.repositories) changes the apt sources of the system the
parts build on. In a clean build that is the throwaway instance; on this host
(--destructive-mode) the change stays, so it happens only when the user asks for it.
Keys come from the project's ``keys/<last 8 hex digits of the key-id>.asc`` (offline,
pinned in the project, the file name craft-archives looks for) or else from a keyserver.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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


KEYS_DIR = "keys"
APPLY_ON_HOST_ENV = "ROCKPACK_APPLY_PACKAGE_REPOSITORIES"
APPLY_ON_HOST_FLAG = "--apply-package-repositories"
DEFAULT_KEYSERVER = "keyserver.ubuntu.com"  # craft-archives' default
# The Ubuntu cloud archive's signing key, as craft-archives installs it for 'cloud' entries.
CLOUD_ARCHIVE_KEY_ID = "391A9AA2147192839E9DB0315EDB1B62EC4926EA"
_TRUE = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Repository:
    """One entry of package-repositories, as the checks and their messages need it."""

    index: int
    kind: str  # "apt", "ppa" or "cloud"
    name: str  # the URL, "ppa:OWNER/NAME" or "cloud:RELEASE"
    key_id: str | None  # None: a PPA whose key Launchpad names
    key_server: str = DEFAULT_KEYSERVER
    url: str | None = None

    @property
    def where(self) -> str:
        """How a message names it: its place in the project file and what it is."""
        return f"package-repositories[{self.index}] ({self.name})"


def repositories_of(data: list[dict[str, Any]] | None) -> list[Repository]:
    """The project's (already validated) package-repositories."""
    found = []
    for index, entry in enumerate(data or []):
        key_id = entry.get("key-id")
        if "ppa" in entry:
            found.append(Repository(index, "ppa", f"ppa:{entry['ppa']}", key_id))
        elif "cloud" in entry:
            name = f"cloud:{entry['cloud']}"
            found.append(Repository(index, "cloud", name, CLOUD_ARCHIVE_KEY_ID))
        else:
            url = str(entry.get("url", "")).rstrip("/")
            server = entry.get("key-server") or DEFAULT_KEYSERVER
            found.append(Repository(index, "apt", url, key_id, server, url))
    return found


def key_file_name(key_id: str) -> str:
    """The key file craft-archives looks for: the key-id's last 8 hex digits, uppercase."""
    return f"{key_id[-8:].upper()}.asc"


def key_file(project_dir: Path, key_id: str) -> Path:
    return project_dir / KEYS_DIR / key_file_name(key_id)


def apply_on_host_requested(flag: bool, environ: Mapping[str, str] = os.environ) -> bool:
    """--apply-package-repositories, or ROCKPACK_APPLY_PACKAGE_REPOSITORIES=1."""
    return flag or environ.get(APPLY_ON_HOST_ENV, "").strip().lower() in _TRUE


def check_applicable(
    repositories: list[Repository], build_base: str, *, managed: bool, apply_on_host: bool
) -> None:
    """Raise unless the repositories can be applied where this build runs."""
    if not repositories:
        return
    _check_distinct_urls(repositories)
    for repository in repositories:
        if repository.kind != "apt" and not build_base.startswith("ubuntu@"):
            what = "a PPA" if repository.kind == "ppa" else "the Ubuntu cloud archive"
            raise ProviderError(
                f"{repository.where} is {what}, which only an Ubuntu build-base can use; "
                f"this project builds on {build_base}.",
                resolution="Build on an ubuntu@ build-base, or declare the archive as an "
                "'apt' repository with its 'url', 'suites', 'components' and 'key-id'.",
            )
    if not managed and not apply_on_host:
        raise ProviderError(
            "The project adds package-repositories: applying them on this host would change "
            "its apt sources, and the change stays after the build.",
            details="Clean builds apply them inside the build instance only.",
            resolution="Build in a clean LXD instance (leave out --destructive-mode), or allow "
            f"the change with {APPLY_ON_HOST_FLAG} (or {APPLY_ON_HOST_ENV}=1).",
            retcode=2,
        )


def _check_distinct_urls(repositories: list[Repository]) -> None:
    """craft-archives writes one sources file per URL: a second entry would replace the first."""
    seen: dict[str, Repository] = {}
    for repository in repositories:
        if repository.url is None:
            continue
        file_name = re.sub(r"\W+", "_", repository.url)  # as craft-archives names the file
        first = seen.setdefault(file_name, repository)
        if first is not repository:
            raise ProviderError(
                f"package-repositories[{first.index}] and [{repository.index}] have the same "
                f"url ({repository.url}): craft-archives keeps one sources file per url, so "
                "the second would replace the first.",
                resolution="Merge them into one entry (list every suite in 'suites'), or "
                "reach one of them by another url (another host name or path).",
            )


def loopback_ports(repositories: list[Repository]) -> list[int]:
    """Ports of repositories on this host's loopback, which a clean build must forward."""
    ports = set()
    for repository in repositories:
        if repository.url is None:
            continue
        url = urlsplit(repository.url)
        if url.scheme not in ("http", "https") or not _is_loopback(url.hostname or ""):
            continue
        try:
            port = url.port
        except ValueError:
            continue
        ports.add(port or (443 if url.scheme == "https" else 80))
    return sorted(ports)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
