"""fastapi-framework: an ASGI app served by uvicorn from /app.

The app provides requirements.txt listing ``fastapi`` or ``starlette``, and a global
``app`` in app.py, main.py, or __init__.py/app.py/main.py of app/, src/ or the rock's
name. uvicorn listens on 0.0.0.0 (``UVICORN_HOST``) at its default port, 8000, as in
Rockcraft; ``UVICORN_PORT`` in the service's environment changes it.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from rockpack.project.extensions import python_app as py
from rockpack.project.extensions.framework import DAEMON, DAEMON_UID, App, Extension

NAME = "fastapi-framework"
INSTALL_APP = f"{NAME}/install-app"
PORT = 8000
DEFAULT_PRIME = ("migrate", "migrate.sh", "migrate.py", "static", "templates")


def _user_prime(app: App) -> list[str]:
    return app.user_list(INSTALL_APP, "prime")


def problems(app: App) -> list[str]:
    found: list[str] = []
    if not app.exists("requirements.txt"):
        found.append(
            f"missing requirements.txt in {app.project_dir}: list 'fastapi' (or 'starlette') in it"
        )
    elif not {"fastapi", "starlette"} & py.requirement_names(app):
        found.append("requirements.txt lists neither 'fastapi' nor 'starlette'")
    found += py.prime_problem(NAME, INSTALL_APP, "app/", _user_prime(app))
    if not app.user_command("fastapi"):
        found += py.entry_problem(app, "ASGI app", ["app"], [])
    return found


def _prime(app: App, entry: str | None) -> list[str]:
    prime = _user_prime(app)
    if prime:
        return prime
    names = [f for f in DEFAULT_PRIME if app.exists(f)]
    if entry is not None and not app.user_command("fastapi"):
        names.append(PurePosixPath(entry).parts[0])
    return [f"app/{f}" for f in names]


def snippet(app: App) -> dict[str, Any]:
    entry, asgi = py.entry_or_placeholder(app, ["app"])
    organize, stage = py.install_app_files(app, "app", _prime(app, entry))
    service: dict[str, Any] = {
        "override": "replace",
        "startup": "enabled",
        "user": DAEMON,
        "working-dir": "/app",
        "environment": {"UVICORN_HOST": "0.0.0.0"},  # reachable from outside the container
    }
    if not app.user_command("fastapi"):
        service["command"] = f"/bin/python3 -m uvicorn {asgi}"
    return {
        "run-user": DAEMON,
        "services": {"fastapi": service},
        "parts": {
            f"{NAME}/dependencies": py.dependencies_part(app, ["uvicorn"], ["requirements.txt"]),
            INSTALL_APP: {
                "plugin": "dump",
                "source": ".",
                "organize": organize,
                "stage": stage,
                "permissions": [{"owner": DAEMON_UID, "group": DAEMON_UID}],
            },
            f"{NAME}/runtime": py.runtime_part(app),
            f"{NAME}/logging": py.logging_part(),
        },
    }


EXTENSION = Extension(
    name=NAME,
    summary="ASGI app (FastAPI, Starlette) served by uvicorn on port 8000",
    bases=tuple(b for b in py.PYTHON_BASES if b != "ubuntu@22.04"),
    experimental_bases=(),
    problems=problems,
    snippet=snippet,
    untested=("debian@13", "ubuntu@24.04"),
)
