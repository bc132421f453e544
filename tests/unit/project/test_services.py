"""Pebble service and check models."""

from __future__ import annotations

import pydantic
import pytest

from rockpack.project.services import (
    Check,
    CommandSyntaxError,
    Service,
    check_references,
    split_command,
    split_command_group,
)


@pytest.mark.parametrize(
    ("command", "fixed", "defaults"),
    [
        ("/bin/web", ["/bin/web"], []),
        ("/bin/web [ --port 80 ]", ["/bin/web"], ["--port", "80"]),
        ("/bin/sh -c 'a b' [ x ]", ["/bin/sh", "-c", "a b"], ["x"]),
        ("/bin/web [ ]", ["/bin/web"], []),
    ],
)
def test_split_command(command, fixed, defaults):
    assert split_command(command) == (fixed, defaults)


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        ("[ a ]", "cannot start with"),
        ("/bin/x [ a", "without a closing"),
        ("/bin/x ] a", "without a matching"),
        ("/bin/x [ a [ b ] ]", "cannot nest"),
        ("/bin/x [ a ] b", "words after"),
        ("/bin/x 'open", "cannot be split"),
        ("", "is empty"),
    ],
)
def test_malformed_commands(command, problem):
    with pytest.raises(CommandSyntaxError, match=problem):
        split_command(command)


def test_attached_brackets_for_entrypoint_command():
    assert split_command("mpg123 [/snare-1.mp3]", attached_brackets=True) == (
        ["mpg123"],
        ["/snare-1.mp3"],
    )
    assert split_command("mpg123 [/snare-1.mp3]") == (["mpg123", "[/snare-1.mp3]"], [])


def service(**fields):
    return Service.model_validate({"override": "replace", "command": "/bin/x", **fields})


@pytest.mark.parametrize("value", ["10s", "1m30s", "500ms", "1.5h"])
def test_durations_with_units(value):
    assert service(**{"kill-delay": value}).kill_delay == value


@pytest.mark.parametrize("value", [10, "10", "ten seconds", "0"])
def test_durations_without_units_are_rejected(value):
    with pytest.raises(pydantic.ValidationError, match="is not a duration"):
        service(**{"backoff-delay": value})


def test_override_is_required():
    with pytest.raises(pydantic.ValidationError, match="override"):
        Service.model_validate({"command": "/bin/x"})


def test_replace_needs_a_command():
    with pytest.raises(pydantic.ValidationError, match="needs a 'command'"):
        Service.model_validate({"override": "replace"})
    assert Service.model_validate({"override": "merge"}).command is None


def test_backoff_factor_at_least_one():
    with pytest.raises(pydantic.ValidationError, match="greater than or equal to 1"):
        service(**{"backoff-factor": 0.5})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("on-success", "success-shutdown"),
        ("on-failure", "failure-shutdown"),
        ("startup", "sometimes"),
    ],
)
def test_exit_actions_and_startup_are_checked_per_key(key, value):
    with pytest.raises(pydantic.ValidationError):
        service(**{key: value})


def test_unknown_service_keys_are_rejected():
    with pytest.raises(pydantic.ValidationError, match="Extra inputs"):
        service(restart="always")


def check(**fields):
    return Check.model_validate({"override": "replace", **fields})


def test_check_needs_exactly_one_kind():
    with pytest.raises(pydantic.ValidationError, match=r"found: none"):
        check()
    with pytest.raises(pydantic.ValidationError, match=r"found: http, tcp"):
        check(http={"url": "http://x/"}, tcp={"port": 80})
    assert check(exec={"command": "/bin/true"}).exec.command == "/bin/true"


@pytest.mark.parametrize("port", [0, 65536])
def test_tcp_port_in_range(port):
    with pytest.raises(pydantic.ValidationError):
        check(tcp={"port": port})


def test_references_name_the_service_and_field():
    services = {"a": service(requires=["ghost"])}
    checks = {"c": check(exec={"command": "x", "service-context": "nobody"})}
    problems = check_references(services, checks)
    assert problems == [
        (("services", "a", "requires"), "service 'a': 'requires' names unknown service 'ghost'"),
        (
            ("checks", "c", "exec"),
            "check 'c': 'exec.service-context' names unknown service 'nobody'",
        ),
    ]


def test_split_command_group_tells_an_empty_group_from_none():
    assert split_command_group("/bin/web") == (["/bin/web"], None)
    assert split_command_group("/bin/web [ ]") == (["/bin/web"], [])
    assert split_command_group("/bin/web [ -v ]") == (["/bin/web"], ["-v"])
    assert split_command("/bin/web [ ]") == (["/bin/web"], [])
