"""Nothing changed, nothing done: skip a ``pack`` whose inputs and outputs are as last time.

After a successful pack, rockpack records a fingerprint in ``.rockpack/noop-fingerprint.json``:
a digest of every input the pack depends on (the project file's bytes and validated model,
the options, rockpack's own code, the environment) and of the stat data of the trees it
read and wrote (the project dir, local sources outside it, everything in ``.rockpack`` but
the work dirs, of those the prime dirs and craft-parts' state files, and the user's
rockpack config), and, for each .rock written, its stat data, manifest digest and (when
small) sha256. A later pack with the same fingerprint and the same .rock files returns
those files without running the lifecycle or writing a layer. ``rockpack.pack.pack`` is
wrapped with ``skip_when_unchanged``.

It decides from stat data alone: a file's ``(mode, uid, gid, nlink, size, mtime_ns,
ctime_ns, inode)``. ``ctime`` moves on any change to a file's data or metadata and cannot be
set back, so an equal stat is an unchanged file (the layer cache relies on the same fact).
Any doubt means the normal path: a missing or unreadable fingerprint, a tree that cannot be
walked, ``--refresh-base``, a shell option, a clean-build instance, a source file that
changed while the pack ran (then nothing is recorded).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import stat
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from rockpack.build.lifecycle import ShellOptions
    from rockpack.project.model import LoadedProject


class BuildOptions(Protocol):
    """What this module reads of ``rockpack.pack.BuildOptions`` (a frozen dataclass)."""

    @property
    def refresh_base(self) -> bool: ...

    @property
    def shell(self) -> ShellOptions: ...


FINGERPRINT_NAME = "noop-fingerprint.json"
FORMAT = 1
STATE_DIR_NAME = ".rockpack"  # rockpack.build.workspace.STATE_DIR_NAME, without its imports
# A .rock this small is hashed again on every check; a larger one is trusted by its stat.
REHASH_LIMIT = 32 * 1024 * 1024

# The environment that can change what a pack does when the lifecycle has nothing to do:
# rockpack's and craft-parts' own variables, the source date, where caches and configs
# live, which Python code runs, locale, proxies and certificates. Others (a CI job's id,
# a shell's OLDPWD, pytest's current test) change on every run and never change a rock.
ENV_PREFIXES = ("ROCKPACK_", "CRAFT_", "SNAPCRAFT_", "XDG_", "LC_", "PYTHON", "SSL_", "LD_")
ENV_NAMES = frozenset(
    {
        "SOURCE_DATE_EPOCH",
        "HOME",
        "PATH",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TMPDIR",
        "USER",
        "LOGNAME",
        "VIRTUAL_ENV",
        "UNIXCONFDIR",
        "REGISTRY_AUTH_FILE",
        "DOCKER_CONFIG",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        *(f"{name}_proxy" for name in ("http", "https", "ftp", "no", "all")),
        *(f"{name}_PROXY" for name in ("HTTP", "HTTPS", "FTP", "NO", "ALL")),
    }
)


def environment_that_matters(environ: Mapping[str, str]) -> list[tuple[str, str]]:
    return sorted(
        (name, value)
        for name, value in environ.items()
        if name in ENV_NAMES or name.startswith(ENV_PREFIXES)
    )


Options = TypeVar("Options", bound=BuildOptions)


# stat data


Line = tuple[str, tuple[int, ...]]  # a path and its stat fields


def tree_lines(
    root: Path, *, skip: frozenset[str] = frozenset(), dir_times: bool = False
) -> Iterator[Line]:
    """One line per entry under ``root`` (itself included), sorted, from lstat alone.

    Directories give their mode and owner only (their times move when a .rock is written
    beside the sources), or, with ``dir_times`` (for trees a pack leaves alone: prime dirs,
    state files), their times too; every other entry gives its full stat. ``skip`` names
    paths (as strings) left out.
    """
    try:
        st = os.lstat(root)
    except FileNotFoundError:
        yield str(root), ()
        return
    yield _line(str(root), st, dir_times)
    if stat.S_ISDIR(st.st_mode):
        yield from _walk(str(root), skip, dir_times)


def _walk(directory: str, skip: frozenset[str], dir_times: bool) -> Iterator[Line]:
    with os.scandir(directory) as scan:
        entries = sorted(scan, key=lambda e: e.name)
    for entry in entries:
        if entry.path in skip:
            continue
        st = entry.stat(follow_symlinks=False)
        yield _line(entry.path, st, dir_times)
        if stat.S_ISDIR(st.st_mode):
            yield from _walk(entry.path, skip, dir_times)


def _line(path: str, st: os.stat_result, dir_times: bool) -> Line:
    if stat.S_ISDIR(st.st_mode) and not dir_times:
        fields: tuple[int, ...] = (st.st_mode, st.st_uid, st.st_gid)
    else:
        fields = (
            st.st_mode,
            st.st_uid,
            st.st_gid,
            st.st_nlink,
            st.st_size,
            st.st_mtime_ns,
            st.st_ctime_ns,
            st.st_ino,
        )
    return path, fields


def _encoded(line: Line) -> bytes:
    return f"{line[0]}\0{line[1]}\n".encode(errors="surrogateescape")


def _without_links(line: Line) -> Line:
    """A line without the link count and ctime, which the lifecycle changes by hardlinking
    a local source's files into its work dirs (an edit still moves mtime or size)."""
    path, fields = line
    if len(fields) == 8:
        return path, (*fields[:3], *fields[4:6], fields[7])
    return line


