"""Image references: ``[registry/]repository[:tag][@digest]``, normalised like Docker's."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rockpack.errors import RockpackError

DOCKER_HUB = "docker.io"
_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_HOST_RE = re.compile(rf"^(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{{1,5}})?$")


@dataclass(frozen=True)
class Reference:
    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def api_host(self) -> str:
        """Where the registry API answers (Docker Hub's API is not on docker.io)."""
        return "registry-1.docker.io" if self.registry == DOCKER_HUB else self.registry

    @property
    def version(self) -> str:
        """What to ask the manifest endpoint for: the digest if pinned, else the tag."""
        return self.digest or self.tag or "latest"

    def with_registry(self, registry: str) -> Reference:
        return Reference(registry, self.repository, self.tag, self.digest)

    def with_digest(self, digest: str) -> Reference:
        return Reference(self.registry, self.repository, self.tag, digest)

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_reference(text: str) -> Reference:
    """Parse ``text``; a bare name means Docker Hub, a one-part path ``library/``."""
    rest, _, digest = text.partition("@")
    if digest and not _DIGEST_RE.match(digest):
        raise _invalid(text, f"'{digest}' is not a sha256 digest")
    first, _, remainder = rest.partition("/")
    if names_registry(text):
        if not is_registry_host(first):
            raise _invalid(text, f"'{first}' is not a registry host (HOST or HOST:PORT)")
        registry, path = first, remainder
    else:
        registry, path = DOCKER_HUB, rest
    name, colon, tag = path.rpartition(":") if ":" in path else (path, "", "")
    if not colon:
        name, tag = path, ""
    if registry == DOCKER_HUB and "/" not in name:
        name = f"library/{name}"
    if not _REPOSITORY_RE.match(name):
        raise _invalid(text, f"'{name}' is not a valid repository name")
    if tag and not _TAG_RE.match(tag):
        raise _invalid(text, f"'{tag}' is not a valid tag")
    if not tag and not digest:
        tag = "latest"
    return Reference(registry, name, tag or None, digest or None)


def names_registry(text: str) -> bool:
    """Whether ``text`` starts with a registry host (else it means Docker Hub)."""
    first, slash, _ = text.partition("@")[0].partition("/")
    return bool(slash) and ("." in first or ":" in first or first == "localhost")


def names_tag(text: str) -> bool:
    """Whether ``text`` gives a tag (``name:tag``), not only a repository or a digest."""
    return ":" in text.partition("@")[0].rsplit("/", 1)[-1]


def is_registry_host(host: str) -> bool:
    return bool(_HOST_RE.match(host))


def repository_component(text: str) -> str:
    """``text`` made into one valid repository path component ('' if nothing is left)."""
    lowered = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return lowered[:128] if _REPOSITORY_RE.match(lowered[:128]) else ""


def tag_from(text: str) -> str:
    """``text`` made into a valid tag ('' if nothing is left)."""
    tag = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).lstrip(".-")[:128]
    return tag if _TAG_RE.match(tag) else ""


def _invalid(text: str, why: str) -> RockpackError:
    return RockpackError(
        f"Invalid image reference {text!r}: {why}.",
        resolution="Write it as [registry/]repository[:tag][@sha256:digest].",
    )
