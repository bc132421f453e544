"""Registry credentials from the auth files podman and docker write."""

from __future__ import annotations

import base64
import binascii
import json
import os
from pathlib import Path

_MAX_AUTH_FILE = 1024 * 1024


def auth_files() -> list[Path]:
    """Where podman and docker keep credentials, in the order they are consulted."""
    files = []
    if os.environ.get("REGISTRY_AUTH_FILE"):
        files.append(Path(os.environ["REGISTRY_AUTH_FILE"]))
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        files.append(Path(runtime) / "containers" / "auth.json")
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    files.append(config / "containers" / "auth.json")
    docker_config = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    files.append(docker_config / "config.json")
    return files


def find_credentials(registry: str) -> tuple[str, str] | None:
    """(user, password) for ``registry`` from the first auth file that has them.

    A missing, unreadable or malformed file is skipped, as podman and docker do.
    """
    keys = [registry, f"https://{registry}", f"http://{registry}"]
    if registry == "docker.io":
        keys += ["index.docker.io", "https://index.docker.io/v1/", "registry-1.docker.io"]
    for path in auth_files():
        auths = _auths(path)
        for key in keys:
            entry = auths.get(key)
            found = _decode(entry.get("auth")) if isinstance(entry, dict) else None
            if found:
                return found
    return None


def _auths(path: Path) -> dict[str, object]:
    try:
        with path.open("rb") as handle:
            data = json.loads(handle.read(_MAX_AUTH_FILE + 1)[:_MAX_AUTH_FILE])
    except (OSError, ValueError, RecursionError):
        return {}
    auths = data.get("auths") if isinstance(data, dict) else None
    return auths if isinstance(auths, dict) else {}


def _decode(value: object) -> tuple[str, str] | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        user, _, password = base64.b64decode(value).decode().partition(":")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    return user, password
