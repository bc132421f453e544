"""The extension framework: Rockcraft's merge, the registry, base rules, located errors."""

from __future__ import annotations

import textwrap

import pytest

from rockpack.errors import ProjectFileErrors
from rockpack.project.extensions import (
    EXTENSIONS,
    ExtensionError,
    apply_extensions,
    experimental_allowed,
    extension_table,
    merge,
    project_yaml,
)
from rockpack.project.model import validate_project
from rockpack.project.yaml_source import parse_yaml

HEADER = """\
name: my-app
version: "1"
summary: An app
description: An app in a rock.
base: {base}
{build_base}platforms:
  amd64:
"""

APPS = {
    "flask-framework": {"requirements.txt": "Flask\n", "app.py": "app = object()\n"},
    "django-framework": {
        "requirements.txt": "Django\n",
        "my_app/my_app/wsgi.py": "application = object()\n",
    },
    "fastapi-framework": {"requirements.txt": "fastapi\n", "app.py": "app = object()\n"},
    "go-framework": {"go.mod": "module my-app\n"},
    "expressjs-framework": {
        "app/package.json": '{"name": "my-app", "scripts": {"start": "node index.js"}}'
    },
    "spring-boot-framework": {"pom.xml": "<project/>\n"},
}


def write_app(directory, files):
    for relative, text in files.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def project_text(extension, base="bare", extra=""):
    build_base = "build-base: debian@12\n" if base == "bare" else ""
    return (
        HEADER.format(base=base, build_base=build_base)
        + f"extensions: [{extension}]\n"
        + textwrap.dedent(extra)
    )


def load(directory, text):
    return validate_project(parse_yaml(directory / "rockpack.yaml", text))


def test_merge_follows_rockcraft():
    assert merge(None, {"a": 1}) == {"a": 1}
    assert merge([], ["x"]) == ["x"]  # an empty value of the project takes the extension's
    assert merge("mine", "theirs") == "mine"  # the project's scalar wins
    assert merge(["b", "a"], ["a", "c"]) == ["a", "c", "b"]  # extension first, strings once
    assert merge([{"k": 1}], [{"k": 1}]) == [{"k": 1}, {"k": 1}]  # non-strings kept
    mine = {"p": {"plugin": "dump", "stage-packages": ["libpq5"]}}
    theirs = {"p": {"plugin": "python", "stage-packages": ["python3-venv"]}, "q": {}}
    assert merge(mine, theirs) == {
        "p": {"plugin": "dump", "stage-packages": ["python3-venv", "libpq5"]},
        "q": {},
    }


def test_the_registry_has_rockcrafts_six_extensions():
    assert sorted(EXTENSIONS) == [
        "django-framework",
        "expressjs-framework",
        "fastapi-framework",
        "flask-framework",
        "go-framework",
        "spring-boot-framework",
    ]


def test_list_extensions_table():
    table = extension_table().splitlines()
    assert table[0].split() == ["Extension", "Supported", "bases", "Status"]
    rows = {line.split()[0]: line for line in table[1:]}
    assert set(rows) == set(EXTENSIONS)
    assert rows["flask-framework"].endswith("stable")
    assert "ubuntu@22.04" in rows["flask-framework"]
    assert "ubuntu@22.04" not in rows["fastapi-framework"]
    assert rows["spring-boot-framework"].endswith("experimental")


@pytest.mark.parametrize("name", sorted(EXTENSIONS))
@pytest.mark.parametrize("base", ["bare", "debian@12"])
def test_every_extension_expands_to_a_valid_project(tmp_path, monkeypatch, name, base):
    monkeypatch.setenv("ROCKPACK_ENABLE_EXPERIMENTAL_EXTENSIONS", "1")
    write_app(tmp_path, APPS[name])
    project = load(tmp_path, project_text(name, base)).project
    assert project.extensions is None  # expanded, as Rockcraft removes the key
    assert project.run_user == "_daemon_"
    assert project.parts and all(p.startswith(f"{name}/") for p in project.parts)
    for service in (project.services or {}).values():
        assert service.user == "_daemon_" and service.override in ("replace", "merge")


