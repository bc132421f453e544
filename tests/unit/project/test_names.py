"""Names and values that become file names, paths or environment entries."""

from __future__ import annotations

import pytest

from rockpack.errors import RockpackError
from rockpack.project.names import InvalidValueError, inner_path_problem, part_name_problem
from rockpack.project.outside_values import validate_rock_name, validate_version
from tests.unit.project.test_model import errors_of, load, only_error, with_lines


@pytest.mark.parametrize("name", ["ab", "Hello", "a" * 41, "hello\n", "x/y", "..", "1abc"])
def test_rock_name_error_states_the_rule(name):
    err = only_error(with_lines({"name": f'"{name}"'.replace("\n", "\\n")}))
    assert err.key == "name"
    assert "3 to 40 characters" in err.problem
    assert "start with a letter" in err.problem
    assert err.resolution


@pytest.mark.parametrize(
    "version",
    ["../../x", "1.0/2", "1..2", "1.0 beta", "1.0\n", "1\x00", "", "-1", "a" * 33, ".1"],
)
def test_validate_version_refuses_what_cannot_name_a_file(version):
    with pytest.raises(InvalidValueError) as info:
        validate_version(version, "part 'app' (craftctl set version)")
    err = info.value
    assert isinstance(err, RockpackError)
    assert err.brief.startswith("part 'app' (craftctl set version): invalid version ")
    assert repr(version) in err.brief
    assert "1 to 32" in err.brief and "'..'" in err.brief
    assert err.resolution


@pytest.mark.parametrize("version", ["1.0", "21.0.5+11", "1:2.3~rc1", "v2", "a" * 32])
def test_validate_version_accepts_rockcraft_versions(version):
    assert validate_version(version, "x") == version


def test_project_version_uses_the_same_rule():
    err = only_error(with_lines({"version": '"1..2"'}))
    assert (err.key, err.line) == ("version", 2)
    assert "without '..'" in err.problem


def test_validate_rock_name():
    assert validate_rock_name("my-rock", "x") == "my-rock"
    with pytest.raises(InvalidValueError, match="3 to 40 characters"):
        validate_rock_name("../x", "--name")


@pytest.mark.parametrize(
    "name", ["../evil", "..", ".hidden", "/abs", "a//b", "a/", "a/../b", "a b", "a\\b", "-x"]
)
def test_part_names_that_would_leave_parts_dir(name):
    assert part_name_problem(name)
    parts = f"\n  '{name}':\n    plugin: nil"
    errors = errors_of(with_lines({"parts": parts}))
    err = next(e for e in errors if e.key == f"parts.{name}")
    assert "invalid part name" in err.problem
    assert "'/' may join such words" in err.problem
    assert err.line == 11


@pytest.mark.parametrize("name", ["hello", "flask/install-app", "pkg_info", "lib2.0", "c++"])
def test_part_names_rockcraft_projects_use(name):
    assert part_name_problem(name) is None


def test_nested_part_names_conflict():
    parts = "\n  app:\n    plugin: nil\n  app/extra:\n    plugin: nil"
    err = only_error(with_lines({"parts": parts}))
    assert err.key == "parts.app/extra"
    assert "inside part 'app'" in err.problem


@pytest.mark.parametrize(
    ("yaml_part", "key", "message"),
    [
        ("organize: {../x: y}", "organize.../x", "organize source: '../x' uses '..'"),
        ("organize: {/etc/passwd: y}", "organize./etc/passwd", "'/etc/passwd' is absolute"),
        ("organize: {x: ../../y}", "organize.x", "organize target: '../../y' uses '..'"),
        ("organize: {x: '/${CRAFT_PART_INSTALL}/../y'}", "organize.x", "uses '..'"),
        ("stage: [usr/../../x]", "stage.0", "'stage' entry: 'usr/../../x' uses '..'"),
        ("stage: [-/etc]", "stage.0", "'stage' entry: '/etc' is absolute"),
        ("prime: [-../x]", "prime.0", "'prime' entry: '../x' uses '..'"),
        ("source-subdir: ../..", "source-subdir", "'../..' uses '..'"),
    ],
)
def test_part_paths_that_climb_out_are_refused(yaml_part, key, message):
    parts = f"\n  hello:\n    plugin: nil\n    {yaml_part}"
    err = only_error(with_lines({"parts": parts}))
    assert err.key == f"parts.hello.{key}"
    assert message in err.problem
    assert err.line == 13
    assert "without '..'" in err.resolution


def test_part_paths_craft_parts_allows():
    parts = (
        "\n  hello:\n    plugin: nil"
        "\n    organize: {bin/x: /usr/bin/x, '(build)/y': usr/y, 'lib/*.so': usr/lib/}"
        "\n    stage: ['-usr/share/doc', 'usr/*', 'a..b']"
        "\n    prime: ['*']"
    )
    assert load(with_lines({"parts": parts})).project.parts["hello"]["organize"]


@pytest.mark.parametrize("path", ["x/../../y", "../y", "/y"])
def test_inner_path_problem(path):
    assert inner_path_problem(path)
    assert inner_path_problem("/y", absolute_ok=True) is None


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("'A=B': x", "contains '='"),
        ("'': x", "cannot be empty"),
        ("'A B': x", "whitespace or a control character"),
        ('"A\\tB": x', "whitespace or a control character"),
        ('"A\\0B": x', "whitespace or a control character"),
        ('A: "x\\0y"', "NUL character"),
    ],
)
def test_environment_names_and_values_a_runtime_refuses(entry, message):
    err = only_error(with_lines({}, f"environment:\n  {entry}\n"))
    assert err.key.startswith("environment.")
    assert message in err.problem
    assert err.line == 14
    assert err.resolution


def test_service_environment_names_are_checked_too():
    text = with_lines(
        {"entrypoint-command": None},
        "services:\n  web:\n    override: replace\n    command: /bin/web\n"
        "    environment:\n      'A=B': x\n",
    )
    err = only_error(text)
    assert err.key == "services.web.environment.A=B"
    assert "contains '='" in err.problem


def test_check_exec_environment_names_are_checked_too():
    text = with_lines(
        {},
        "checks:\n  up:\n    override: replace\n    exec:\n      command: /bin/true\n"
        "      environment: {'': x}\n",
    )
    err = only_error(text)
    assert err.key.startswith("checks.up.exec.environment")
    assert "cannot be empty" in err.problem


def test_custom_run_user_name_cannot_be_a_path():
    err = only_error(with_lines({}, "run-user: {name: ../root, uid: 5, gid: 5}\n"))
    assert err.key == "run-user.name"


@pytest.mark.parametrize("label", ["../../evil", "a/b", "any", "*", "x\ny"])
def test_platform_names_that_cannot_end_a_file_name(label):
    text = with_lines(
        {"platforms": f"\n  {label!r}:\n    build-on: [amd64]\n    build-for: [amd64]"}
    )
    text = text.replace(repr(label), '"' + label.replace("\n", "\\n") + '"')
    errors = errors_of(text)
    assert any(
        e.key and e.key.startswith("platforms.") and "platform name" in e.problem for e in errors
    )
