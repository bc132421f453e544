"""Python distributions in the prime dir: each ``*.dist-info`` directory's METADATA
(name, version, licence) and RECORD (the files it installed).

RECORD paths are relative to the directory holding the ``.dist-info`` (the site
directory), and may climb out of it (``../../../bin/flask``); they are resolved to
prime-relative paths, and any that would leave the prime dir are ignored.
"""

from __future__ import annotations

import csv
import posixpath
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path

from rockpack.image.sbom.licenses import python_license

MAX_METADATA_BYTES = 1024 * 1024  # the headers; a long description follows them
MAX_RECORD_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class PythonDist:
    directory: str  # prime-relative path of the .dist-info
    name: str
    version: str
    license: str | None
    files: frozenset[str]


def read_dist_info(prime_dir: Path, directory: str) -> PythonDist | None:
    """The distribution in ``directory`` (a ``*.dist-info``), or None without a name and
    version."""
    raw = _read(prime_dir / directory / "METADATA", MAX_METADATA_BYTES)
    headers = raw.decode("utf-8", "replace").replace("\r\n", "\n").split("\n\n", 1)[0]
    message = HeaderParser().parsestr(headers + "\n")
    name, version = (message.get("Name") or "").strip(), (message.get("Version") or "").strip()
    if not name or not version:
        return None
    licence = python_license(
        message.get("License-Expression"),
        message.get("License"),
        [str(c).strip() for c in message.get_all("Classifier") or []],
    )
    return PythonDist(directory, name, version, licence, _record(prime_dir, directory))


def _record(prime_dir: Path, directory: str) -> frozenset[str]:
    site = posixpath.dirname(directory)
    text = _read(prime_dir / directory / "RECORD", MAX_RECORD_BYTES).decode("utf-8", "replace")
    files = {f"{directory}/RECORD"}
    for row in csv.reader(text.splitlines()):
        if not row or not row[0] or row[0].startswith("/"):
            continue
        path = posixpath.normpath(posixpath.join(site, row[0]))
        if path != ".." and not path.startswith("../"):
            files.add(path)
    return frozenset(files)


def _read(path: Path, limit: int) -> bytes:
    if path.is_symlink() or not path.is_file():
        return b""
    with path.open("rb") as handle:
        return handle.read(limit)
