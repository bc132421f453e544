"""Small JSON state files (pins, caches): read forgivingly, written atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rockpack.oci.disk import DiskWriteError
from rockpack.oci.tempfiles import locked_temp_file, sweep


def read_state(path: Path) -> dict[str, Any]:
    """The file's object, or an empty one when it is missing or damaged (a cache miss)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_state(path: Path, data: dict[str, Any]) -> None:
    """Replace the file whole, so a reader never sees half of it.

    The temporary file is locked and uniquely named: two runs never share one, and the
    next run sweeps what a killed run left.
    """
    text = (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()
    prefix = f".{path.name}."
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        sweep(path.parent, prefix)
        with locked_temp_file(path.parent, prefix, ".tmp") as temp:
            temp.handle.write(text)
            temp.handle.flush()
            temp.path.replace(path)
    except OSError as err:
        raise DiskWriteError(path.parent, err, what=f"the state file {path.name}") from err
