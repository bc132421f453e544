"""Which file in a project directory is the project file.

Apart from the models so that a no-op pack can find the file (and digest its bytes)
without importing pydantic or craft-parts.
"""

from __future__ import annotations

from pathlib import Path

from rockpack.errors import ProjectFileError, ProjectNotFoundError

PROJECT_FILE_NAMES = ("rockpack.yaml", "rockcraft.yaml")


def find_project_file(project_dir: Path) -> Path:
    """rockpack.yaml if it exists, else rockcraft.yaml.

    A name that exists but is not a readable file (a directory, a pipe, a dangling
    symlink) is still the project file: loading it says what is wrong with it.
    """
    for name in PROJECT_FILE_NAMES:
        candidate = project_dir / name
        try:
            if candidate.is_symlink() or candidate.exists():
                return candidate
        except OSError as err:  # the directory cannot be searched
            raise ProjectFileError(
                candidate,
                f"cannot be read: {err.strerror or err}.",
                fix="Check the project directory's path and permissions.",
            ) from err
    raise ProjectNotFoundError(project_dir)
