"""`rockpack init --profile`: a project for each extension that loads once the app is there."""

from __future__ import annotations

import pytest

from rockpack.build.starter import PROFILES, init_project, write_starter_project
from rockpack.errors import RockpackError
from rockpack.project.model import load_project
from tests.unit.project.test_extensions import APPS, write_app


def test_profiles_are_simple_and_each_extension():
    assert ("simple", *sorted(APPS)) == PROFILES


@pytest.mark.parametrize("profile", sorted(APPS))
def test_each_profile_loads_once_the_app_is_there(tmp_path, monkeypatch, profile):
    monkeypatch.setenv("ROCKPACK_ENABLE_EXPERIMENTAL_EXTENSIONS", "1")
    lines = init_project(tmp_path, "my-app", profile)
    assert lines[0] == f"Created {tmp_path / 'rockpack.yaml'}."
    assert lines[1] == "Before packing, the app needs:"
    assert lines[-1] == f"See docs/extensions.md, section '{profile}'."
    text = (tmp_path / "rockpack.yaml").read_text()
    assert f"extensions:\n  - {profile}\n" in text and "base: bare\n" in text
    write_app(tmp_path, APPS[profile])
    project = load_project(tmp_path).project
    assert project.name == "my-app" and project.base == "bare"
    assert all(name.startswith(f"{profile}/") for name in project.parts)


def test_init_says_nothing_is_missing_when_the_app_is_complete(tmp_path):
    write_app(tmp_path, APPS["go-framework"])
    lines = init_project(tmp_path, "my-app", "go-framework")
    assert "Before packing, the app needs:" not in lines


def test_the_simple_profile_is_the_default(tmp_path):
    path = write_starter_project(tmp_path, "my-rock")
    assert "busybox-static" in path.read_text()
    assert init_project(tmp_path / "other", "my-rock") == [
        f"Created {tmp_path / 'other' / 'rockpack.yaml'}."
    ]


def test_an_unknown_profile_is_refused(tmp_path):
    with pytest.raises(RockpackError) as info:
        write_starter_project(tmp_path, "my-rock", "rails-framework")
    assert "flask-framework" in info.value.resolution
    assert not (tmp_path / "rockpack.yaml").exists()
