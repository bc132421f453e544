"""A tree of awkward names and file types, and a snapshot of everything a tree keeps.

Shared by the craft-parts patch tests: each patch must leave the same tree behind as
upstream's code.
"""

# Bytes paths (names that are not UTF-8): os functions on purpose.
# ruff: noqa: PTH103, PTH118, PTH123

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

NON_UTF8 = b"caf\xe9"  # Latin-1 "café": not UTF-8


def make_awkward_tree(root: Path, *, non_utf8: bool = True) -> Path:
    """Files, directories and links whose names and types each broke something once
    (``non_utf8``: with a directory and a file whose names are not UTF-8)."""
    root.mkdir(parents=True, exist_ok=True)
    files = {
        "plain.txt": "plain\n",
        "a b/with spaces.txt": "spaces\n",
        "usr/bin/tool": "#!/bin/sh\n",
        "usr/lib/libx.so.1": "lib\n",
        "usr/lib/pkgconfig/x.pc": "prefix=/usr\nlibdir=${prefix}/lib\n",
        "usr/share/doc/x/README": "doc\n",
        "usr/share/doc/x/copyright": "(c)\n",
        "foo/one": "1\n",
        "foo/sub/two": "2\n",
        "etc/x.conf": "conf\n",
        ".hidden": "hidden\n",
        ".hdir/inner": "inner\n",
        "deep/.nested-hidden": "nested\n",
        "dash-/x": "dash\n",
        "-leading-dash": "dash\n",
        "glob[chars]/x*?": "glob\n",
        "ünïcödé/файл": "unicode\n",
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "usr/bin/tool").chmod(0o755)
    (root / "etc/x.conf").chmod(0o600)
    (root / "usr/share/doc").chmod(0o700)
    if non_utf8:
        os.makedirs(os.fsencode(root) + b"/" + NON_UTF8)
        with open(os.fsencode(root) + b"/" + NON_UTF8 + b"/" + NON_UTF8 + b".txt", "wb") as out:
            out.write(b"latin-1\n")
    (root / "empty-dir").mkdir()
    (root / "empty-parent/empty-child").mkdir(parents=True)
    os.link(root / "plain.txt", root / "hardlink-to-plain")
    os.link(root / "usr/lib/libx.so.1", root / "usr/lib/libx-hardlink.so")
    (root / "usr/lib/libx.so").symlink_to("libx.so.1")
    (root / "lib").symlink_to("usr/lib")  # a symlink to a directory inside the tree
    (root / "bin").symlink_to("usr/bin/")  # with a trailing slash
    (root / "dangling").symlink_to("does/not/exist")
    (root / "absolute-link").symlink_to("/etc/hostname")
    outside = root.parent / f"{root.name}-outside"  # a directory beside the tree
    (outside / "sub").mkdir(parents=True, exist_ok=True)
    (outside / "x").write_text("outside\n")
    (outside / "y").write_text("outside\n")
    (root / "outside-dir-link").symlink_to(f"../{outside.name}")
    (root / "loop-a").symlink_to("loop-b")
    (root / "loop-b").symlink_to("loop-a")
    os.mkfifo(root / "a-fifo")
    for path in sorted(root.rglob("*"), reverse=True):  # fixed, older mtimes
        os.utime(path, (1_600_000_000, 1_600_000_000), follow_symlinks=False)
    return root


def snapshot(root: Path) -> dict[bytes, tuple[object, ...]]:
    """Every entry under ``root``: type, mode, owner, size, contents or link target,
    mtime (not of directories, whose mtime each new entry moves), and which other
    entries of the same snapshot share its inode (hard links)."""
    entries: dict[bytes, tuple[object, ...]] = {}
    inodes: dict[int, list[bytes]] = {}
    top = os.fsencode(root)
    for dirpath, dirnames, filenames in os.walk(top):
        for name in [*dirnames, *filenames]:
            full = os.path.join(dirpath, name)
            info = os.lstat(full)
            relative = os.path.relpath(full, top)
            kind = stat.S_IFMT(info.st_mode)
            if stat.S_ISREG(info.st_mode):
                with open(full, "rb") as handle:
                    content: object = hashlib.sha256(handle.read()).hexdigest()
                inodes.setdefault(info.st_ino, []).append(relative)
            elif stat.S_ISLNK(info.st_mode):
                content = os.readlink(full)
            else:
                content = None
            mtime = None if stat.S_ISDIR(info.st_mode) else info.st_mtime_ns
            entries[relative] = (
                kind,
                stat.S_IMODE(info.st_mode),
                info.st_uid,
                info.st_gid,
                info.st_size if not stat.S_ISDIR(info.st_mode) else None,
                content,
                mtime,
            )
    links = {name: tuple(sorted(group)) for group in inodes.values() for name in group}
    return {name: (*facts, links.get(name)) for name, facts in entries.items()}


def assert_same_snapshots(
    first: dict[bytes, tuple[object, ...]], second: dict[bytes, tuple[object, ...]]
) -> None:
    """Equal snapshots; else an error that names only the entries that differ."""
    differ = {
        name: (first.get(name), second.get(name))
        for name in sorted(set(first) | set(second))
        if first.get(name) != second.get(name)
    }
    assert not differ, differ
