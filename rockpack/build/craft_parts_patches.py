"""Small, upstreamable speed-ups of craft-parts, applied by rockpack in one place.

Each patch changes how craft-parts does its work, never what it produces: the unit tests
(``tests/unit/build/test_craft_parts_patches.py``, ``test_patch_*.py``) compare each with
the upstream function it replaces, and ``tests/integration/test_lifecycle_patches.py``
packs a project with and without them (the same trees, state files and rock bytes).

- **Step states written with libyaml's C emitter.** craft-parts writes each step's state
  (which lists every file the step migrated) with ``yaml.safe_dump``, PyYAML's
  pure-Python emitter: 12.7 of 69.5 profiled seconds for a 100,000-file part from clean.
  The C emitter, with PyYAML's own safe representer, writes the same bytes several times
  faster; the sets of file names get the nodes PyYAML's ``represent_set`` makes, built
  in one pass. (Reading them back with the C loader is ``rockpack.project.parts``'
  patch.)
- **File sets resolved on strings** (``rockpack.build.patch_filesets``): the files and
  directories stage and prime migrate, without a ``pathlib`` object and two ``stat``s
  per file.
- **Hard links without the checks around them** (``rockpack.build.patch_migration``):
  stage, prime and the pull of a local source link a regular file with one ``lstat``
  and one ``link``, and leave anything else to upstream's code.
- **Stage-packages extracted side by side** (``rockpack.build.patch_deb_unpack``): one
  ``dpkg-deb --extract`` per core instead of one after another, linked into the install
  dir in upstream's order.
- **apt's build-packages answer kept** (``rockpack.build.patch_build_packages``): the
  ``apt-get --simulate`` craft-parts runs on every pack from clean is answered from a
  cache keyed by apt's state, which only apt itself changes.

Each patch replaces code of one craft-parts release series: under any other version
``apply()`` leaves craft-parts alone (and says so at debug level), so an upgrade can
make rockpack slower, never wrong; so does ``ROCKPACK_UNPATCHED_CRAFT_PARTS=1``, to rule
the patches out of a problem. ``apply()`` is idempotent; call it before a lifecycle
runs.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import craft_parts
import yaml

# The craft-parts release series the patches were written against and tested with.
PATCHED_SERIES = "2.37."

logger = logging.getLogger(__name__)

_applied = False

_SET_TAG = "tag:yaml.org,2002:set"
_STR_TAG = "tag:yaml.org,2002:str"
_NULL_TAG = "tag:yaml.org,2002:null"


def _represent_set(dumper: Any, data: set[Any]) -> yaml.Node:
    """PyYAML's ``SafeRepresenter.represent_set``, node for node, for a set of strings.

    Upstream goes through ``represent_mapping`` and ``represent_data`` for each member (a
    dict, a sort of tuples, five calls a name), and a state lists every file in sets.
    """
    if not all(type(member) is str for member in data):
        return yaml.representer.SafeRepresenter.represent_set(dumper, data)
    node = yaml.MappingNode(_SET_TAG, [], flow_style=None)
    if dumper.alias_key is not None:
        dumper.represented_objects[dumper.alias_key] = node
    style = dumper.default_style
    members = sorted(data) if dumper.sort_keys else list(data)
    # A fresh null node for every member: libyaml anchors a node that appears twice.
    node.value = [
        (
            yaml.ScalarNode(_STR_TAG, member, style=style),
            yaml.ScalarNode(_NULL_TAG, "null", style=style),
        )
        for member in members
    ]
    best_style = not (style and members)
    flow_style = dumper.default_flow_style
    node.flow_style = flow_style if flow_style is not None else best_style
    return node


def _state_dumper() -> Any:
    """libyaml's safe dumper, with sets of names represented in one pass."""
    base = getattr(yaml, "CSafeDumper", None)
    if base is None:
        return None
    dumper: Any = type("StateDumper", (base,), {})
    dumper.add_representer(set, _represent_set)
    return dumper


_STATE_DUMPER = _state_dumper()


class _LibyamlStateDumper:
    """PyYAML as craft-parts' step_state module uses it, emitting with libyaml."""

    def __getattr__(self, name: str) -> Any:
        return getattr(yaml, name)

    @staticmethod
    def safe_dump(data: Any, stream: Any = None, **kwargs: Any) -> Any:
        if stream is None:
            try:
                return yaml.dump_all([data], None, Dumper=_STATE_DUMPER, **kwargs)
            except UnicodeEncodeError:  # a non-UTF-8 file name: libyaml cannot encode it
                return yaml.safe_dump(data, None, **kwargs)
        # Into a stream, only once the C emitter has produced the whole text: a failure
        # half-way must not leave half a state file behind.
        text = _LibyamlStateDumper.safe_dump(data, None, **kwargs)
        stream.write(text)
        return None


def libyaml_available() -> bool:
    return bool(getattr(yaml, "__with_libyaml__", False))


def supported(version: str | None = None) -> bool:
    """Whether the patches were written for this craft-parts version."""
    return (version or craft_parts.__version__).startswith(PATCHED_SERIES)


# Where each patch goes: craft-parts module and attribute (tests save and restore these).
PATCHED_ATTRIBUTES = [
    ("craft_parts.state_manager.step_state", "yaml"),
    ("craft_parts.executor.filesets", "migratable_filesets"),
    ("craft_parts.executor.migration", "migrate_files"),
    ("craft_parts.executor.step_handler", "migrate_files"),  # imported by name there
    ("craft_parts.utils.file_utils", "link_or_copy_tree"),
]

# Set (to anything) to run craft-parts as released, to rule the patches out of a problem.
UNPATCHED_ENV = "ROCKPACK_UNPATCHED_CRAFT_PARTS"


def apply() -> None:
    """Patch craft-parts (once per process), if it is the release the patches are for."""
    global _applied  # craft-parts' modules are process-wide
    if _applied:
        return
    _applied = True
    if os.environ.get(UNPATCHED_ENV):
        logger.debug("%s is set: running craft-parts unpatched", UNPATCHED_ENV)
        return
    if not supported():
        logger.debug(
            "craft-parts %s is not %sx: running it unpatched (slower, same results)",
            craft_parts.__version__,
            PATCHED_SERIES,
        )
        return
    from craft_parts.executor import filesets, migration, step_handler
    from craft_parts.state_manager import step_state
    from craft_parts.utils import file_utils

    from rockpack.build import (
        patch_build_packages,
        patch_deb_unpack,
        patch_filesets,
        patch_migration,
    )

    if libyaml_available():
        step_state.yaml = _LibyamlStateDumper()  # type: ignore[attr-defined,assignment]
    filesets.migratable_filesets = patch_filesets.migratable_filesets
    migration.migrate_files = patch_migration.migrate_files
    step_handler.migrate_files = patch_migration.migrate_files  # type: ignore[attr-defined]
    file_utils.link_or_copy_tree = patch_migration.link_or_copy_tree
    patch_deb_unpack.apply()
    patch_build_packages.apply()
