"""How rockpack talks to registries: plain HTTP or TLS, and how long it waits."""

from __future__ import annotations

import ipaddress
import os

from rockpack.oci.registry_errors import RegistryError

DEFAULT_TIMEOUT = 30.0


def is_loopback(host: str) -> bool:
    if host.startswith("["):  # [::1]:5000
        name = host[1:].split("]")[0]
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def registry_timeout() -> float:
    """Seconds one registry request may take (ROCKPACK_REGISTRY_TIMEOUT, default 30)."""
    raw = os.environ.get("ROCKPACK_REGISTRY_TIMEOUT", "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not 0 < value < 86400:
        raise RegistryError(
            f"ROCKPACK_REGISTRY_TIMEOUT={raw!r} is not a positive number of seconds.",
            resolution="Set it to e.g. 30, or unset it.",
        )
    return value


def insecure_registries() -> set[str]:
    """Registries the user allows over plain HTTP (ROCKPACK_INSECURE_REGISTRIES=a,b)."""
    raw = os.environ.get("ROCKPACK_INSECURE_REGISTRIES", "")
    return {item.strip() for item in raw.split(",") if item.strip()}
