"""A small, valid starting project file for this host (``rockpack init``)."""

from __future__ import annotations

from pathlib import Path

from rockpack.build.providers import host_base
from rockpack.errors import RockpackError
from rockpack.project.architectures import host_arch
from rockpack.project.model import find_project_file, validate_project
from rockpack.project.yaml_source import parse_yaml

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


def write_starter_project(project_dir: Path, name: str | None) -> Path:
    """Write rockpack.yaml in ``project_dir``; refuse when a project file exists."""
    try:
        existing = find_project_file(project_dir)
    except RockpackError:
        existing = None
    if existing:
        raise RockpackError(
            f"{existing} already exists.", resolution="Edit it, or remove it first."
        )
    name = name or project_dir.name.lower().replace("_", "-")
    build_base = host_base()
    if build_base not in ("debian@12", "debian@13") and not build_base.startswith("ubuntu@"):
        build_base = "debian@12"
    text = STARTER_TEMPLATE.format(name=name, build_base=build_base, arch=host_arch())
    path = project_dir / "rockpack.yaml"
    try:
        validate_project(parse_yaml(path, text))  # what init writes must be valid
    except RockpackError as err:
        raise RockpackError(
            f"Cannot start a project named {name!r}: {err.brief}",
            resolution="Choose a valid name with --name (e.g. --name my-rock).",
        ) from err
    project_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
