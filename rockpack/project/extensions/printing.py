"""The expanded project as YAML a person reads: scripts as literal blocks, lines unwrapped."""

from __future__ import annotations

from typing import Any

import yaml


class _ProjectDumper(yaml.SafeDumper):
    """SafeDumper writing multi-line strings (override-build scripts) as ``|`` blocks."""


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_ProjectDumper.add_representer(str, _string)


def project_yaml(data: dict[str, Any]) -> str:
    """``data`` (a marshalled project) as YAML, keys in their order, without line wrapping."""
    text = yaml.dump(
        data, Dumper=_ProjectDumper, sort_keys=False, width=1_000_000, allow_unicode=True
    )
    return text.rstrip()
