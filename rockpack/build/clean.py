"""Remove what the parts made: the whole state dir, or the named parts' files."""

from __future__ import annotations

import shutil
from pathlib import Path

from rockpack.build.lifecycle import Lifecycle
from rockpack.build.targets import build_targets
from rockpack.build.workspace import Workspace, project_lock, user_cache_dir
from rockpack.project.model import load_project


def clean_project(project_dir: Path, parts: list[str]) -> str:
    """Clean the project's build files; return what was done, for the user."""
    workspace = Workspace(project_dir)
    if not workspace.state_dir.exists() and not workspace.state_dir.is_symlink():
        return "Nothing to clean."
    with project_lock(workspace):
        if not parts:
            for child in workspace.state_dir.iterdir():
                if child != workspace.lock_path:
                    shutil.rmtree(child) if child.is_dir() else child.unlink()
            # The lock goes last, while still held: no other run can be inside.
            workspace.lock_path.unlink(missing_ok=True)
            workspace.state_dir.rmdir()
            return f"Removed the build files in {workspace.state_dir}."
        project = load_project(project_dir).project
        for target in build_targets(project, platform=None, build_for=None):
            Lifecycle(
                project,
                project_dir=project_dir,
                work_dir=workspace.work_dir(target.platform),
                cache_dir=user_cache_dir() / "craft-parts",
                build_for=target.build_for,
            ).clean(parts)
    return f"Cleaned parts: {', '.join(parts)}."
