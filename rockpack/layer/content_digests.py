"""Content digests of primed files, remembered between packs.

Pruning against a base compares every same-sized file by content, which reads most of
the prime dir on each pack. A digest is reused while the file's size, inode, mtime and
ctime are unchanged; ctime moves on any change and cannot be set back, so a reused
digest is as good as a fresh one (the layer cache relies on the same stamp).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from rockpack.json_state import read_state, write_state
from rockpack.oci.entries import Entry

_VERSION = 1


def content_digest(entry: Entry) -> str:
    """The sha256 of a file entry's content, read from disk or held in the entry."""
    digest = hashlib.sha256()
    if entry.content is not None:
        digest.update(entry.content)
    elif entry.source is not None:
        with open(entry.source, "rb", buffering=0) as handle:  # noqa: PTH123 (str or Path)
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return "sha256:" + digest.hexdigest()


class DigestCache:
    """``digest(entry)`` as ``content_digest``, but unchanged files are not read again."""

    def __init__(self, file: Path) -> None:
        self._file = file
        state = read_state(file)
        known = state.get("files") if state.get("version") == _VERSION else None
        self._known: dict[str, list[object]] = known if isinstance(known, dict) else {}
        self._used: dict[str, list[object]] = {}

    def digest(self, entry: Entry) -> str:
        if entry.content is not None or entry.source is None or entry.stamp is None:
            return content_digest(entry)
        source = str(entry.source)
        stamp: list[object] = [entry.size, *entry.stamp]
        record = self._known.get(source)
        if isinstance(record, list) and record[:-1] == stamp and isinstance(record[-1], str):
            digest = record[-1]
        else:
            digest = content_digest(entry)
        self._used[source] = [*stamp, digest]
        return digest

    def save(self) -> None:
        """Keep the digests this pack used (files no longer primed are forgotten)."""
        if self._used != self._known:
            write_state(self._file, {"version": _VERSION, "files": self._used})