def code_digest() -> str:
    """rockpack's own code, by the stat data of its modules (an edited checkout counts)."""
    package_dir = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for directory, dirs, files in os.walk(package_dir):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py") or name.endswith(".json"):
                path = Path(directory, name)
                digest.update(_encoded(_line(str(path), path.lstat(), True)))
    return digest.hexdigest()


# what the pack reads and writes


def local_sources(loaded: LoadedProject) -> list[Path]:
    """The parts' local sources that lie outside the project dir (inside it, the project
    dir's own walk covers them)."""
    project_dir = loaded.project_dir.resolve()
    found = []
    for spec in loaded.project.parts.values():
        source = spec.get("source") if isinstance(spec, Mapping) else None
        if not isinstance(source, str) or "://" in source or source.startswith("git@"):
            continue
        path = (project_dir / source).resolve()
        if not path.is_relative_to(project_dir):
            found.append(path)
    return sorted(set(found))


def source_listing(loaded: LoadedProject, rocks: frozenset[Path]) -> Iterator[Line]:
    """The stat lines of what the lifecycle reads: the project dir (without rockpack's
    state dir and the .rock files it wrote) and local sources outside it."""
    project_dir = loaded.project_dir.resolve()
    skip = frozenset({str(project_dir / STATE_DIR_NAME), *map(str, rocks)})
    yield from tree_lines(project_dir, skip=skip)
    for source in local_sources(loaded):
        yield from tree_lines(source, skip=skip)


@dataclass
class SourceSummary:
    """A source listing without link counts and ctimes (see ``_without_links``): a digest
    of its lines but those of ``.rock`` files, and those lines, which are few and which
    the comparison filters by the rocks a pack wrote."""

    digest: str
    rock_lines: list[Line]

    def without(self, rocks: tuple[str, ...]) -> tuple[str, list[Line]]:
        return self.digest, [line for line in self.rock_lines if not _skipped(line[0], rocks)]


def summarise(lines: Iterable[Line], key: Any = None) -> SourceSummary:
    """The summary of ``lines``, in one pass and little memory; each full line also goes
    into ``key`` (a hash) when given."""
    digest = hashlib.sha256()
    rock_lines = []
    for line in lines:
        if key is not None:
            key.update(_encoded(line))
        if line[0].endswith(".rock"):
            rock_lines.append(_without_links(line))
        else:
            digest.update(_encoded(_without_links(line)))
    return SourceSummary(digest.hexdigest(), rock_lines)


