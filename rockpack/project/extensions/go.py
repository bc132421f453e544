"""go-framework: a Go program built with the go plugin, run from /app.

The app provides go.mod at the project's root. The binary named after the rock (the
module's main package when the module is named like the rock) is installed as
/usr/local/bin/<name> and is the ``go`` service's command. The program picks its own
port. Rockcraft builds with the go snap; rockpack uses the build-base's ``golang-go``.
"""

from __future__ import annotations

from typing import Any

from rockpack.project.extensions import python_app as py
from rockpack.project.extensions.framework import DAEMON, DAEMON_UID, App, Extension

NAME = "go-framework"
INSTALL_APP = f"{NAME}/install-app"
ASSETS = f"{NAME}/assets"
DEFAULT_ASSETS = ("migrate", "migrate.sh", "static", "templates")
GO_PACKAGES = ("golang-go", "gccgo-go")


def _assets_stage(app: App) -> list[str]:
    return app.user_list(ASSETS, "stage")


def problems(app: App) -> list[str]:
    found = []
    if not app.exists("go.mod"):
        found.append(f"missing go.mod in {app.project_dir}: the Go module's root must be there")
    return found + py.prime_problem(NAME, ASSETS, "app/", _assets_stage(app))


def _user_chose_go(user: Any) -> bool:
    """Whether the project's install-app part brings its own Go (snap or package)."""
    snaps = [str(s) for s in user.get("build-snaps") or []]
    packages = [str(p) for p in user.get("build-packages") or []]
    return any(s.startswith("go") for s in snaps) or any(
        p in GO_PACKAGES or p.startswith("golang-1.") for p in packages
    )


def _install_app(app: App) -> dict[str, Any]:
    user = app.user_part(INSTALL_APP)
    user_organize = user.get("organize")
    organize = dict(user_organize) if isinstance(user_organize, dict) else {}
    binary = f"usr/local/bin/{app.name}"
    if binary not in organize.values() and not app.user_command("go"):
        organize[f"bin/{app.name}"] = binary
    part: dict[str, Any] = {"plugin": "go", "source": ".", "organize": organize}
    if not _user_chose_go(user):
        part["build-packages"] = ["golang-go"]
    part["stage"] = list(organize.values())
    environment = user.get("build-environment") or []
    sets_cgo = any(isinstance(e, dict) and "CGO_ENABLED" in e for e in environment)
    if app.bare and not sets_cgo:
        part["build-environment"] = [{"CGO_ENABLED": "0"}]  # a static binary needs no libc
    return part


def snippet(app: App) -> dict[str, Any]:
    runtime: dict[str, Any] = {"plugin": "nil", "stage-packages": ["ca-certificates"]}
    script = [py.CA_BUNDLE]
    if app.bare:
        runtime["stage-packages"] += ["bash", "coreutils"]
        script.insert(0, py.BARE_SHELL)
    runtime["override-build"] = "\n".join(script)
    parts: dict[str, Any] = {
        f"{NAME}/base-layout": {
            "plugin": "nil",
            "override-build": "mkdir -p ${CRAFT_PART_INSTALL}/app",
            "permissions": [{"owner": DAEMON_UID, "group": DAEMON_UID}],
        },
        INSTALL_APP: _install_app(app),
        f"{NAME}/runtime": runtime,
        f"{NAME}/logging": py.logging_part(),
    }
    assets = py.assets_part(app, ASSETS, DEFAULT_ASSETS)
    if assets:
        parts[ASSETS] = assets
    return {
        "run-user": DAEMON,
        "services": {
            "go": {
                "override": "replace",
                "startup": "enabled",
                "command": app.name,
                "user": DAEMON,
                "working-dir": "/app",
            }
        },
        "parts": parts,
    }


EXTENSION = Extension(
    name=NAME,
    summary="Go program built with the build-base's Go, run from /app",
    bases=("bare", "debian@12", "debian@13", "ubuntu@24.04"),
    experimental_bases=(),
    problems=problems,
    snippet=snippet,
    untested=("debian@13", "ubuntu@24.04"),
)
