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
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
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


def _invalid(text: str, why: str) -> RockpackError:
    return RockpackError(
        f"Invalid image reference {text!r}: {why}.",
        resolution="Write it as [registry/]repository[:tag][@sha256:digest].",
    )
