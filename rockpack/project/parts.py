"""craft-parts set up for rockpack: features, plugin overrides, part validation.

craft-parts keeps its optional features and its plugin table in process-wide state, so
both are set here, once, before any part is validated or run.
"""

from __future__ import annotations

import re
from typing import Any

import pydantic
import yaml
from craft_parts import errors, plugins, validate_part
from craft_parts.features import Features
from craft_parts.parts import PartSpec
from craft_parts.plugins.dump_plugin import DumpPlugin
from craft_parts.state_manager import states as state_files

from rockpack.project.names import inner_path_problem

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
        document = stream.read() if hasattr(stream, "read") else stream
        try:
            return yaml.load(document, Loader=yaml.CSafeLoader)
        except yaml.YAMLError:
            # libyaml refuses what PyYAML itself wrote for a name that is not UTF-8 (an
            # escaped surrogate); PyYAML's own loader reads it back.
            return yaml.load(document, Loader=yaml.SafeLoader)


def enable_features() -> None:
    """Turn on the craft-parts features and plugin overrides rockpack relies on."""
    global _features_set  # craft-parts' Features and plugin table are process-wide
    if not _features_set:
        Features(enable_overlay=True)
        plugins.register({"dump": InPlaceDumpPlugin})
        if getattr(yaml, "__with_libyaml__", False):
            state_files.yaml = _LibyamlStateLoader()  # type: ignore[attr-defined,assignment]
        _features_set = True


PartProblem = tuple[tuple[str | int, ...], str, str]
# What craft-parts raises, beyond pydantic's errors, for part data it cannot use.
_CRAFT_PARTS_ERRORS = (ValueError, TypeError, KeyError, AttributeError, errors.PartsError)


def part_problems(name: str, spec: dict[str, Any]) -> list[PartProblem]:
    """Problems craft-parts finds in one part: (key path under the part, message, type)."""
    enable_features()
    problems = path_problems(spec)
    data = _with_plugin(name, spec)
    if data is None:
        return [((), "has no 'plugin' (and its name is not a plugin name)", "missing")]
    try:
        validate_part(data)
    except pydantic.ValidationError as err:
        seen = {tuple(map(str, loc)) for loc, _, _ in problems}  # ours say more
        for error in err.errors():
            loc = tuple(p if isinstance(p, int) else str(p) for p in error["loc"])
            if tuple(map(str, loc)) not in seen:
                message = str(error["msg"]).removeprefix("Value error, ")
                problems.append((loc, message, error["type"]))
    except _CRAFT_PARTS_ERRORS as err:
        message = getattr(err, "brief", None) or str(err)
        problems.append((("plugin",) if "plugin" in message else (), message, "value_error"))
    return problems


def _with_plugin(name: str, spec: dict[str, Any]) -> dict[str, Any] | None:
    """The part with its plugin; craft-parts falls back to the part's name as its plugin."""
    data = dict(spec)
    if data.get("plugin") is None:
        if name not in plugins.get_registered_plugins():
            return None
        data["plugin"] = name
    return data


def validated_part(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """The part as craft-parts' models read it (valid parts only), by key."""
    data = _with_plugin(name, spec) or spec
    plugin = str(data.get("plugin"))
    try:
        properties = plugins.get_plugin_class(plugin).properties_class.unmarshal(data)
        common = PartSpec.unmarshal(plugins.extract_part_properties(data, plugin_name=plugin))
    except (pydantic.ValidationError, *_CRAFT_PARTS_ERRORS):
        return {}  # part_problems reports what is wrong
    return {**common.model_dump(by_alias=True), **properties.model_dump(by_alias=True)}


def part_models(name: str, spec: dict[str, Any]) -> list[type[pydantic.BaseModel]]:
    """The models a part's keys belong to: craft-parts' common keys and its plugin's."""
    enable_features()
    models: list[type[pydantic.BaseModel]] = [PartSpec]
    plugin = spec.get("plugin", name)
    if isinstance(plugin, str) and plugin in plugins.get_registered_plugins():
        models.append(plugins.get_plugin_class(plugin).properties_class)
    return models


def _without_partition(path: str) -> str:
    """``(build)/usr/bin`` -> ``usr/bin``: the partition prefix craft-parts allows."""
    return _PARTITION_RE.sub("", path, count=1)


_PARTITION_RE = re.compile(r"^\([a-z][a-z0-9-]*\)/?")
_FILESETS = ("stage", "prime", "overlay")


def path_problems(spec: dict[str, Any]) -> list[PartProblem]:
    """Paths in organize, the filesets and source-subdir that would leave their directory.

    (``permissions`` paths are only patterns matched against primed paths, never joined.)
    """
    found: list[PartProblem] = []

    def note(loc: tuple[str | int, ...], what: str, problem: str | None) -> None:
        if problem:
            found.append((loc, f"{what}: {problem}", "path_escape"))

    organize = spec.get("organize")
    for source, target in organize.items() if isinstance(organize, dict) else []:
        if isinstance(source, str):
            note(
                ("organize", source),
                "organize source",
                inner_path_problem(_without_partition(source)),
            )
        if isinstance(target, str):
            target_problem = inner_path_problem(_without_partition(target), absolute_ok=True)
            note(("organize", source), "organize target", target_problem)
    for key in _FILESETS:
        entries = spec.get(key)
        for index, entry in enumerate(entries if isinstance(entries, list) else []):
            if isinstance(entry, str):
                note((key, index), f"'{key}' entry", inner_path_problem(entry.removeprefix("-")))
    subdir = spec.get("source-subdir")
    if isinstance(subdir, str):
        note(("source-subdir",), "source-subdir", inner_path_problem(subdir))
    return found


def has_overlay(spec: dict[str, Any]) -> bool:
    """Whether a part uses the overlay step (overlay-packages, -script or filters)."""
    return any(key in spec for key in ("overlay-packages", "overlay-script", "overlay"))
