"""expressjs-framework: a Node.js app in app/, started with ``npm start`` from /app.

The app provides app/package.json with a ``name`` and a ``scripts.start``. The npm plugin
installs it as /lib/node_modules/<name>, linked from /app. Node.js and npm come from the
build-base's archive (build-packages ``nodejs`` and ``npm``; in the rock, its ``nodejs``
and ``npm`` packages), as in Rockcraft when ``npm-include-node`` is not set; with it, the
npm plugin downloads Node.js from nodejs.org. The app picks its own port.
"""

from __future__ import annotations

import json
from typing import Any

from rockpack.project.extensions import python_app as py
from rockpack.project.extensions.framework import DAEMON, DAEMON_UID, App, Extension

NAME = "expressjs-framework"
INSTALL_APP = f"{NAME}/install-app"
PACKAGE_JSON = "app/package.json"


def _package(app: App) -> tuple[dict[str, Any] | None, str | None]:
    """(package.json's content, or None and what is wrong with it)."""
    path = app.path(PACKAGE_JSON)
    if not path.is_file():
        return None, f"missing {PACKAGE_JSON} in {app.project_dir}: the app must be in app/"
    try:
        content = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except json.JSONDecodeError as err:
        return None, f"cannot parse {PACKAGE_JSON} (line {err.lineno}): {err.msg}"
    if not isinstance(content, dict):
        return None, f"{PACKAGE_JSON} is not a JSON object"
    return content, None


def problems(app: App) -> list[str]:
    content, problem = _package(app)
    if content is None:
        return [str(problem)]
    found = []
    scripts = content.get("scripts")
    if not isinstance(scripts, dict) or "start" not in scripts:
        found.append(f"{PACKAGE_JSON} has no 'scripts.start' (the command 'npm start' runs)")
    if not isinstance(content.get("name"), str):
        found.append(f"{PACKAGE_JSON} has no 'name'")
    return found


def _app_name(app: App) -> str:
    content, _ = _package(app)
    name = (content or {}).get("name")
    return name if isinstance(name, str) else app.name


def _install_app(app: App, include_node: bool) -> dict[str, Any]:
    name = _app_name(app)
    modules = f"${{CRAFT_PART_INSTALL}}/lib/node_modules/{name}"
    script = [
        "rm -rf node_modules",
        "craftctl default",
        "npm config set script-shell=bash --location project",
        f"cp ${{CRAFT_PART_BUILD}}/.npmrc {modules}/.npmrc",
        f"chown -R {DAEMON_UID}:{DAEMON_UID} {modules}",
        f"ln -s /lib/node_modules/{name} ${{CRAFT_PART_INSTALL}}/app",
        f"chown -h {DAEMON_UID}:{DAEMON_UID} ${{CRAFT_PART_INSTALL}}/app",
        py.CA_BUNDLE,
    ]
    if app.bare:
        script.append(py.BARE_SHELL)
    part: dict[str, Any] = {"plugin": "npm", "source": "app/", "override-build": "\n".join(script)}
    user = app.user_part(INSTALL_APP)
    if not include_node and not user.get("build-packages") and not user.get("build-snaps"):
        part["build-packages"] = ["nodejs", "npm"]
    if app.bare:
        part["stage-packages"] = ["bash", "ca-certificates", "coreutils"]
    else:
        part["stage-packages"] = ["ca-certificates"] + ([] if include_node else ["nodejs"])
    if include_node:
        part["npm-include-node"] = True
        part["npm-node-version"] = user.get("npm-node-version")
    # Node.js in some archives hangs in 'npm install' on kernels with io_uring.
    part["build-environment"] = [{"UV_USE_IO_URING": "0"}]
    return part


def snippet(app: App) -> dict[str, Any]:
    include_node = bool(app.user_part(INSTALL_APP).get("npm-include-node"))
    service: dict[str, Any] = {
        "override": "replace",
        "startup": "enabled",
        "user": DAEMON,
        "working-dir": "/app",
        "environment": {"NODE_ENV": "production"},
    }
    if not app.user_command("expressjs"):
        service["command"] = "npm start"
    parts: dict[str, Any] = {INSTALL_APP: _install_app(app, include_node)}
    runtime = (["libstdc++6", "zlib1g"] if app.bare else []) + ([] if include_node else ["npm"])
    if runtime:
        parts[f"{NAME}/runtime"] = {
            "plugin": "nil",
            "stage-packages": runtime,
            "stage": ["-etc/ssl/certs/ca-certificates.crt"],
        }
    parts[f"{NAME}/logging"] = py.logging_part()
    return {"run-user": DAEMON, "services": {"expressjs": service}, "parts": parts}


EXTENSION = Extension(
    name=NAME,
    summary="Express (Node.js) app started with 'npm start'",
    bases=("bare", "debian@12", "debian@13", "ubuntu@24.04"),
    experimental_bases=(),
    problems=problems,
    snippet=snippet,
    untested=("debian@13", "ubuntu@24.04"),
)