def state_listing(project_dir: Path, environ: Mapping[str, str]) -> Iterator[Line]:
    """The stat lines of what the lifecycle wrote and the packing read: rockpack's state
    dir (the blob store, the layer and digest caches, the base pins; of the work dirs,
    every platform's prime dir and craft-parts' state files), and rockpack's user config
    (base aliases, trusted Pebble digests)."""
    state_dir = project_dir.resolve() / STATE_DIR_NAME
    for entry in sorted(state_dir.iterdir()):
        if entry.name in ("lock", FINGERPRINT_NAME) or entry.name.startswith(
            f".{FINGERPRINT_NAME}."
        ):
            continue
        if entry.name != "work" or entry.is_symlink() or not entry.is_dir():
            yield from tree_lines(entry)
            continue
        for platform in sorted(entry.iterdir()):
            yield from tree_lines(platform / "prime", dir_times=True)
            parts = platform / "parts"
            for part in sorted(parts.iterdir()) if parts.is_dir() else []:
                yield from tree_lines(part / "state", dir_times=True)
    config = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    yield from tree_lines(Path(config, "rockpack"))


def input_digest(
    loaded: LoadedProject,
    options: BuildOptions,
    output: Path | None,
    environ: Mapping[str, str],
) -> str | None:
    """A digest of everything but the trees that decides the rock; None: never skip."""
    if options.refresh_base or any(dataclasses.asdict(options.shell).values()):
        return None  # a new base is wanted, or a shell: the lifecycle runs
    if environ.get("ROCKPACK_MANAGED") == "1":  # a clean-build instance reports its digest
        return None
    from rockpack import __version__

    model = loaded.project.model_dump(mode="json", by_alias=True)
    facts = {
        "format": FORMAT,
        "rockpack": __version__,
        "code": code_digest(),
        "python": [sys.executable, sys.version],
        "project_file": str(loaded.path.resolve()),
        "project_bytes": hashlib.sha256(loaded.path.read_bytes()).hexdigest(),
        "project": model,
        "options": repr(dataclasses.replace(options, refresh_base=False)),  # type: ignore[type-var]
        "output": str(output.resolve()) if output is not None else None,
        "env": environment_that_matters(environ),
        "ids": [os.getuid(), os.getgid()],
    }
    text = json.dumps(facts, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode(errors="surrogateescape")).hexdigest()


def _key(inputs: str, sources: Iterable[Line], state: Iterable[Line]) -> str:
    digest = hashlib.sha256(inputs.encode())
    for line in sources:
        digest.update(_encoded(line))
    return _finish_key(digest, state)


def _finish_key(digest: Any, state: Iterable[Line]) -> str:
    digest.update(b"\0state\0")
    for line in state:
        digest.update(_encoded(line))
    return str(digest.hexdigest())


# the .rock files


def _file_digest(path: Path) -> str:
    with path.open("rb") as handle:
        return "sha256:" + hashlib.file_digest(handle, "sha256").hexdigest()


def _rock_record(path: Path) -> dict[str, Any]:
    st = path.stat()
    return {
        "path": str(path.resolve()),
        "stat": [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino],
        "digest": _file_digest(path) if st.st_size <= REHASH_LIMIT else None,
        "manifest": _manifest_digest(path),
    }


def _manifest_digest(path: Path) -> str | None:
    """The digest of the rock's first manifest, for the message; None if not found."""
    import tarfile

    try:
        with tarfile.open(path, "r:") as archive:
            member = archive.extractfile("index.json")
            if member is None:
                return None
            digest = json.load(member)["manifests"][0]["digest"]
            return digest if isinstance(digest, str) else None
    except (OSError, KeyError, IndexError, ValueError, tarfile.TarError):
        return None


def _rock_unchanged(record: Mapping[str, Any]) -> bool:
    """The .rock is there with the same stat data, the same manifest and, when small enough
    to hash on every check, the same bytes."""
    path = Path(record["path"])
    try:
        st = path.stat()
    except OSError:
        return False
    if [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino] != record["stat"]:
        return False
    if record["manifest"] is None or _manifest_digest(path) != record["manifest"]:
        return False
    return st.st_size > REHASH_LIMIT or _file_digest(path) == record["digest"]


# check and record


