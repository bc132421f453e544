"""flask-framework: a Flask app served by gunicorn on port 8000 from /flask/app.

The app provides requirements.txt or pyproject.toml listing ``flask``, and a global
``app`` (or ``application``) or a ``create_app()``/``make_app()`` factory in app.py,
main.py, or __init__.py/app.py/main.py of app/, src/ or the rock's name (hyphens as
underscores).
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from rockpack.project.extensions import gunicorn
from rockpack.project.extensions import python_app as py
from rockpack.project.extensions.framework import DAEMON_UID, App, Extension

NAME = "flask-framework"
INSTALL_APP = f"{NAME}/install-app"
VARIABLES = ["app", "application"]
FACTORIES = ["create_app", "make_app"]
DEFAULT_PRIME = (
    "app",
    "app.py",
    "main.py",
    "src",
    "migrate",
    "migrate.sh",
    "migrate.py",
    "static",
    "templates",
)


def _user_prime(app: App) -> list[str]:
    return app.user_list(INSTALL_APP, "prime")


def problems(app: App) -> list[str]:
    found = py.requirements_problem(app, "flask")
    found += py.prime_problem(NAME, INSTALL_APP, "flask/app", _user_prime(app))
    if not app.user_command("flask"):
        found += py.entry_problem(app, "WSGI app", VARIABLES, FACTORIES)
    return found


def _prime(app: App, entry: str | None) -> list[str]:
    prime = _user_prime(app)
    if prime:
        return prime
    names = [f for f in DEFAULT_PRIME if app.exists(f)]
    if entry is not None:
        top = PurePosixPath(entry).parts[0]
        if top not in names:
            names.append(top)  # the WSGI module's package, e.g. the rock's name
    return [f"flask/app/{f}" for f in names]


def snippet(app: App) -> dict[str, Any]:
    entry, wsgi = py.entry_or_placeholder(app, VARIABLES, FACTORIES)
    prime = _prime(app, entry)
    organize, stage = py.install_app_files(app, "flask/app", prime)
    install_app = {
        "plugin": "dump",
        "source": ".",
        "organize": organize,
        "stage": stage,
        "prime": prime,
        "permissions": [{"owner": DAEMON_UID, "group": DAEMON_UID}],
    }
    return gunicorn.snippet(app, "flask", install_app, wsgi)


EXTENSION = Extension(
    name=NAME,
    summary="Flask app served by gunicorn on port 8000",
    bases=py.PYTHON_BASES,
    experimental_bases=(),
    problems=problems,
    snippet=snippet,
    untested=("debian@13", "ubuntu@22.04", "ubuntu@24.04"),
)
