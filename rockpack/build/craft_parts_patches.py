"""Small, upstreamable speed-ups of craft-parts, applied by rockpack in one place.

Each patch changes how craft-parts does its work, never what it produces; the tests in
``tests/unit/build/test_craft_parts_patches.py`` hold them to byte-identical results.

- **Step states written with libyaml's C emitter.** craft-parts writes each step's state
  (which lists every file the step migrated) with ``yaml.safe_dump``, PyYAML's
  pure-Python emitter: 12.7 of 69.5 profiled seconds for a 100,000-file part from clean.
  The C emitter, with PyYAML's own safe representer, writes the same bytes several times
  faster. (Reading them back with the C loader is ``rockpack.project.parts``' patch.)

``apply()`` is idempotent; call it before a lifecycle runs.
"""

from __future__ import annotations

from typing import Any

import yaml

_applied = False


class _LibyamlStateDumper:
    """PyYAML as craft-parts' step_state module uses it, emitting with libyaml."""

    def __getattr__(self, name: str) -> Any:
        return getattr(yaml, name)

    @staticmethod
    def safe_dump(data: Any, stream: Any = None, **kwargs: Any) -> Any:
        if stream is None:
            try:
                return yaml.dump_all([data], None, Dumper=yaml.CSafeDumper, **kwargs)
            except UnicodeEncodeError:  # a non-UTF-8 file name: libyaml cannot encode it
                return yaml.safe_dump(data, None, **kwargs)
        # Into a stream, only once the C emitter has produced the whole text: a failure
        # half-way must not leave half a state file behind.
        text = _LibyamlStateDumper.safe_dump(data, None, **kwargs)
        stream.write(text)
        return None


def libyaml_available() -> bool:
    return bool(getattr(yaml, "__with_libyaml__", False))


def apply() -> None:
    """Patch craft-parts (once per process); a no-op where PyYAML has no libyaml."""
    global _applied  # craft-parts' modules are process-wide
    if _applied or not libyaml_available():
        return
    from craft_parts.state_manager import step_state

    step_state.yaml = _LibyamlStateDumper()  # type: ignore[attr-defined,assignment]
    _applied = True
