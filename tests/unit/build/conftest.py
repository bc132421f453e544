"""The project the no-op check's tests (test_fingerprint, test_fingerprint_request) pack."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.build.test_fingerprint import FakeLoaded, FakeProject


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeLoaded:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("ROCKPACK_MANAGED", raising=False)
    directory = tmp_path / "project"
    (directory / "src").mkdir(parents=True)
    (directory / "src/app.txt").write_text("hello\n")
    path = directory / "rockpack.yaml"
    path.write_text("name: app\n")
    return FakeLoaded(FakeProject({"app": {"plugin": "dump", "source": "src"}}), path)
