"""A small, valid starting project file for this host (``rockpack init``).

``--profile simple`` (the default) writes a busybox rock; ``--profile <extension>`` writes
the few lines a 12-factor app needs (``extensions: [flask-framework]`` and friends) with
the app's expected layout in comments. Either packs as it is once the app is there.
"""

from __future__ import annotations

import copy
from pathlib import Path

from rockpack.build.providers import host_base
from rockpack.errors import RockpackError
from rockpack.project.architectures import host_arch
from rockpack.project.extensions import EXTENSIONS, App, apply_extensions
from rockpack.project.model import find_project_file, validate_project
from rockpack.project.yaml_source import YamlSource, parse_yaml

SIMPLE = "simple"
PROFILES = (SIMPLE, *sorted(EXTENSIONS))

STARTER_TEMPLATE = """\
name: {name}
version: "0.1"
summary: A one-line summary of {name}
description: |
  What this rock holds, and who it is for.
license: Apache-2.0
base: bare
build-base: {build_base}
platforms:
  {arch}:

# The program the container runs; the words in [ ] are default arguments.
entrypoint-command: /bin/busybox [ echo "hello from {name}" ]

parts:
  busybox:
    plugin: nil
    stage-packages:
      - busybox-static
"""

EXTENSION_TEMPLATE = """\
# See docs/extensions.md, section '{profile}'.
name: {name}
# 'bare' gives a small rock of the build-base's packages; debian@12 works as well.
base: bare
build-base: {build_base}
version: "0.1"
summary: A summary of your {what}
description: |
  What this rock holds, and who it is for.
platforms:
  {arch}:

{layout}
extensions:
  - {profile}
{parts}"""

LAYOUTS = {
    "flask-framework": """\
# The Flask app: requirements.txt (or pyproject.toml) listing flask, and app.py with a
# global 'app' (or main.py, or app/, src/ or {snake}/ holding __init__.py, app.py or
# main.py). gunicorn serves it on port 8000.""",
    "django-framework": """\
# The Django project: requirements.txt listing Django, and the project in {snake}/:
#   {snake}/manage.py
#   {snake}/{snake}/settings.py, urls.py, wsgi.py (wsgi.py defines 'application')
# gunicorn serves it on port 8000.""",
    "fastapi-framework": """\
# The ASGI app: requirements.txt listing fastapi (or starlette), and a global 'app' in
# app.py (or main.py, or app/, src/ or {snake}/ holding __init__.py, app.py or main.py).
# uvicorn serves it on port 8000.""",
    "go-framework": """\
# The Go program: go.mod at the root, module named {name}, its main package at the root;
# the binary /usr/local/bin/{name} runs from /app and picks its own port. It builds with
# the build-base's Go (golang-go).""",
    "expressjs-framework": """\
# The Node.js app, in app/: app/package.json with "name" and a "start" script, which
# 'npm start' runs from /app; the app picks its own port. Node.js and npm come from the
# build-base's packages.""",
    "spring-boot-framework": """\
# The Spring Boot app: pom.xml (Maven) or build.gradle (Gradle) at the root, not both;
# mvnw or gradlew, if there, executable. The jar runs from /app, on port 8080.
# Experimental: pack with ROCKPACK_ENABLE_EXPERIMENTAL_EXTENSIONS=1.""",
}

PARTS = {
    "flask-framework": """
# parts:
#   flask-framework/install-app:
#     prime:  # what of the project goes into the rock (default: app, app.py, static, ...)
#       - flask/app/app.py
#       - flask/app/templates
#   flask-framework/dependencies:
#     stage-packages:  # packages the app needs at run time
#       - libpq5
""",
    "django-framework": """
# parts:
#   django-framework/dependencies:
#     stage-packages:  # packages the app needs at run time
#       - libpq5
""",
    "fastapi-framework": """
# parts:
#   fastapi-framework/install-app:
#     prime:  # what of the project goes into the rock, under app/
#       - app/app.py
""",
    "go-framework": """
# parts:
#   go-framework/assets:
#     stage:  # files of the project to put in /app (default: migrate, static, templates)
#       - app/templates
""",
    "expressjs-framework": """
# parts:
#   expressjs-framework/install-app:
#     build-packages:  # Node.js already installed here (e.g. NodeSource's, which
#       - nodejs       # conflicts with the archive's npm)? Then list only nodejs.
""",
    "spring-boot-framework": """
# parts:
#   spring-boot-framework/install-app:
#     build-packages:  # the JDK that builds the jar
#       - openjdk-17-jdk
""",
}

WHAT = {
    "flask-framework": "Flask app",
    "django-framework": "Django app",
    "fastapi-framework": "FastAPI app",
    "go-framework": "Go app",
    "expressjs-framework": "Express app",
    "spring-boot-framework": "Spring Boot app",
}


def write_starter_project(project_dir: Path, name: str | None, profile: str = SIMPLE) -> Path:
    """Write rockpack.yaml in ``project_dir``; refuse when a project file exists."""
    if profile not in PROFILES:
        raise RockpackError(
            f"There is no init profile {profile!r}.",
            resolution=f"Use one of: {', '.join(PROFILES)}.",
        )
    try:
        existing = find_project_file(project_dir)
    except RockpackError:
        existing = None
    if existing:
        raise RockpackError(
            f"{existing} already exists.", resolution="Edit it, or remove it first."
        )
    name = name or project_dir.name.lower().replace("_", "-")
    text = _starter_text(name, profile)
    path = project_dir / "rockpack.yaml"
    try:
        _validate(path, text, profile)  # what init writes must be valid
    except RockpackError as err:
        raise RockpackError(
            f"Cannot start a project named {name!r}: {err.brief}",
            resolution="Choose a valid name with --name (e.g. --name my-rock).",
        ) from err
    project_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def init_project(project_dir: Path, name: str | None, profile: str = SIMPLE) -> list[str]:
    """``rockpack init``: write the project; return what to tell the user."""
    path = write_starter_project(project_dir, name, profile)
    lines = [f"Created {path}."]
    if profile != SIMPLE:
        source = parse_yaml(path, path.read_text(encoding="utf-8"))
        app = App(project_dir, source.data)
        missing = EXTENSIONS[profile].problems(app)
        if missing:
            lines.append("Before packing, the app needs:")
            lines += [f"  - {problem}" for problem in missing]
        lines.append(f"See docs/extensions.md, section '{profile}'.")
    return lines


def _starter_text(name: str, profile: str) -> str:
    build_base = host_base()
    if build_base not in ("debian@12", "debian@13") and not build_base.startswith("ubuntu@"):
        build_base = "debian@12"
    if profile == SIMPLE:
        return STARTER_TEMPLATE.format(name=name, build_base=build_base, arch=host_arch())
    snake = name.replace("-", "_")
    return EXTENSION_TEMPLATE.format(
        name=name,
        build_base=build_base,
        arch=host_arch(),
        profile=profile,
        what=WHAT[profile],
        layout=LAYOUTS[profile].format(name=name, snake=snake),
        parts=PARTS[profile],
    )


def _validate(path: Path, text: str, profile: str) -> None:
    """Validate the starter; an extension's is validated expanded, with the app not yet there."""
    source = parse_yaml(path, text)
    if profile != SIMPLE:
        data = apply_extensions(
            path.parent, copy.deepcopy(source.data), allow_experimental=True, check_app=False
        )
        source = YamlSource(path=path, data=data, lines=source.lines)
    validate_project(source)
