"""Part validation by craft-parts' own models and plugins.

craft-parts keeps its optional features in process-wide state, so they are switched
on here, once, before any part is validated or run.
"""

from __future__ import annotations

from typing import Any

import pydantic
from craft_parts import plugins, validate_part
from craft_parts.features import Features

_features_set = False


def enable_features() -> None:
    """Turn on the craft-parts features rockpack relies on (overlays)."""
    global _features_set  # noqa: PLW0603 - craft-parts' Features is a process singleton
    if not _features_set:
        Features(enable_overlay=True)
        _features_set = True


def part_problems(name: str, spec: dict[str, Any]) -> list[tuple[tuple[str, ...], str]]:
    """Problems craft-parts finds in one part, as (key path under the part, message)."""
    enable_features()
    data = dict(spec)
    plugin = data.get("plugin")
    if plugin is None:
        # craft-parts falls back to the part's name as its plugin.
        if name not in plugins.get_registered_plugins():
            return [((), "has no 'plugin' (and its name is not a plugin name)")]
        data["plugin"] = name
    try:
        validate_part(data)
    except pydantic.ValidationError as err:
        return [
            (tuple(str(p) for p in e["loc"]), str(e["msg"]).removeprefix("Value error, "))
            for e in err.errors()
        ]
    except (ValueError, TypeError) as err:
        return [(("plugin",) if "plugin" in str(err) else (), str(err))]
    return []


def has_overlay(spec: dict[str, Any]) -> bool:
    """Whether a part uses the overlay step (overlay-packages, -script or filters)."""
    return any(key in spec for key in ("overlay-packages", "overlay-script", "overlay"))
