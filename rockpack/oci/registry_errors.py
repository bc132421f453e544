"""The errors a registry exchange ends in, worded for the user."""

from __future__ import annotations

from rockpack.errors import RockpackError


class RegistryError(RockpackError):
    """A registry could not be reached, refused us, or sent something wrong."""


class NotFoundError(RegistryError):
    """The registry answered 404: it does not have what was asked for."""


def http_error(
    what: str, url: str, status: int, reason: str, retried: int = 0, waited: float = 0.0
) -> RegistryError:
    if status == 404:
        return NotFoundError(
            f"{what}: not found in the registry ({url}).",
            resolution="Check the name and tag, or the mirror it is pulled through.",
        )
    after = f" (after {retried} retries)" if retried else ""
    if waited:
        after += f" and asked to wait {waited:g}s more"
    return RegistryError(
        f"{what}: the registry answered {status} {reason[:80]} for {url}{after}.",
        resolution="Try again later; if it persists, check the registry's health.",
    )


def needs_login(registry: str, repository: str) -> RegistryError:
    return RegistryError(
        f"{registry} refused access to {repository}.",
        resolution="Log in with 'podman login' or 'docker login' (rockpack reads their auth "
        "files), or check the repository name.",
    )


def unreachable(host: str, why: str, details: str, hint: str = "") -> RegistryError:
    """``why``: 'refused the connection', 'is an unknown host', 'could not be reached'."""
    extra = f"; {hint}" if hint else ""
    return RegistryError(
        f"The registry {host} could not be reached: it {why}."
        if why != "could not be reached"
        else f"The registry {host} could not be reached.",
        details=details,
        resolution=f"Check the network and the registry address{extra}.",
    )


def timed_out(host: str, seconds: float, hint: str = "") -> RegistryError:
    extra = f"; {hint}" if hint else ""
    return RegistryError(
        f"The registry {host} timed out (after {seconds:g}s).",
        details="ROCKPACK_REGISTRY_TIMEOUT bounds each request as a whole, answer included "
        "(a download may take longer while it keeps receiving at least 1 MiB per period).",
        resolution=f"Check the registry, or set ROCKPACK_REGISTRY_TIMEOUT to wait longer{extra}.",
    )


def too_large(what: str, limit: int) -> RegistryError:
    return RegistryError(
        f"{what}: the registry sent more than the {limit} bytes expected.",
        resolution="The registry sent corrupt or hostile data; check it.",
    )
