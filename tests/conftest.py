"""Shared test helpers."""

from __future__ import annotations

import importlib
import os
import shutil
import textwrap
from pathlib import Path
from typing import Any, NoReturn

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus" / "rockcraft-yaml"


SUMMARY_LINES: list[str] = []


def report_summary(text: str) -> None:
    """A group's summary line (or table), shown at the end of the test run's output.

    pytest captures print(); these lines are written by pytest_terminal_summary instead,
    so they appear in the output of the README's test command, with -q too.
    """
    SUMMARY_LINES.append(text.strip("\n"))


def pytest_terminal_summary(terminalreporter) -> None:
    if SUMMARY_LINES:
        terminalreporter.section("rockpack summaries")
        for text in SUMMARY_LINES:
            terminalreporter.write_line(text)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(message: str) -> NoReturn:
    """Something a test needs is missing: in CI that fails the run, elsewhere it skips."""
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


def require_tool(name: str) -> str:
    """The tool's path; in CI a missing tool fails the run, elsewhere it skips the test."""
    path = shutil.which(name)
    if path:
        return path
    unavailable(f"{name} is not installed (scripts/install-deps --test installs it)")


def require_file(path: Path, what: str) -> Path:
    """``path``, which must exist (e.g. the real Pebble archives in ../shared/tools)."""
    if not path.is_file():
        unavailable(f"{path} is missing: {what}")
    return path


def require_module(name: str) -> Any:
    """An importable test dependency (pyproject's 'test' extra installs it)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        unavailable(f"{name} is not importable (scripts/install-deps --test installs it)")


def write_project(directory: Path, text: str, name: str = "rockpack.yaml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


MINIMAL = """
    name: hello
    version: "1.0"
    summary: A test rock
    description: A rock for tests.
    base: bare
    build-base: debian@12
    platforms:
      amd64:
    entrypoint-command: /bin/hello [ world ]
    parts:
      hello:
        plugin: nil
"""


def run_rockpack(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None):
    """Run the real command line in a child process; return the CompletedProcess."""
    import subprocess
    import sys

    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "rockpack", *map(str, args)],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        check=False,
    )
