"""Project-file models: every rule, each rejection located by key and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from rockpack.errors import ProjectFileError, ProjectFileErrors, ProjectNotFoundError
from rockpack.project.model import find_project_file, validate_project
from rockpack.project.yaml_source import parse_yaml
from tests.conftest import MINIMAL

PATH = Path("/p/rockpack.yaml")


def load(text: str):
    return validate_project(parse_yaml(PATH, textwrap.dedent(text).lstrip()))


def with_lines(replace: dict[str, str | None] | None = None, add: str = "") -> str:
    """MINIMAL with top-level keys replaced (None removes the key) and lines appended."""
    lines = textwrap.dedent(MINIMAL).lstrip().splitlines()
    out = []
    skipping = False
    for line in lines:
        key = line.split(":", 1)[0] if line and not line.startswith(" ") else None
        if key is not None:
            skipping = False
            if replace and key in replace:
                value = replace[key]
                skipping = True
                if value is not None:
                    out.append(f"{key}: {value}")
                continue
        if skipping and line.startswith(" "):
            continue
        out.append(line)
    return "\n".join(out) + "\n" + textwrap.dedent(add)


def errors_of(text: str) -> list[ProjectFileError]:
    with pytest.raises((ProjectFileErrors, ProjectFileError)) as info:
        load(text)
    err = info.value
    return err.errors if isinstance(err, ProjectFileErrors) else [err]


def only_error(text: str) -> ProjectFileError:
    errors = errors_of(text)
    assert len(errors) == 1, [e.brief for e in errors]
    return errors[0]


def test_minimal_project_loads():
    loaded = load(MINIMAL)
    project = loaded.project
    assert project.name == "hello"
    assert project.effective_build_base == "debian@12"
    assert project.effective_title == "hello"
    assert loaded.warnings == []


@pytest.mark.parametrize(
    "name", ["Hello", "he", "hello-", "hel--lo", "1hello", "hello_world", "a" * 41]
)
def test_invalid_names_are_rejected(name):
    err = only_error(with_lines({"name": name}))
    assert err.key == "name"
    assert err.line == 1


@pytest.mark.parametrize("name", ["abc", "my-rock-2", "a" * 40])
def test_valid_names(name):
    assert load(with_lines({"name": name})).project.name == name


@pytest.mark.parametrize("version", ["-1", "1.0-", "a" * 33, "1 0"])
def test_invalid_versions_are_rejected(version):
    err = only_error(with_lines({"version": f'"{version}"'}))
    assert err.key == "version"
    assert "invalid version" in err.problem


@pytest.mark.parametrize("version", ["1.0", "21.0.5+11", "20240504-11", "1:2.3~rc1"])
def test_valid_versions(version):
    assert load(with_lines({"version": f'"{version}"'})).project.version == version


def test_summary_longer_than_78_characters_is_accepted_as_rockcraft_does():
    summary = "x" * 120
    assert load(with_lines({"summary": summary})).project.summary == summary


def test_license_must_be_spdx_or_proprietary():
    err = only_error(with_lines({}, "license: Not-A-License\n"))
    assert err.key == "license"
    assert "SPDX" in err.problem
    assert load(with_lines({}, "license: Apache-2.0 OR MIT\n")).project.license
    assert load(with_lines({}, "license: proprietary\n")).project.license == "proprietary"


def test_unknown_base_names_the_choices():
    err = only_error(with_lines({"base": "ubuntu:18.04"}))
    assert err.key == "base"
    assert "ubuntu:18.04" in err.problem
    assert "ubuntu@24.04" in err.resolution and "debian@12" in err.resolution


def test_deprecated_colon_base_is_rewritten_with_a_warning():
    loaded = load(with_lines({"base": "ubuntu:22.04", "build-base": None}))
    assert loaded.project.base == "ubuntu@22.04"
    assert loaded.warnings == ["'base: ubuntu:22.04' is deprecated; write 'ubuntu@22.04'."]


def test_bare_base_requires_build_base():
    err = only_error(with_lines({"build-base": None}))
    assert err.key == "base"
    assert "'build-base' is required" in err.problem


@pytest.mark.parametrize("base", ["debian@12", "debian@13", "ubuntu@20.04", "ubuntu@26.04"])
def test_real_bases_are_accepted_without_build_base(base):
    project = load(with_lines({"base": base, "build-base": None})).project
    assert project.effective_build_base == base


def test_platform_named_after_unknown_arch_needs_build_for():
    err = only_error(with_lines({"platforms": "\n  mainframe:"}))
    assert err.key == "platforms"
    assert "'mainframe' is not an architecture" in err.problem


def test_platform_label_and_build_for_must_agree():
    text = with_lines({"platforms": "\n  amd64:\n    build-on: [amd64]\n    build-for: [arm64]"})
    assert "builds for 'arm64'" in only_error(text).problem


def test_platform_build_for_is_a_single_architecture():
    text = with_lines({"platforms": "\n  x:\n    build-on: amd64\n    build-for: [amd64, arm64]"})
    err = only_error(text)
    assert err.key == "platforms.x.build-for"


def test_named_platform_with_build_on_and_build_for():
    text = with_lines({"platforms": "\n  cross:\n    build-on: [amd64]\n    build-for: arm64"})
    platform = load(text).project.platforms["cross"]
    assert platform.build_on == ["amd64"] and platform.build_for == ["arm64"]


def test_run_user_field_name_is_accepted_as_rockcraft_does():
    project = load(with_lines({}, "run_user: _daemon_\n")).project
    assert project.run_user == "_daemon_"
    assert project.marshal()["run-user"] == "_daemon_"


def test_run_user_with_both_spellings_is_an_error():
    err = only_error(with_lines({}, "run-user: _daemon_\nrun_user: _daemon_\n"))
    assert (err.key, err.line) == ("run_user", 14)
    assert "same key as 'run-user'" in err.problem


def test_run_user_typo_suggests_the_right_key():
    err = only_error(with_lines({}, "run_usr: _daemon_\n"))
    assert err.key == "run_usr"
    assert err.problem == "is not a known key."
    assert err.resolution == "Did you mean 'run-user'?"


def test_run_user_accepts_only_daemon():
    assert load(with_lines({}, "run-user: _daemon_\n")).project.run_user == "_daemon_"
    err = only_error(with_lines({}, "run-user: root\n"))
    assert err.key == "run-user"


def test_unknown_key_is_an_error_with_its_line():
    err = only_error(with_lines({}, "colour: blue\n"))
    assert (err.key, err.line) == ("colour", 13)


@pytest.mark.parametrize("key", ["cmd", "entrypoint", "env"])
def test_legacy_keys_are_rejected_with_an_explanation(key):
    err = only_error(with_lines({}, f"{key}: [x]\n"))
    assert err.key == key
    assert "Pebble" in err.problem
    assert "services" in err.resolution


def test_missing_parts_is_reported():
    err = only_error(with_lines({"parts": None}))
    assert err.key == "parts"
    assert err.problem == "is required but missing."


def test_missing_version_needs_adopt_info():
    err = only_error(with_lines({"version": None}))
    assert err.key == "version"
    assert "adopt-info" in err.problem
    project = load(with_lines({"version": None}, "adopt-info: hello\n")).project
    assert project.version is None


def test_adopt_info_must_name_a_part():
    err = only_error(with_lines({}, "adopt-info: nope\n"))
    assert err.key == "adopt-info"
    assert "unknown part 'nope'" in err.problem


def test_environment_forbids_interpolation():
    err = only_error(with_lines({}, "environment:\n  A: $HOME/x\n"))
    assert (err.key, err.line) == ("environment.A", 14)
    assert "'A'" in err.problem


def test_environment_numbers_are_read_as_strings():
    project = load(with_lines({}, "environment:\n  PORT: 8000\n")).project
    assert project.environment == {"PORT": "8000"}


def test_wrong_type_names_the_key_and_the_fix():
    err = only_error(with_lines({"platforms": "[amd64]"}))
    assert err.key == "platforms"
    assert "valid dictionary" in err.problem


def test_entrypoint_service_and_command_are_exclusive():
    services = """
        services:
          web:
            override: replace
            command: /bin/web [ --port 80 ]
        entrypoint-service: web
    """
    err = only_error(with_lines({}, services))
    assert err.key == "entrypoint-command"
    assert "not both" in err.problem


def test_entrypoint_service_must_exist_and_have_default_args():
    base = with_lines({"entrypoint-command": None})
    services = "services:\n  web:\n    override: replace\n    command: /bin/web\n"
    err = only_error(base + services + "entrypoint-service: nope\n")
    assert "unknown service 'nope'" in err.problem
    err = only_error(base + services + "entrypoint-service: web\n")
    assert "no default arguments" in err.problem


def test_entrypoint_command_brackets_must_be_well_formed():
    err = only_error(with_lines({"entrypoint-command": "/bin/x [ a"}))
    assert err.key == "entrypoint-command"
    assert "without a closing" in err.problem


def test_service_references_are_checked():
    base = with_lines({"entrypoint-command": None})
    text = base + textwrap.dedent(
        """
        services:
          web:
            override: replace
            command: /bin/web
            after: [db]
            on-check-failure:
              up: restart
        """
    )
    err = only_error(text)
    assert err.key == "services.web.after"
    assert "unknown service 'db'" in err.problem and "unknown check 'up'" in err.problem


def test_unknown_extension_is_named():
    err = only_error(with_lines({}, "extensions: [teleport-framework]\n"))
    assert err.key == "extensions"
    assert "teleport-framework" in err.problem


def test_part_errors_come_from_craft_parts_with_lines():
    text = with_lines({"parts": "\n  hello:\n    plugin: nil\n    stage-packages: hello"})
    err = only_error(text)
    assert err.key == "parts.hello.stage-packages"
    assert err.line == 13
    assert "list" in err.resolution


def test_unknown_plugin_is_reported():
    err = only_error(with_lines({"parts": "\n  hello:\n    plugin: teleport"}))
    assert err.key == "parts.hello.plugin"
    assert "teleport" in err.problem


def test_overlay_is_rejected_on_bare():
    text = with_lines({"parts": "\n  hello:\n    plugin: nil\n    overlay-packages: [hello]"})
    messages = [e.problem for e in errors_of(text)]
    assert any("'bare' base has no system to overlay" in m for m in messages)


def test_all_problems_are_reported_sorted_by_line():
    text = with_lines({"name": "Bad", "version": '"-"'}, "colour: blue\n")
    errors = errors_of(text)
    assert [e.key for e in errors] == ["name", "version", "colour"]
    assert [e.line for e in errors] == sorted(e.line for e in errors)


def test_malformed_yaml_names_the_line():
    with pytest.raises(ProjectFileError) as info:
        load("name: x\nparts: [\n  a: b\n")
    assert info.value.line is not None
    assert "is not valid YAML" in info.value.brief


def test_duplicate_keys_are_rejected():
    with pytest.raises(ProjectFileError) as info:
        load(with_lines({}, "name: again\n"))
    assert (info.value.key, info.value.line) == ("name", 13)


def test_a_document_that_is_not_a_mapping_is_rejected():
    with pytest.raises(ProjectFileError) as info:
        load("- a\n- b\n")
    assert "must be a mapping" in info.value.brief


def test_rockpack_yaml_is_preferred_over_rockcraft_yaml(tmp_path):
    (tmp_path / "rockcraft.yaml").write_text("x")
    assert find_project_file(tmp_path).name == "rockcraft.yaml"
    (tmp_path / "rockpack.yaml").write_text("x")
    assert find_project_file(tmp_path).name == "rockpack.yaml"


def test_no_project_file(tmp_path):
    with pytest.raises(ProjectNotFoundError) as info:
        find_project_file(tmp_path)
    assert "rockpack init" in info.value.resolution


def test_package_repositories_are_validated_by_craft_archives():
    text = with_lines({}, "package-repositories:\n  - type: apt\n    url: http://x/\n")
    err = only_error(text)
    assert (err.key, err.line) == ("package-repositories.0.key-id", 14)  # the entry
    ppa = with_lines({}, "package-repositories:\n  - type: apt\n    ppa: team/archive\n")
    assert load(ppa).project.package_repositories == [{"type": "apt", "ppa": "team/archive"}]


def test_run_user_with_explicit_ids():
    project = load(with_lines({}, "run-user: {name: app, uid: 1000, gid: 1001}\n")).project
    assert (project.run_user.name, project.run_user.uid, project.run_user.gid) == (
        "app",
        1000,
        1001,
    )
    errors = errors_of(with_lines({}, "run-user: {name: app, uid: 0, gid: 0}\n"))
    assert [e.key for e in errors] == ["run-user.uid", "run-user.gid"]
    assert "greater than or equal to 1" in errors[0].problem


def test_pebble_project_needs_a_pebble_part():
    err = only_error(with_lines({}, "pebble: project\n"))
    assert err.key == "pebble" and "part named 'pebble'" in err.problem
    text = with_lines({"parts": "\n  pebble:\n    plugin: nil"}, "pebble: project\n")
    assert load(text).project.pebble == "project"
    assert load(MINIMAL).project.pebble == "injected"


def test_unexpected_errors_from_a_rule_become_file_errors(monkeypatch):
    from rockpack.project import model

    def broken(*args, **kwargs):
        raise AttributeError("'int' object has no attribute 'items'")

    monkeypatch.setattr(model, "part_errors", broken)
    with pytest.raises(ProjectFileError) as info:
        load(MINIMAL)
    assert "cannot be validated: AttributeError" in info.value.brief
    assert info.value.resolution


def test_license_the_spdx_parser_chokes_on():
    err = only_error(with_lines({}, "license: 'a=b'\n"))
    assert err.key == "license"
    assert "SPDX" in err.problem


HOSTILE_VALUES = [None, 1, 1.5, True, "", [], {}, [1], [None], {"a": None}, [{"a": 1}], "a=b", "\0"]


@pytest.mark.parametrize(
    "key",
    [
        "name",
        "version",
        "license",
        "base",
        "platforms",
        "run-user",
        "environment",
        "services",
        "checks",
        "entrypoint-service",
        "entrypoint-command",
        "extensions",
        "package-repositories",
        "adopt-info",
        "parts",
    ],
)
def test_hostile_values_are_file_errors_never_internal_ones(key):
    import yaml

    base = yaml.safe_load(textwrap.dedent(MINIMAL))
    for value in HOSTILE_VALUES:
        data = {**base, key: value}
        try:
            validate_project(parse_yaml(PATH, yaml.safe_dump(data)))
        except (ProjectFileError, ProjectFileErrors) as err:
            assert "cannot be validated" not in err.brief, (key, value)


def test_a_flood_of_problems_is_listed_up_to_a_bound():
    env = "".join(f"  E{i}: {i}.5\n" for i in range(500))
    errors = errors_of(with_lines({}, "environment:\n" + env))
    assert len(errors) == 50
    assert errors[-1].problem == "and 451 more problems, not listed."
