"""The extensions rockpack provides, by name, and the table `list-extensions` prints."""

from __future__ import annotations

from rockpack.project.extensions import django, expressjs, fastapi, flask, go, spring_boot
from rockpack.project.extensions.framework import Extension

EXTENSIONS: dict[str, Extension] = {
    e.name: e
    for e in (
        django.EXTENSION,
        expressjs.EXTENSION,
        fastapi.EXTENSION,
        flask.EXTENSION,
        go.EXTENSION,
        spring_boot.EXTENSION,
    )
}


def extension_table() -> str:
    """One row per extension: its name, the bases it supports, its status there."""
    rows = [("Extension", "Supported bases", "Status")]
    for name in sorted(EXTENSIONS):
        extension = EXTENSIONS[name]
        status = "stable" if extension.bases else "experimental"
        if extension.bases and extension.experimental_bases:
            status += f" (experimental on {', '.join(extension.experimental_bases)})"
        rows.append((name, ", ".join(extension.all_bases), status))
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    return "\n".join(
        f"{row[0].ljust(widths[0])}  {row[1].ljust(widths[1])}  {row[2]}" for row in rows
    )