def fingerprint_path(project_dir: Path) -> Path:
    return project_dir / STATE_DIR_NAME / FINGERPRINT_NAME


def _usable_state_dir(project_dir: Path) -> bool:
    """rockpack writes only into a real ``.rockpack`` directory, never through a symlink."""
    state_dir = project_dir / STATE_DIR_NAME
    return state_dir.is_dir() and not state_dir.is_symlink()


def unchanged_rocks(
    loaded: LoadedProject, inputs: str, environ: Mapping[str, str]
) -> list[dict[str, Any]] | None:
    """The records of the last pack's .rock files when nothing changed since; else None."""
    project_dir = loaded.project_dir
    if not _usable_state_dir(project_dir):
        return None
    try:
        recorded = json.loads(fingerprint_path(project_dir).read_text())
        if recorded.get("format") != FORMAT:
            return None
        rocks = recorded["rocks"]
        if not rocks or not all(_rock_unchanged(rock) for rock in rocks):
            return None
        rock_paths = frozenset(Path(rock["path"]) for rock in rocks)
        sources = source_listing(loaded, rock_paths)
        if _key(inputs, sources, state_listing(project_dir, environ)) != recorded["key"]:
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return list(rocks)


def forget(project_dir: Path) -> None:
    """Drop the fingerprint (before a pack that may fail half-way)."""
    if _usable_state_dir(project_dir):
        fingerprint_path(project_dir).unlink(missing_ok=True)


def record(
    loaded: LoadedProject,
    inputs: str,
    environ: Mapping[str, str],
    before: SourceSummary,
    rocks: list[Path],
) -> bool:
    """Record the fingerprint of a successful pack, unless a source changed while it ran
    (``before`` summarises the source listing taken before the lifecycle). True if
    recorded."""
    project_dir = loaded.project_dir
    if not rocks or not _usable_state_dir(project_dir):
        return False
    rock_paths = frozenset(path.resolve() for path in rocks)
    skip = tuple(str(path) for path in rock_paths)
    key = hashlib.sha256(inputs.encode())
    after = summarise(source_listing(loaded, rock_paths), key)
    if before.without(skip) != after.without(skip):
        return False
    content = {
        "format": FORMAT,
        "key": _finish_key(key, state_listing(project_dir, environ)),
        "rocks": [_rock_record(path) for path in rocks],
    }
    target = fingerprint_path(project_dir)
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(temp, flags, 0o644)
    with os.fdopen(fd, "w") as handle:
        json.dump(content, handle)
    temp.replace(target)
    return True


def _skipped(path: str, skip: tuple[str, ...]) -> bool:
    return any(path == s or path.startswith(s + "/") for s in skip)


def skip_when_unchanged(
    pack: Callable[[LoadedProject, Options, Path | None], list[Path]],
) -> Callable[[LoadedProject, Options, Path | None], list[Path]]:
    """Wrap ``pack``: return the last .rock files when nothing changed, else pack and
    record the fingerprint of the result."""

    @functools.wraps(pack)
    def wrapper(loaded: LoadedProject, options: Options, output: Path | None) -> list[Path]:
        try:
            environ = dict(os.environ)  # the lifecycle changes PATH while it runs
            inputs = input_digest(loaded, options, output, environ)
        except (OSError, ValueError, TypeError):
            inputs = None
        if inputs is None:
            return pack(loaded, options, output)
        unchanged = unchanged_rocks(loaded, inputs, environ)
        if unchanged is not None:
            _report_unchanged(unchanged)
            return [Path(rock["path"]) for rock in unchanged]
        try:
            forget(loaded.project_dir)
            before = summarise(source_listing(loaded, frozenset()))
        except OSError:
            return pack(loaded, options, output)
        rocks = pack(loaded, options, output)
        try:
            record(loaded, inputs, environ, before, rocks)
        except OSError:
            forget(loaded.project_dir)
        return rocks

    return wrapper


def _report_unchanged(rocks: list[dict[str, Any]]) -> None:
    from craft_cli import emit

    for rock in rocks:
        emit.message(
            f"Packed {rock['path']} ({rock['manifest']}): nothing changed since the last pack"
        )
