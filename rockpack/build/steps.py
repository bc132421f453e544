"""The lifecycle's step names and shell options, without craft-parts.

The command line declares a command per step and reads the shell flags before it knows
whether anything runs; importing craft-parts for that would cost a no-op pack a quarter
of a second. ``rockpack.build.lifecycle`` maps these names to craft-parts' steps.
"""

from __future__ import annotations

from dataclasses import dataclass

STEP_NAMES: tuple[str, ...] = ("pull", "overlay", "build", "stage", "prime")


@dataclass(frozen=True)
class ShellOptions:
    """When to open an interactive shell in the build environment."""

    shell: bool = False  # instead of the last step
    shell_after: bool = False  # after the last step
    debug: bool = False  # when a step fails
