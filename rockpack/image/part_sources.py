"""The sources the parts were built from, as the provenance names them: where each came
from (never an absolute host path, never a password) and its digest or commit.

- a git source: the commit craft-parts checked out (``source-commit``, else the HEAD of
  the pulled checkout);
- a file or archive with ``source-checksum``: that checksum;
- anything else that was pulled (a local directory, an archive without checksum): the
  git tree hash (``gitTree``) of what craft-parts pulled into ``parts/<name>/src``, the
  digest ``git write-tree`` gives for the same files, so it does not depend on where the
  project is or on file times.

A URL keeps its scheme, host and path: user info and query (where tokens live) are
dropped. A local path is kept relative to the project directory, or, outside it, only
its last component.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MAX_HEAD_BYTES = 4096
_GIT_TYPES = ("git",)


@dataclass(frozen=True)
class PartSource:
    part: str
    uri: str
    digest: dict[str, str] = field(default_factory=dict)


def part_sources(
    parts: Mapping[str, Mapping[str, Any]], parts_dir: Path, project_dir: Path
) -> list[PartSource]:
    """Each part with a source, in name order."""
    found = []
    for name in sorted(parts):
        spec = parts[name]
        source = spec.get("source")
        if not isinstance(source, str) or not source:
            continue
        pulled = parts_dir / name / "src"
        found.append(
            PartSource(name, source_uri(source, project_dir), _digest(spec, source, pulled))
        )
    return found


def source_uri(source: str, project_dir: Path) -> str:
    """``source`` without secrets or host paths."""
    if "://" in source:
        parts = urlsplit(source)
        host = parts.hostname or ""
        netloc = host + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    if source.startswith("git@") or ("@" in source and ":" in source.split("/", 1)[0]):
        return source.split("@", 1)[1]  # scp-like git: drop the user
    path = Path(source)
    if not path.is_absolute():
        return PurePosixPath(source).as_posix()
    try:
        return path.resolve().relative_to(project_dir.resolve()).as_posix()
    except ValueError:
        return path.name  # outside the project: its name only, not where it lives


def _digest(spec: Mapping[str, Any], source: str, pulled: Path) -> dict[str, str]:
    checksum = spec.get("source-checksum")
    if isinstance(checksum, str) and "/" in checksum:
        algorithm, _, value = checksum.partition("/")
        return {algorithm.lower(): value.lower()}
    kind = spec.get("source-type") or ("git" if _looks_like_git(source) else "")
    if kind in _GIT_TYPES:
        commit = spec.get("source-commit")
        commit = commit if isinstance(commit, str) and commit else git_head(pulled / ".git")
        return {"gitCommit": commit} if commit else {}
    if pulled.is_dir():
        return {"gitTree": git_tree(pulled)}
    return {}


def _looks_like_git(source: str) -> bool:
    return source.endswith(".git") or source.startswith(("git://", "git@", "git+"))


def git_head(git_dir: Path) -> str:
    """The commit HEAD names in ``git_dir``: a detached id, a loose ref or a packed one."""
    try:
        head = (git_dir / "HEAD").read_text(errors="replace")[:MAX_HEAD_BYTES].strip()
        if not head.startswith("ref: "):
            return head if _is_commit(head) else ""
        ref = head[5:].strip()
        loose = git_dir / ref
        if loose.is_file():
            value = loose.read_text(errors="replace")[:MAX_HEAD_BYTES].strip()
            return value if _is_commit(value) else ""
        packed = git_dir / "packed-refs"
        for line in packed.read_text(errors="replace").splitlines() if packed.is_file() else []:
            value, _, name = line.partition(" ")
            if name.strip() == ref and _is_commit(value):
                return value
    except OSError:
        return ""
    return ""


def _is_commit(text: str) -> bool:
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text)


def git_tree(directory: Path) -> str:
    """The git tree object id (SHA-1) of ``directory``'s files, as ``git write-tree``
    gives it for them: regular files (executable or not) and symlinks; empty directories
    and ``.git`` left out, as git leaves them out."""
    return (
        _tree(directory, top=True) or hashlib.sha1(b"tree 0\0", usedforsecurity=False).hexdigest()
    )


def _tree(directory: Path, *, top: bool = False) -> str:
    entries: list[tuple[bytes, bytes, bytes]] = []  # (sort key, mode, raw id)
    with os.scandir(directory) as listing:
        items = list(listing)
    for item in items:
        if top and item.name == ".git":
            continue
        name = os.fsencode(item.name)
        st = item.stat(follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            child = _tree(Path(item.path))
            if child:
                entries.append((name + b"/", b"40000", bytes.fromhex(child)))
        elif stat.S_ISLNK(st.st_mode):
            entries.append((name, b"120000", _blob(os.fsencode(os.readlink(item.path)))))
        elif stat.S_ISREG(st.st_mode):
            mode = b"100755" if st.st_mode & 0o100 else b"100644"
            entries.append((name, mode, _file_blob(Path(item.path), st.st_size)))
    if not entries:
        return ""
    body = b"".join(
        mode + b" " + key.rstrip(b"/") + b"\0" + raw for key, mode, raw in sorted(entries)
    )
    return hashlib.sha1(b"tree %d\0" % len(body) + body, usedforsecurity=False).hexdigest()


def _blob(data: bytes) -> bytes:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).digest()


def _file_blob(path: Path, size: int) -> bytes:
    digest = hashlib.sha1(b"blob %d\0" % size, usedforsecurity=False)
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.digest()
