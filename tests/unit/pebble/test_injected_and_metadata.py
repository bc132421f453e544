"""pack.pebble_for obtains Pebble before any part runs; the rock's metadata records it."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import pytest
import yaml

from rockpack.errors import RockpackError
from rockpack.image.spec import RockInfo, metadata_yaml, rfc3339
from rockpack.pack import pebble_for
from rockpack.pebble.errors import ReleaseDownloadError
from rockpack.pebble.part import pebble_part
from rockpack.project.model import validate_project
from rockpack.project.yaml_source import parse_yaml
from tests.conftest import MINIMAL
from tests.unit.pebble.fakes import asset_path, make_elf

OWN_PART = "parts:\n  pebble:\n    plugin: nil\n"
SERVICES = "services:\n  web:\n    override: replace\n    command: /bin/web\n"


def project(extra: str = "", *, command: bool = True):
    text = textwrap.dedent(MINIMAL).lstrip()
    if "parts:" in extra:
        text = text[: text.index("parts:")]
    if not command:
        text = text.replace("entrypoint-command: /bin/hello [ world ]\n", "")
    return validate_project(parse_yaml(Path("rockpack.yaml"), text + extra)).project


def metadata(proj, build_for="amd64", pebble=None):
    info = RockInfo(
        project=proj,
        version="1",
        platform=build_for,
        build_for=build_for,
        created=rfc3339(0),
        pebble=pebble,
    )
    return yaml.safe_load(metadata_yaml(info))


def test_a_rock_without_pebble_gets_no_part_and_no_download(mirror, monkeypatch):
    monkeypatch.setenv("ROCKPACK_PEBBLE_MIRROR", mirror.url)
    assert pebble_for(project(), "amd64") is None
    assert mirror.requests == [] and "pebble" not in metadata(project())


def test_a_services_rock_gets_the_checked_release_and_records_it(mirror, monkeypatch):
    monkeypatch.setenv("ROCKPACK_PEBBLE_MIRROR", mirror.url)
    proj = project(SERVICES, command=False)
    provided = pebble_for(proj, "amd64")
    assert provided is not None and pebble_part(provided)["source"] == str(provided.binary)
    archive = asset_path(mirror.root, "amd64").read_bytes()
    assert metadata(proj, pebble=provided)["pebble"] == {
        "version": "v1.32.1",
        "sha256": hashlib.sha256(make_elf("amd64")).hexdigest(),
        "archive-sha256": hashlib.sha256(archive).hexdigest(),
    }
    assert "pebble" not in metadata(proj, "arm64")  # nothing was provided for arm64


def test_a_projects_own_pebble_is_not_recorded(mirror, monkeypatch):
    monkeypatch.setenv("ROCKPACK_PEBBLE_MIRROR", mirror.url)
    provided = pebble_for(project(SERVICES, command=False), "amd64")
    own = project(SERVICES + "pebble: project\n" + OWN_PART, command=False)
    assert pebble_for(own, "amd64") is None
    assert "pebble" not in metadata(own, pebble=provided)


def test_a_part_named_pebble_is_refused_before_any_download(mirror, monkeypatch):
    monkeypatch.setenv("ROCKPACK_PEBBLE_MIRROR", mirror.url)
    proj = project(SERVICES, command=False)
    proj = proj.model_copy(update={"parts": {**proj.parts, "pebble": {"plugin": "nil"}}})
    with pytest.raises(RockpackError, match="part named 'pebble'"):
        pebble_for(proj, "amd64")
    assert mirror.requests == []


def test_without_network_the_plan_fails(monkeypatch):
    monkeypatch.setenv("ROCKPACK_PEBBLE_MIRROR", "http://127.0.0.1:9")
    with pytest.raises(ReleaseDownloadError, match=r"needs Pebble v1\.32\.1 for amd64"):
        pebble_for(project(SERVICES, command=False), "amd64")
