"""A YAML number (or boolean, or date) where text is wanted: refused, with the quoted text."""

from __future__ import annotations

import pytest

from tests.unit.project.test_model import errors_of, load, only_error, with_lines

NPM_PART = """
  hello:
    plugin: npm
    source: .
    npm-include-node: true
    npm-node-version: 14.16"""


def test_unquoted_version_is_refused_with_the_text_to_write():
    err = only_error(with_lines({"version": "1.10"}))
    assert (err.path.name, err.line, err.key) == ("rockpack.yaml", 2, "version")
    assert 'write it quoted: version: "1.10"' in err.brief
    assert "would become '1.1'" in err.problem
    assert err.resolution == 'Quote the value exactly as you mean it: version: "1.10"'


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("1.0", "reads as a number"),
        ("1:20", "would become '80'"),  # YAML 1.1 sexagesimal
        ("0755", "would become '493'"),  # YAML 1.1 octal
        ("1_000", "would become '1000'"),
        (".5", "would become '0.5'"),
        ("yes", "the boolean true"),
        ("2024-01-01", "reads as a date"),
    ],
)
def test_other_non_text_scalars_are_refused(value, why):
    err = only_error(with_lines({"version": value}))
    assert why in err.problem
    assert f'write it quoted: version: "{value}"' in err.problem


def test_plain_whole_numbers_read_as_written_are_text():
    # As in Rockcraft: `PORT: 8000` and `version: 2` mean what they say.
    project = load(with_lines({"version": "2"}, "environment:\n  PORT: 8000\n")).project
    assert project.version == "2"
    assert project.environment == {"PORT": "8000"}


def test_numbers_in_nested_models_are_refused_where_they_are():
    text = with_lines(
        {"entrypoint-command": None},
        "services:\n  web:\n    override: replace\n    command: /bin/web\n"
        "    environment:\n      RATIO: 0.50\n",
    )
    err = only_error(text)
    assert (err.key, err.line) == ("services.web.environment.RATIO", 17)
    assert 'write it quoted: RATIO: "0.50"' in err.problem


def test_number_in_a_plugin_property_of_a_part():
    err = only_error(with_lines({"base": "debian@12", "build-base": None, "parts": NPM_PART}))
    assert (err.key, err.line) == ("parts.hello.npm-node-version", 14)
    assert 'write it quoted: npm-node-version: "14.16"' in err.problem


def test_number_craft_parts_would_turn_into_other_text():
    parts = "\n  hello:\n    plugin: nil\n    source-tag: 1.10\n    source-depth: 1"
    err = only_error(with_lines({"parts": parts}))
    assert err.key == "parts.hello.source-tag"
    assert 'write it quoted: source-tag: "1.10"' in err.problem


def test_number_in_a_list_shows_the_list_item():
    parts = "\n  hello:\n    plugin: nil\n    build-packages: [python3.10, 3.10]"
    err = only_error(with_lines({"parts": parts}))
    assert err.key == "parts.hello.build-packages.1"
    assert 'write it quoted: - "3.10"' in err.problem


def test_every_unquoted_value_is_listed():
    text = with_lines({"version": "1.10", "summary": "3.0"})
    assert [e.key for e in errors_of(text)] == ["version", "summary"]
