"""What the Python extensions share: finding the app's entry, its requirements, its parts.

The rock's Python is the build-base's own (Debian's or Ubuntu's ``python3-venv``), at
/usr/bin/python3.X. craft-parts' python plugin makes its venv at the root of the part's
install directory; what the rock holds from it is decided here, on purpose, for every base:

- the app's packages: /lib/python3.X/site-packages (on a usrmerged base, /usr/lib/...);
- no ``pyvenv.cfg``: a ``sitecustomize.py`` in /usr/lib/python3.X adds that directory,
  ahead of the system's dist-packages, so ``python3``, ``/bin/python3`` and
  ``/usr/bin/python3`` all see the app's packages, as in Rockcraft's rocks;
- on ``bare`` the venv's ``bin/python3`` link (to ../usr/bin/python3.X) is kept: it is
  /bin/python3; on a base with ``bin -> usr/bin`` the venv's ``bin/python*`` links are left
  out, because they would land on the interpreter's own /usr/bin/python3* and break it.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rockpack.project.extensions.framework import DAEMON_UID, App

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pyproject.toml is then not read
    tomllib = None  # type: ignore[assignment]

# The Python each build-base ships (its python3-venv package).
PYTHON_VERSIONS = {
    "debian@12": "3.11",
    "debian@13": "3.13",
    "ubuntu@22.04": "3.10",
    "ubuntu@24.04": "3.12",
}
PYTHON_BASES = ("bare", "debian@12", "debian@13", "ubuntu@22.04", "ubuntu@24.04")

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")

SITECUSTOMIZE = """\
# Added by rockpack's 12-factor extension: the app's packages are in
# /lib/pythonX.Y/site-packages, found however the interpreter is called.
import site
import sys

_packages = "/lib/python%d.%d/site-packages" % sys.version_info[:2]
site.addsitedir(_packages)
if _packages in sys.path:
    sys.path.remove(_packages)
    _first = [i for i, p in enumerate(sys.path) if p.endswith("dist-packages")]
    sys.path.insert(_first[0] if _first else len(sys.path), _packages)
"""

# Debian's ca-certificates package leaves the bundle to its postinst; a rock runs no
# postinst, so the runtime part writes the bundle update-ca-certificates would.
CA_BUNDLE = """\
mkdir -p "$CRAFT_PART_INSTALL/etc/ssl/certs"
find "$CRAFT_PART_INSTALL/usr/share/ca-certificates" -name '*.crt' | LC_ALL=C sort \\
  | xargs -r cat > "$CRAFT_PART_INSTALL/etc/ssl/certs/ca-certificates.crt\""""

# A bare rock has no /bin/sh: point it at the staged bash, wherever the release puts it.
BARE_SHELL = """\
mkdir -m 1777 -p "$CRAFT_PART_INSTALL/tmp"
for dir in usr/bin bin; do
  if [ -e "$CRAFT_PART_INSTALL/$dir/bash" ] && [ ! -e "$CRAFT_PART_INSTALL/$dir/sh" ]; then
    ln -s bash "$CRAFT_PART_INSTALL/$dir/sh"
  fi
done"""


def python_version(app: App) -> str:
    return PYTHON_VERSIONS.get(app.build_base, "3")


def requirement_names(app: App) -> set[str]:
    """Lower-case names of the packages requirements.txt and pyproject.toml declare."""
    lines: list[str] = []
    requirements = app.path("requirements.txt")
    if requirements.is_file():
        lines += requirements.read_text(encoding="utf-8", errors="replace").splitlines()
    pyproject = app.path("pyproject.toml")
    if pyproject.is_file() and tomllib is not None:
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8", errors="replace"))
        except tomllib.TOMLDecodeError:
            data = {}
        dependencies = data.get("project", {}).get("dependencies", [])
        lines += [d for d in dependencies if isinstance(d, str)]
    names = set()
    for line in lines:
        if line.strip().startswith(("#", "-")):
            continue
        match = _NAME.match(line)
        if match:
            names.add(re.sub(r"[-_.]+", "-", match.group(1)).lower())
    return names


def requirements_problem(app: App, framework: str, *, pyproject: bool = True) -> list[str]:
    """What is wrong with the app's requirements for ``framework`` (a package name)."""
    files = ("requirements.txt", "pyproject.toml") if pyproject else ("requirements.txt",)
    if not any(app.exists(f) for f in files):
        return [
            f"missing {' or '.join(files)} in {app.project_dir}: list '{framework}' in it "
            "as a dependency"
        ]
    if framework.lower() not in requirement_names(app):
        return [f"{' or '.join(f for f in files if app.exists(f))} does not list '{framework}'"]
    return []


def entry_locations(app: App) -> list[str]:
    """Where Rockcraft looks for a WSGI or ASGI app, in its order."""
    return [
        "app.py",
        "main.py",
        *(f"{d}/{f}" for d in ("app", "src", app.snake_name) for f in _MODULE_FILES),
    ]


_MODULE_FILES = ("__init__.py", "app.py", "main.py")


def module_of(location: str) -> str:
    """``src/app.py`` -> ``src.app``; ``app/__init__.py`` -> ``app``."""
    parts = [p.removesuffix(".py") for p in Path(location).parts if p != "__init__.py"]
    return ".".join(parts)


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8", errors="replace"), filename=path.name)


def defines_global(path: Path, name: str) -> bool:
    """Whether the module assigns or imports a global ``name``."""
    for node in _tree(path).body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets = [node.target]
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return True
        if isinstance(node, ast.ImportFrom | ast.Import) and any(
            (alias.asname or alias.name) == name for alias in node.names
        ):
            return True
    return False


def defines_function(path: Path, name: str) -> bool:
    return any(isinstance(node, ast.FunctionDef) and node.name == name for node in _tree(path).body)


