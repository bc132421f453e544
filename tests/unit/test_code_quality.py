"""ruff and strict mypy over the code, as part of the suite."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.parametrize(
    "command",
    [["ruff", "check", "rockpack", "tests", "benchmarks"], ["mypy", "rockpack"]],
    ids=["ruff", "mypy-strict"],
)
def test_code_quality(command):
    result = subprocess.run(
        [sys.executable, "-m", *command], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
