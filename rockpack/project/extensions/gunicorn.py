"""The gunicorn half of flask-framework and django-framework: service, config, metrics.

gunicorn serves the WSGI app on 0.0.0.0:8000 from /<framework>/app, with the worker class
in the service's default arguments (``--args flask gevent`` replaces it at run time).
Rockcraft also builds prometheus' statsd_exporter from its GitHub source with the go snap;
neither is reachable from every build machine, so rockpack adds the exporter (its part and
its ``statsd-exporter`` service) only when the project asks for it, by naming the service
or the part. gunicorn sends metrics to it only when the rock has /bin/statsd_exporter.
"""

from __future__ import annotations

from typing import Any

from rockpack.project.extensions import python_app as py
from rockpack.project.extensions.framework import DAEMON, DAEMON_UID, App
from rockpack.project.extensions.python_app import requirement_names

PORT = 8000
EXPORTER = "statsd-exporter"
EXPORTER_COMMAND = (
    "/bin/statsd_exporter --statsd.mapping-config=/statsd-mapping.conf "
    "--statsd.listen-udp=localhost:9125 --statsd.listen-tcp=localhost:9125"
)

GUNICORN_CONF = """\
# gunicorn settings of rockpack's {framework}-framework extension.
import os

bind = ["0.0.0.0:{port}"]
chdir = "/{framework}/app"
# Metrics go to the StatsD exporter when the rock has one.
if os.path.exists("/bin/statsd_exporter"):
    statsd_host = "localhost:9125"
"""

STATSD_MAPPING = """\
mappings:
  - match: gunicorn.request.status.*
    name: {framework}_response_code
    labels:
      status: $1
  - match: gunicorn.requests
    name: {framework}_requests
  - match: gunicorn.request.duration
    name: {framework}_request_duration
"""


def wants_exporter(app: App, framework: str) -> bool:
    """Whether the project names the exporter's service or part."""
    services = app.data.get("services") or {}
    if not isinstance(services, dict):
        return False
    named = EXPORTER in services or bool(app.user_part(f"{framework}-framework/{EXPORTER}"))
    return named or any(
        EXPORTER in (service.get(key) or [])
        for service in services.values()
        if isinstance(service, dict)
        for key in ("after", "before", "requires")
    )


def worker_class(app: App) -> str:
    return "gevent" if "gevent" in requirement_names(app) else "sync"


def services(app: App, framework: str, wsgi: str) -> dict[str, Any]:
    """The ``<framework>`` service (and the exporter's when the project wants it)."""
    service: dict[str, Any] = {"override": "replace", "startup": "enabled", "user": DAEMON}
    if not app.user_command(framework):
        service["command"] = (
            f"/bin/python3 -m gunicorn -c /{framework}/gunicorn.conf.py '{wsgi}' "
            f"-k [ {worker_class(app)} ]"
        )
    result = {framework: service}
    if wants_exporter(app, framework):
        service["after"] = [EXPORTER]
        result[EXPORTER] = {
            "override": "merge",
            "command": EXPORTER_COMMAND,
            "summary": "statsd exporter service",
            "startup": "enabled",
            "user": DAEMON,
        }
    return result


def config_files_part(framework: str) -> dict[str, Any]:
    """gunicorn.conf.py in /<framework>/, the StatsD mapping at /statsd-mapping.conf."""
    conf = GUNICORN_CONF.format(framework=framework, port=PORT)
    mapping = STATSD_MAPPING.format(framework=framework)
    return {
        "plugin": "nil",
        "override-build": (
            f'mkdir -p "$CRAFT_PART_INSTALL/{framework}"\n'
            f"cat > \"$CRAFT_PART_INSTALL/{framework}/gunicorn.conf.py\" <<'EOF'\n{conf}EOF\n"
            f"cat > \"$CRAFT_PART_INSTALL/statsd-mapping.conf\" <<'EOF'\n{mapping}EOF"
        ),
        "permissions": [
            {"path": f"{framework}/gunicorn.conf.py", "owner": DAEMON_UID, "group": DAEMON_UID},
        ],
    }


def exporter_part() -> dict[str, Any]:
    """prometheus' statsd_exporter, built from its source with the build-base's Go."""
    return {
        "plugin": "go",
        "source": "https://github.com/prometheus/statsd_exporter.git",
        "source-tag": "v0.26.0",
        "build-packages": ["golang-go"],
    }


def snippet(app: App, framework: str, install_app: dict[str, Any], wsgi: str) -> dict[str, Any]:
    """``<framework>-framework``'s snippet around its own install-app part and WSGI entry."""
    name = f"{framework}-framework"
    requirements = ["requirements.txt"] if app.exists("requirements.txt") else []
    parts: dict[str, Any] = {
        f"{name}/dependencies": py.dependencies_part(app, ["gunicorn~=23.0"], requirements),
        f"{name}/install-app": install_app,
        f"{name}/config-files": config_files_part(framework),
        f"{name}/logging": py.logging_part([f"var/log/{framework}"]),
        f"{name}/runtime": py.runtime_part(app),
    }
    if wants_exporter(app, framework):
        parts[f"{name}/statsd-exporter"] = exporter_part()
    return {
        "run-user": DAEMON,
        "services": services(app, framework, wsgi),
        "parts": parts,
    }
