"""A misspelt key gets the closest valid key of its own mapping, at every level."""

from __future__ import annotations

import pytest

from rockpack.project.keys import closest_key, known_keys
from rockpack.project.model import Project
from tests.unit.project.test_model import errors_of, only_error, with_lines

SERVICE = "services:\n  web:\n    override: replace\n    command: /bin/web\n"


@pytest.mark.parametrize(
    ("replace", "add", "key", "suggestion"),
    [
        ({}, "sumary: x\n", "sumary", "summary"),
        (
            {"parts": "\n  hello:\n    plugin: nil\n    sourse: ."},
            "",
            "parts.hello.sourse",
            "source",
        ),
        (
            {"parts": "\n  hello:\n    plugin: nil\n    stage-pakages: [x]"},
            "",
            "parts.hello.stage-pakages",
            "stage-packages",
        ),
        (
            {"parts": "\n  hello:\n    plugin: python\n    source: .\n    python-packges: [x]"},
            "",
            "parts.hello.python-packges",
            "python-packages",
        ),
        (
            {"entrypoint-command": None},
            SERVICE + "    comand: x\n",
            "services.web.comand",
            "command",
        ),
        (
            {"entrypoint-command": None},
            SERVICE + "    enviroment: {A: b}\n",
            "services.web.enviroment",
            "environment",
        ),
        (
            {},
            "checks:\n  up:\n    override: replace\n    tcp: {port: 80, hots: x}\n",
            "checks.up.tcp.hots",
            "host",
        ),
        (
            {},
            "checks:\n  up:\n    override: replace\n    perod: 10s\n    tcp: {port: 80}\n",
            "checks.up.perod",
            "period",
        ),
        (
            {"platforms": "\n  amd64:\n    build-on: [amd64]\n    biuld-for: [amd64]"},
            "",
            "platforms.amd64.biuld-for",
            "build-for",
        ),
        ({}, "run-user: {name: app, uid: 1, giid: 1}\n", "run-user.giid", "gid"),
    ],
)
def test_misspelt_key_suggests_the_closest_at_its_level(replace, add, key, suggestion):
    (err,) = [e for e in errors_of(with_lines(replace, add)) if e.key == key]
    assert err.problem == "is not a known key."
    assert err.resolution == f"Did you mean '{suggestion}'?"
    assert "Extra inputs are not permitted" not in err.brief


def test_a_key_like_nothing_known_says_to_remove_it():
    err = only_error(with_lines({}, "zzzzzz: 1\n"))
    assert err.resolution == "Remove the key, or check its spelling."


def test_field_names_are_accepted_at_every_level():
    text = with_lines(
        {"entrypoint-command": None},
        SERVICE + "    kill_delay: 10s\nentrypoint_service: web\n",
    )
    err = only_error(text)  # the service has no '[ ... ]' group
    assert err.key == "entrypoint-service"
    assert err.line == 17  # the line of `entrypoint_service:` as written


def test_known_keys_of_nested_models():
    assert "build-for" in known_keys([Project], ["platforms", "amd64"])
    assert "on-check-failure" in known_keys([Project], ["services", "web"])
    assert "service-context" in known_keys([Project], ["checks", "up", "exec"])
    assert "uid" in known_keys([Project], ["run-user"])
    assert known_keys([Project], ["name"]) == []


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("build_base", "build-base"), ("Summary", "summary"), ("entrypoint", None)],
)
def test_closest_key(typed, expected):
    known = ["build-base", "summary", "name", "entrypoint-service", "entrypoint-command"]
    if expected is None:
        assert closest_key(typed, known) in (None, "entrypoint-service", "entrypoint-command")
    else:
        assert closest_key(typed, known) == expected
