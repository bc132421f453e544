"""craft-parts set up for rockpack: features, plugin overrides, part validation.

craft-parts keeps its optional features and its plugin table in process-wide state, so
both are set here, once, before any part is validated or run.
"""

from __future__ import annotations

from typing import Any

import pydantic
import yaml
from craft_parts import plugins, validate_part
from craft_parts.features import Features
from craft_parts.plugins.dump_plugin import DumpPlugin
from craft_parts.state_manager import states as state_files

_features_set = False


class InPlaceDumpPlugin(DumpPlugin):
    """The dump plugin, copying straight from the source directory.

    craft-parts builds in-source plugins in a copy of the source made with
    copy-and-chown, which splits hardlinks, leaves directories owned by root and
    (through the chown) clears setuid bits and file capabilities. dump only copies
    its source, so it skips that copy: ``cp --archive --link`` from the source dir
    keeps each file's inode, and with it owner, mode, xattrs and hardlinks.
    """

    @classmethod
    def get_out_of_source_build(cls) -> bool:
        return True

    def get_build_commands(self) -> list[str]:
        source = self._part_info.part_src_subdir
        install = self._part_info.part_install_dir
        return [f'cp --archive --link --no-dereference "{source}/." "{install}"']


class _LibyamlStateLoader:
    """PyYAML as craft-parts' state module uses it, parsing with libyaml's C loader.

    craft-parts re-reads its step states (which list every primed file) on every run
    with the pure-Python loader: 2 s for a Debian tree, most of an unchanged re-pack.
    The C loader reads the same documents to the same data, about ten times faster.
    """

    def __getattr__(self, name: str) -> Any:
        return getattr(yaml, name)

    @staticmethod
    def safe_load(stream: Any) -> Any:
        return yaml.load(stream, Loader=yaml.CSafeLoader)


def enable_features() -> None:
    """Turn on the craft-parts features and plugin overrides rockpack relies on."""
    global _features_set  # craft-parts' Features and plugin table are process-wide
    if not _features_set:
        Features(enable_overlay=True)
        plugins.register({"dump": InPlaceDumpPlugin})
        if getattr(yaml, "__with_libyaml__", False):
            state_files.yaml = _LibyamlStateLoader()  # type: ignore[attr-defined,assignment]
        _features_set = True


PartProblem = tuple[tuple[str, ...], str, str]


def part_problems(name: str, spec: dict[str, Any]) -> list[PartProblem]:
    """Problems craft-parts finds in one part: (key path under the part, message, type)."""
    enable_features()
    data = dict(spec)
    plugin = data.get("plugin")
    if plugin is None:
        # craft-parts falls back to the part's name as its plugin.
        if name not in plugins.get_registered_plugins():
            return [((), "has no 'plugin' (and its name is not a plugin name)", "missing")]
        data["plugin"] = name
    try:
        validate_part(data)
    except pydantic.ValidationError as err:
        return [
            (
                tuple(str(p) for p in e["loc"]),
                str(e["msg"]).removeprefix("Value error, "),
                e["type"],
            )
            for e in err.errors()
        ]
    except (ValueError, TypeError) as err:
        return [(("plugin",) if "plugin" in str(err) else (), str(err), "value_error")]
    return []


def has_overlay(spec: dict[str, Any]) -> bool:
    """Whether a part uses the overlay step (overlay-packages, -script or filters)."""
    return any(key in spec for key in ("overlay-packages", "overlay-script", "overlay"))
