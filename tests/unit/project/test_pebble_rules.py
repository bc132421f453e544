"""What Pebble refuses when the rock starts is refused when the project is loaded."""

from __future__ import annotations

import pytest

from rockpack.project.pebble_rules import label_problem, start_order_loop
from rockpack.project.services import Service
from tests.unit.project.test_model import load, only_error, with_lines

SERVICES = "services:\n  web:\n    override: replace\n    command: /bin/web\n"


def test_rock_named_with_pebbles_reserved_label_prefix():
    err = only_error(with_lines({"name": "pebble-app", "entrypoint-command": None}, SERVICES))
    assert (err.key, err.line) == ("name", 1)
    assert 'cannot use reserved label prefix "pebble-"' in err.problem
    assert "does not start with 'pebble-'" in err.resolution


def test_reserved_label_prefix_without_services_still_runs_pebble():
    err = only_error(with_lines({"name": "pebble-app", "entrypoint-command": None}))
    assert "reserved label prefix" in err.problem


def test_reserved_label_prefix_is_fine_when_pebble_does_not_run():
    # entrypoint-command and no services or checks: the rock runs the command directly.
    assert load(with_lines({"name": "pebble-app"})).project.name == "pebble-app"


def test_label_rule():
    assert label_problem("my-rock") is None
    assert "reserved label prefix" in (label_problem("pebble-x") or "")
    assert "Pebble does not accept" in (label_problem("ab") or "")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("pebble", 'cannot use reserved service name "pebble"'),
        ("-web", 'starting with "-" not allowed'),
        ("''", "cannot use empty string as service name"),
    ],
)
def test_service_names_pebble_refuses(name, message):
    text = with_lines(
        {"entrypoint-command": None},
        f"services:\n  {name}:\n    override: replace\n    command: /bin/web\n",
    )
    err = only_error(text)
    assert err.key.startswith("services.")
    assert err.line == 13
    assert message in err.problem
    assert "Rename the service" in err.resolution


def test_empty_check_name():
    err = only_error(with_lines({}, "checks:\n  '':\n    override: replace\n    tcp: {port: 80}\n"))
    assert "cannot use empty string as check name" in err.problem


@pytest.mark.parametrize("key", ["period", "timeout"])
@pytest.mark.parametrize("value", ["0s", "0m0.0s", "0ms"])
def test_zero_check_period_or_timeout(key, value):
    text = with_lines(
        {}, f"checks:\n  up:\n    override: replace\n    {key}: {value}\n    tcp: {{port: 80}}\n"
    )
    err = only_error(text)
    assert err.key == "checks.up"
    assert f"{key} must not be zero" in err.problem


def test_before_after_loop():
    text = with_lines(
        {"entrypoint-command": None},
        "services:\n"
        "  a: {override: replace, command: /bin/a, after: [b]}\n"
        "  b: {override: replace, command: /bin/b, before: [a], after: [c]}\n"
        "  c: {override: replace, command: /bin/c, after: [a]}\n"
        "  d: {override: replace, command: /bin/d, after: [a]}\n",
    )
    err = only_error(text)
    assert "services in before/after loop: a, b, c" in err.problem
    assert err.key == "services.a"


def test_start_order_loop_is_linear_on_a_long_chain():
    services = {
        f"s{i}": Service.model_validate(
            {"override": "replace", "command": "/bin/x", "after": [f"s{i - 1}"] if i else []}
        )
        for i in range(20_000)
    }
    assert start_order_loop(services) == []


def test_deprecated_service_name_is_a_warning():
    text = with_lines(
        {"entrypoint-command": None}, "services:\n  all:\n    override: replace\n    command: /x\n"
    )
    assert load(text).warnings == [
        "service 'all': Pebble deprecates 'all' as a service name; rename it."
    ]


def test_entrypoint_service_with_empty_default_args_is_accepted():
    text = with_lines(
        {"entrypoint-command": None},
        "services:\n  web:\n    override: replace\n    command: /bin/web [ ]\n"
        "entrypoint-service: web\n",
    )
    project = load(text).project
    assert project.entrypoint_service == "web"
