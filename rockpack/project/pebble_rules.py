"""Pebble's own rules for a layer, checked when the project is loaded.

Pebble reads the rock's layer only when the container starts, so a rule it enforces
there (internals/plan/plan.go: Layer.Validate, Plan.Validate, the layer file name
pattern) would otherwise pass packing and stop the rock at its first start. Each
message says what Pebble would say.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Protocol

from rockpack.project.names import checked

# The label of the layer file NNN-<label>.yaml (plan.go's configEntryRegexp).
LABEL_RE = re.compile(r"[a-z](?:-?[a-z0-9]){2,}")
RESERVED_LABEL_PREFIX = "pebble-"
RESERVED_SERVICE_NAMES = ("pebble",)
DEPRECATED_SERVICE_NAMES = ("all", "default", "none")


def label_problem(label: str) -> str | None:
    """What Pebble says about the label of a layer file named after the rock."""
    if label.startswith(RESERVED_LABEL_PREFIX):
        return (
            f"the rock's Pebble layer would be labelled '{label}', and Pebble refuses it at "
            f'start: cannot use reserved label prefix "{RESERVED_LABEL_PREFIX}"'
        )
    if not LABEL_RE.fullmatch(label):
        return (
            f"the rock's Pebble layer would be labelled '{label}', which Pebble does not "
            "accept: a label is a lowercase letter followed by two or more lowercase "
            "letters, digits and single hyphens"
        )
    return None


def service_name_problem(name: str) -> str | None:
    if not name:
        return "Pebble refuses it: cannot use empty string as service name"
    if name in RESERVED_SERVICE_NAMES:
        return f'Pebble refuses it: cannot use reserved service name "{name}"'
    if name.startswith("-"):
        return f'Pebble refuses it: cannot use service name "{name}": starting with "-" not allowed'
    return None


def check_name_problem(name: str) -> str | None:
    if not name:
        return "Pebble refuses it: cannot use empty string as check name"
    return None


ServiceName = Annotated[
    str, checked(service_name_problem, "Rename the service (e.g. 'web' or 'my-app').")
]
CheckName = Annotated[str, checked(check_name_problem, "Name the check (e.g. 'ready').")]


def is_zero_duration(duration: str) -> bool:
    """``0s``, ``0m0.0s``: Pebble refuses a check period or timeout of zero."""
    return all(float(n) == 0 for n in re.findall(r"\d+(?:\.\d*)?|\.\d+", duration))


class _Ordered(Protocol):
    @property
    def after(self) -> list[str] | None: ...

    @property
    def before(self) -> list[str] | None: ...


def start_order_loop(services: Mapping[str, _Ordered]) -> list[str]:
    """Services whose after/before order has a loop (Pebble refuses to start any of them).

    Peels off every service with nothing left before it or nothing left after it, in
    time linear in the services and their edges; whatever remains lies on a loop.
    """
    runs_after: dict[str, set[str]] = {name: set() for name in services}
    for name, service in services.items():
        runs_after[name].update(a for a in service.after or [] if a in services and a != name)
        for later in service.before or []:
            if later in services and later != name:
                runs_after[later].add(name)
    runs_before: dict[str, set[str]] = {name: set() for name in services}
    for name, earlier in runs_after.items():
        for other in earlier:
            runs_before[other].add(name)
    waiting = {name: [len(runs_after[name]), len(runs_before[name])] for name in services}
    remaining = set(services)
    queue = [name for name, (before, after) in waiting.items() if not before or not after]
    while queue:
        name = queue.pop()
        if name not in remaining:
            continue
        remaining.discard(name)
        for side, neighbours in ((0, runs_before[name]), (1, runs_after[name])):
            for other in neighbours & remaining:
                waiting[other][side] -= 1
                if waiting[other][side] == 0:
                    queue.append(other)
    return sorted(remaining)


def deprecated_service_names(names: Iterable[str]) -> list[str]:
    return [n for n in names if n in DEPRECATED_SERVICE_NAMES]


def runs_pebble(has_services: bool, entrypoint_command: str | None) -> bool:
    """Every rock runs Pebble, except one with an entrypoint-command and no services."""
    return has_services or not entrypoint_command


def loop_message(names: Sequence[str], shown: int = 10) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return (
        "Pebble would refuse to start these services: services in before/after loop: "
        + ", ".join(names[:shown])
        + more
    )
