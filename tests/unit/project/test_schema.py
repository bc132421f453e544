"""schema/ is generated from the models and must not drift from them."""

from __future__ import annotations

import json

from rockpack.project.schema import SCHEMA_PATH, render


def test_committed_schema_matches_the_models():
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render(), (
        "schema/rockpack.schema.json is stale: run 'python -m rockpack.project.schema --write'"
    )


def test_schema_uses_the_file_keys():
    properties = json.loads(render())["properties"]
    assert {"build-base", "run-user", "entrypoint-command", "parts"} <= set(properties)
    assert "run_user" not in properties
