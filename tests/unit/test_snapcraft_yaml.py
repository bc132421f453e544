"""snap/snapcraft.yaml packages rockpack as a classic snap (snaps cannot be built here)."""

from __future__ import annotations

import re

import yaml

from tests.conftest import REPO


def test_snapcraft_yaml_is_a_classic_python_snap():
    data = yaml.safe_load((REPO / "snap/snapcraft.yaml").read_text())
    assert re.match(r"^[a-z0-9](?:-?[a-z0-9])*$", data["name"]) and data["name"] == "rockpack"
    assert data["confinement"] == "classic" and data["base"].startswith("core")
    assert data["apps"]["rockpack"]["command"] == "bin/rockpack"
    part = data["parts"]["rockpack"]
    assert part["plugin"] == "python" and part["source"] == "."
    assert data["adopt-info"] == "rockpack" and "craftctl set version" in part["override-pull"]
    assert set(data["platforms"]) >= {"amd64"}
    assert len(data["summary"]) <= 78
