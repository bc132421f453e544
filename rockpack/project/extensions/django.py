"""django-framework: a Django project served by gunicorn on port 8000 from /django/app.

The app provides requirements.txt or pyproject.toml listing ``django``, and its Django
project in a directory named after the rock (hyphens as underscores), whose settings
package is the same name or ``mysite``: <name>/<name>/wsgi.py or <name>/mysite/wsgi.py,
defining a global ``application``.
"""

from __future__ import annotations

from typing import Any

from rockpack.project.extensions import gunicorn
from rockpack.project.extensions import python_app as py
from rockpack.project.extensions.framework import DAEMON_UID, App, Extension

NAME = "django-framework"
INSTALL_APP = f"{NAME}/install-app"


def _wsgi_locations(app: App) -> list[str]:
    return [f"{app.snake_name}/{package}/wsgi.py" for package in (app.snake_name, "mysite")]


def _wsgi(app: App) -> str | None:
    for location in _wsgi_locations(app):
        path = app.path(location)
        if path.is_file() and py.defines_global(path, "application"):
            package = location.split("/")[1]
            return f"{package}.wsgi:application"
    return None


def problems(app: App) -> list[str]:
    found = py.requirements_problem(app, "django")
    if app.user_command("django"):
        return found
    try:
        wsgi = _wsgi(app)
    except SyntaxError as err:
        return [*found, f"cannot parse {err.filename} (line {err.lineno}): {err.msg}"]
    if wsgi is None:
        found.append(
            "no Django project found: neither "
            f"{' nor '.join(_wsgi_locations(app))} defines a global 'application' "
            f"(the project directory must be named '{app.snake_name}', after the rock)"
        )
    return found


def _install_app(app: App) -> dict[str, Any]:
    part: dict[str, Any] = {}
    if not app.user_part(INSTALL_APP):
        part = {
            "plugin": "dump",
            "source": app.snake_name,
            "organize": {"*": "django/app/", ".*": "django/app/"},
            "stage": ["-django/app/db.sqlite3"],
        }
    part["permissions"] = [{"owner": DAEMON_UID, "group": DAEMON_UID}]
    return part


def snippet(app: App) -> dict[str, Any]:
    try:
        wsgi = _wsgi(app) or f"{app.snake_name}.wsgi:application"
    except SyntaxError:
        wsgi = f"{app.snake_name}.wsgi:application"
    return gunicorn.snippet(app, "django", _install_app(app), wsgi)


EXTENSION = Extension(
    name=NAME,
    summary="Django project served by gunicorn on port 8000",
    bases=py.PYTHON_BASES,
    experimental_bases=(),
    problems=problems,
    snippet=snippet,
    untested=("debian@13", "ubuntu@22.04", "ubuntu@24.04"),
)