def test_extensions_apply_in_name_order_and_the_key_is_removed(tmp_path):
    write_app(tmp_path, APPS["flask-framework"] | APPS["go-framework"])
    data = {"name": "my-app", "base": "bare", "build-base": "debian@12"}
    data["extensions"] = ["go-framework", "flask-framework"]
    expanded = apply_extensions(tmp_path, data)
    assert "extensions" not in expanded
    assert list(expanded["services"]) == ["flask", "go"]


def test_an_unknown_extension_is_named_with_the_available_ones(tmp_path):
    with pytest.raises(ProjectFileErrors) as info:
        load(tmp_path, project_text("rails-framework"))
    (error,) = info.value.errors
    assert error.key == "extensions" and error.line == 9
    assert "'rails-framework'" in error.problem and "flask-framework" in error.problem
    assert "list-extensions" in error.resolution


def test_app_problems_are_one_located_error_each(tmp_path):
    with pytest.raises(ProjectFileErrors) as info:
        load(tmp_path, project_text("flask-framework"))
    errors = info.value.errors
    assert [e.key for e in errors] == ["extensions", "extensions"]
    assert all(e.line == 9 for e in errors)
    assert "missing requirements.txt or pyproject.toml" in errors[0].problem
    assert "no WSGI app found: none of app.py, main.py, app/__init__.py" in errors[1].problem
    assert "'create_app()'" in errors[1].problem
    assert "docs/extensions.md" in errors[0].resolution


def test_unsupported_base_and_build_base(tmp_path):
    write_app(tmp_path, APPS["fastapi-framework"])
    with pytest.raises(ProjectFileErrors) as info:
        load(tmp_path, project_text("fastapi-framework", "ubuntu@22.04"))
    assert "does not support base 'ubuntu@22.04'" in info.value.errors[0].problem
    text = project_text("fastapi-framework").replace("debian@12", "devel")
    with pytest.raises(ProjectFileErrors) as info:
        load(tmp_path, text)
    assert "cannot build a 'bare' rock on build-base 'devel'" in info.value.errors[0].problem


def test_experimental_needs_the_opt_in(tmp_path, monkeypatch):
    for name in (
        "ROCKPACK_ENABLE_EXPERIMENTAL_EXTENSIONS",
        "ROCKCRAFT_ENABLE_EXPERIMENTAL_EXTENSIONS",
    ):
        monkeypatch.delenv(name, raising=False)
    write_app(tmp_path, APPS["spring-boot-framework"])
    with pytest.raises(ProjectFileErrors) as info:
        load(tmp_path, project_text("spring-boot-framework"))
    assert "ROCKPACK_ENABLE_EXPERIMENTAL_EXTENSIONS=1" in info.value.errors[0].problem
    monkeypatch.setenv("ROCKCRAFT_ENABLE_EXPERIMENTAL_EXTENSIONS", "True")
    assert load(tmp_path, project_text("spring-boot-framework")).project.services


def test_experimental_allowed_reads_either_variable():
    assert not experimental_allowed({})
    assert not experimental_allowed({"ROCKPACK_ENABLE_EXPERIMENTAL_EXTENSIONS": "0"})
    assert experimental_allowed({"ROCKPACK_ENABLE_EXPERIMENTAL_EXTENSIONS": "1"})
    assert experimental_allowed({"ROCKCRAFT_ENABLE_EXPERIMENTAL_EXTENSIONS": "True"})


def test_expanded_parts_are_validated_with_lines_of_the_users_keys(tmp_path):
    """A user's override of an extension part is checked by craft-parts after the merge."""
    write_app(tmp_path, APPS["flask-framework"])
    extra = """\
        parts:
          flask-framework/dependencies:
            stage-packages: libpq5
        """
    with pytest.raises(ProjectFileErrors) as info:
        load(tmp_path, project_text("flask-framework", extra=extra))
    keys = [e.key for e in info.value.errors]
    assert "parts.flask-framework/dependencies.stage-packages" in keys


def test_the_extension_error_lists_every_problem():
    error = ExtensionError("go-framework", ["one", "two"])
    assert error.brief == "extension 'go-framework': one; two"
    assert error.problems == ["one", "two"]


def test_project_yaml_prints_scripts_as_blocks_and_reads_back_the_same():
    import yaml

    data = {"parts": {"p": {"override-build": "craftctl default\nmkdir x\n"}}, "s": "a [ b ]"}
    text = project_yaml(data)
    assert "override-build: |\n      craftctl default\n      mkdir x\n" in text
    assert yaml.safe_load(text) == data
