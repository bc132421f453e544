"""The project file's JSON Schema, generated from the models.

Regenerate schema/rockpack.schema.json with: python -m rockpack.project.schema --write
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from rockpack.project.model import Project

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schema" / "rockpack.schema.json"


def project_schema() -> dict[str, Any]:
    schema = Project.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "rockpack project file (rockpack.yaml or rockcraft.yaml)"
    return schema


def render() -> str:
    return json.dumps(project_schema(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    if argv == ["--write"]:
        SCHEMA_PATH.write_text(render(), encoding="utf-8")
        return 0
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