def entry_or_placeholder(
    app: App, variables: Iterable[str], factories: Iterable[str] = ()
) -> tuple[str | None, str]:
    """(the entry's location, "module:object"), or (None, "app:app") when there is none or a
    candidate does not parse: the snippet still expands, problems() reports why."""
    try:
        found = find_entry(app, variables, factories)
    except SyntaxError:
        found = None
    return found if found else (None, "app:app")


def find_entry(
    app: App, variables: Iterable[str], factories: Iterable[str] = ()
) -> tuple[str, str] | None:
    """(location, "module:object") of the first app object, then the first factory.

    Raises SyntaxError for a candidate file Python cannot parse.
    """
    locations = [loc for loc in entry_locations(app) if app.path(loc).is_file()]
    for location in locations:
        for variable in variables:
            if defines_global(app.path(location), variable):
                return location, f"{module_of(location)}:{variable}"
    for location in locations:
        for factory in factories:
            if defines_function(app.path(location), factory):
                return location, f"{module_of(location)}:{factory}()"
    return None


def entry_problem(app: App, what: str, variables: list[str], factories: list[str]) -> list[str]:
    """A message naming every place searched and every name looked for, or nothing."""
    try:
        found = find_entry(app, variables, factories)
    except SyntaxError as err:
        return [f"cannot parse {err.filename} (line {err.lineno}): {err.msg}"]
    if found:
        return []
    names = " or ".join(f"'{v}'" for v in variables)
    factory_text = (
        " or a " + " or ".join(f"'{f}()'" for f in factories) + " factory" if factories else ""
    )
    return [
        f"no {what} found: none of {', '.join(entry_locations(app))} defines a global "
        f"{names}{factory_text}"
    ]


def dependencies_part(app: App, packages: list[str], requirements: list[str]) -> dict[str, Any]:
    """The ``<framework>/dependencies`` part: the build-base's Python and a venv."""
    # The CA bundle is the runtime part's (craft-parts copies the build host's into any
    # part whose packages link to it).
    stage = [
        "-pyvenv.cfg",
        "-usr/lib/python3*/sitecustomize.py",
        "-etc/ssl/certs/ca-certificates.crt",
    ]
    part: dict[str, Any] = {
        "plugin": "python",
        "stage-packages": ["python3-venv"],
        "source": ".",
        "python-packages": packages,
        "python-requirements": requirements,
        "build-environment": [],
    }
    if app.bare:
        part["build-environment"] = [{"PARTS_PYTHON_INTERPRETER": f"python{python_version(app)}"}]
    else:
        stage.append("-bin/python*")
    part["stage"] = stage
    return part


def runtime_part(app: App) -> dict[str, Any]:
    """The ``<framework>/runtime`` part: CA bundle, sitecustomize; on bare, shell and /tmp."""
    site_dir = f"usr/lib/python{python_version(app)}"
    script = [
        CA_BUNDLE,
        f'mkdir -p "$CRAFT_PART_INSTALL/{site_dir}"',
        f"cat > \"$CRAFT_PART_INSTALL/{site_dir}/sitecustomize.py\" <<'EOF'\n{SITECUSTOMIZE}EOF",
    ]
    packages = ["ca-certificates"]
    if app.bare:
        script.insert(0, BARE_SHELL)
        packages = ["bash", "coreutils", "ca-certificates"]
    return {"plugin": "nil", "override-build": "\n".join(script), "stage-packages": packages}


def logging_part(extra_dirs: list[str] | None = None) -> dict[str, Any]:
    """The ``<framework>/logging`` part: directories a log shipper writes, owned by _daemon_."""
    dirs = ["opt/promtail", "etc/promtail", *(extra_dirs or [])]
    return {
        "plugin": "nil",
        "override-build": "\n".join(
            ["craftctl default", *(f"mkdir -p $CRAFT_PART_INSTALL/{d}" for d in dirs)]
        ),
        "permissions": [{"path": d, "owner": DAEMON_UID, "group": DAEMON_UID} for d in dirs],
    }


def prime_problem(extension: str, part: str, prefix: str, entries: list[str]) -> list[str]:
    """A user's prime (or stage) list must name paths under ``prefix``."""
    bad = [e for e in entries if not re.match(rf"-? *{re.escape(prefix)}", str(e))]
    if bad:
        return [
            f"the entries of '{part}' must start with '{prefix}' "
            f"(found: {', '.join(map(str, bad))})"
        ]
    return []


def install_app_files(
    app: App, app_dir: str, listed: list[str]
) -> tuple[dict[str, str], list[str]]:
    """(organize, stage) of a dump part copying the app into ``app_dir``.

    ``listed``: the part's prime (or stage) list; when it includes paths, only those are
    copied, else every top-level file of the project except build leftovers.
    """
    if listed and not str(listed[0]).startswith("-"):
        organize = {str(Path(str(f)).relative_to(app_dir)): str(f) for f in listed}
    else:
        skipped = re.compile(r"^(node_modules|\.git|\.yarn|\.rockpack|.*\.rock)$")
        organize = {f: f"{app_dir}/{f}" for f in app.project_files() if not skipped.match(f)}
    return organize, list(organize.values())


def assets_part(app: App, part: str, defaults: tuple[str, ...]) -> dict[str, Any] | None:
    """A dump part copying assets into /app: the user's ``stage`` of ``part``, else those of
    ``defaults`` the project has; none when there are none or the list only excludes."""
    stage = app.user_list(part, "stage") or [f"app/{f}" for f in defaults if app.exists(f)]
    if not stage or str(stage[0]).startswith("-"):
        return None
    organize = {os.path.relpath(str(f), "app"): str(f) for f in stage}
    return {"plugin": "dump", "source": ".", "organize": organize, "stage": stage}
