"""The Pebble layer file, its number, and the rock's entrypoint."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from rockpack.pebble.layer import (
    layer_entries,
    layer_yaml,
    next_layer_number,
    pebble_entrypoint,
)
from rockpack.project.model import validate_project
from rockpack.project.yaml_source import parse_yaml
from tests.conftest import MINIMAL

SERVICES = """
    services:
      web:
        override: replace
        command: /bin/web --verbose [ --port 80 ]
        startup: enabled
        environment:
          PORT: 80
      db:
        override: merge
        command: /bin/db
        after: [web]
        kill-delay: 5s
    checks:
      alive:
        override: replace
        exec: {command: /bin/true}
      port:
        override: replace
        tcp: {port: 80}
      page:
        override: replace
        level: ready
        http: {url: "http://localhost/"}
"""


def project(extra: str = SERVICES, drop_entrypoint: bool = True):
    text = textwrap.dedent(MINIMAL).lstrip()
    if drop_entrypoint:
        text = text.replace("entrypoint-command: /bin/hello [ world ]\n", "")
    return validate_project(
        parse_yaml(Path("rockpack.yaml"), text + textwrap.dedent(extra))
    ).project


@pytest.mark.parametrize(
    ("paths", "number"),
    [
        ([], 1),
        (["var/lib/pebble/default/layers/001-base.yaml"], 2),
        (
            [
                "var/lib/pebble/default/layers/010-abc.yaml",
                "var/lib/pebble/default/layers/002-x-y.yaml",
            ],
            11,
        ),
        (["var/lib/pebble/default/layers/099-Bad_Label.yaml", "etc/005-abc.yaml"], 1),
    ],
)
def test_next_layer_number(paths, number):
    assert next_layer_number(paths) == number


def test_layer_is_byte_stable_and_parses_back():
    first, second = layer_yaml(project()), layer_yaml(project())
    assert first == second
    document = yaml.safe_load(first)
    assert set(document["services"]) == {"web", "db"}
    assert document["services"]["web"]["environment"] == {"PORT": "80"}
    assert document["services"]["db"]["kill-delay"] == "5s"
    assert set(document["checks"]) == {"alive", "port", "page"}
    assert document["checks"]["page"]["http"]["url"] == "http://localhost/"
    assert document["summary"] == "A test rock"


def test_layer_entries_give_pebble_state_to_the_run_user():
    entries = {e.path: e for e in layer_entries(project(), 3, owner=(584792, 584792), mtime=9)}
    layer = entries["var/lib/pebble/default/layers/003-hello.yaml"]
    assert layer.content == layer_yaml(project())
    assert (entries["var/lib/pebble/default"].uid, layer.uid) == (584792, 584792)
    assert entries["var/lib"].uid == 0


def test_entrypoints():
    assert pebble_entrypoint(project()) == (["/usr/bin/pebble", "enter"], [])
    with_service = project(SERVICES + "    entrypoint-service: web\n")
    assert pebble_entrypoint(with_service) == (
        ["/usr/bin/pebble", "enter", "--args", "web"],
        ["--port", "80"],
    )
