"""The default layer budget, importable without pydantic.

The command line names it in ``--layers``' help, which is built for every ``pack``,
including one with nothing to do; ``rockpack.project.layering`` (pydantic models)
applies it.
"""

from __future__ import annotations

# apko finds 10 a good balance for application images; parts are fewer and coarser
# than packages, and containerd stops at 127 layers for the base and the rock together.
DEFAULT_BUDGET = 16
