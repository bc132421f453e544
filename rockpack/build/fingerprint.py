"""Nothing changed, nothing done: skip a ``pack`` whose inputs and outputs are as last time.

After a successful pack, rockpack records a fingerprint in ``.rockpack/noop-fingerprint.json``:
a digest of every input the pack depends on (the project file's bytes and validated model,
the options, rockpack's own code, the Python and library directories it runs on, the
environment) and of the stat data of the trees it read and wrote (the project dir, local
sources outside it, everything in ``.rockpack`` but the work dirs, of those the prime dirs
and craft-parts' state files, and the user's rockpack config), and, for each .rock
written, its stat data, manifest digest and (when small) sha256. A later pack with the
same fingerprint and the same .rock files returns those files without running the
lifecycle or writing a layer. ``rockpack.pack.pack`` is wrapped with
``skip_when_unchanged``.

It decides from stat data alone: a file's ``(mode, uid, gid, nlink, size, mtime_ns,
ctime_ns, inode)``. ``ctime`` moves on any change to a file's data or metadata and cannot be
set back, so an equal stat is an unchanged file (the layer cache relies on the same fact).
Any doubt means the normal path: a missing or unreadable fingerprint, a tree that cannot be
walked, ``--refresh-base``, a shell option, a clean-build instance, a source file that
changed while the pack ran (then nothing is recorded).

The fingerprint also records the digest of the command-line request the pack served, so
that ``rockpack.build.noop_request`` can answer the same request again before the project
is even loaded (``recorded_unchanged``).
"""

from __future__ import annotations

import contextlib
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
    from rockpack.build.steps import ShellOptions
    from rockpack.project.model import LoadedProject


class BuildOptions(Protocol):
    """What this module reads of ``rockpack.pack.BuildOptions`` (a frozen dataclass)."""

    @property
    def refresh_base(self) -> bool: ...

    @property
    def shell(self) -> ShellOptions: ...


FINGERPRINT_NAME = "noop-fingerprint.json"
FORMAT = 2
STATE_DIR_NAME = ".rockpack"  # rockpack.build.workspace.STATE_DIR_NAME, without its imports
# A .rock this small is hashed again on every check; a larger one is trusted by its stat.
REHASH_LIMIT = 32 * 1024 * 1024
PEBBLE_SOURCE_ENV = "ROCKPACK_PEBBLE_SOURCE"  # rockpack.pebble.release.SOURCE_ENV, unimported
INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"  # without rockpack.oci's imports
MAX_INDEX_READ = 1024 * 1024  # index.json, or the index of one image and its attestations

# The environment that can change what a pack does when the lifecycle has nothing to do:
# rockpack's, Rockcraft's (the extensions read ROCKCRAFT_ENABLE_EXPERIMENTAL_EXTENSIONS) and
# craft-parts' own variables, the source date, where caches and configs live, which Python
# code runs, locale, proxies and certificates. Others (a CI job's id, a shell's OLDPWD,
# pytest's current test) change on every run and never change a rock.
ENV_PREFIXES = (
    "ROCKPACK_",
    "ROCKCRAFT_",
    "CRAFT_",
    "SNAPCRAFT_",
    "XDG_",
    "LC_",
    "PYTHON",
    "SSL_",
    "LD_",
)
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
Options_contra = TypeVar("Options_contra", bound=BuildOptions, contravariant=True)


class Packer(Protocol[Options_contra]):
    """``rockpack.pack.pack`` wrapped: ``request`` is the request digest to record."""

    def __call__(
        self,
        loaded: LoadedProject,
        options: Options_contra,
        output: Path | None,
        /,
        *,
        request: str | None = None,
    ) -> list[Path]: ...


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


def library_lines() -> list[Line]:
    """The stat data of the directories Python imports libraries from (craft-parts,
    pydantic, ...): installing, upgrading or removing a package changes their times."""
    found = []
    for entry in map(Path, sys.path):
        if entry.name in ("site-packages", "dist-packages"):
            with contextlib.suppress(OSError):
                found.append(_line(str(entry), entry.stat(), True))
    return found


def common_facts(environ: Mapping[str, str]) -> dict[str, Any]:
    """The inputs every pack depends on, whatever the project: rockpack's code, the
    libraries and Python it runs on, the environment that matters, who runs it."""
    from rockpack import __version__

    return {
        "format": FORMAT,
        "rockpack": __version__,
        "code": code_digest(),
        "libraries": library_lines(),
        "python": [sys.executable, sys.version],
        "env": environment_that_matters(environ),
        "ids": [os.getuid(), os.getgid()],
    }


def digest_of(facts: Mapping[str, Any]) -> str:
    text = json.dumps(facts, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode(errors="surrogateescape")).hexdigest()


# what the pack reads and writes


def outside_sources(loaded: LoadedProject) -> list[tuple[str, str]]:
    """The parts' local sources that lie outside the project dir (inside it, the project
    dir's own walk covers them): each as joined to the project dir, and resolved."""
    project_dir = loaded.project_dir.resolve()
    found = set()
    for spec in loaded.project.parts.values():
        source = spec.get("source") if isinstance(spec, Mapping) else None
        if not isinstance(source, str) or "://" in source or source.startswith("git@"):
            continue
        joined = project_dir / source
        path = _real(joined)
        if not path.is_relative_to(project_dir):
            found.add((str(joined), str(path)))
    return sorted(found)


def local_sources(loaded: LoadedProject) -> list[Path]:
    return sorted({Path(resolved) for _, resolved in outside_sources(loaded)})


def source_listing(loaded: LoadedProject, rocks: frozenset[Path]) -> Iterator[Line]:
    """The stat lines of what the lifecycle reads: the project dir (without rockpack's
    state dir and the .rock files it wrote) and local sources outside it."""
    return _source_lines(loaded.project_dir.resolve(), local_sources(loaded), rocks)


def _source_lines(project_dir: Path, outside: list[Path], rocks: frozenset[Path]) -> Iterator[Line]:
    skip = frozenset({str(project_dir / STATE_DIR_NAME), *map(str, rocks)})
    yield from tree_lines(project_dir, skip=skip)
    for source in outside:
        yield from tree_lines(source, skip=skip)


@dataclass
class SourceSummary:
    """A source listing without link counts and ctimes (see ``_without_links``): a digest
    of its lines but those of ``.rock`` files, and those lines, which are few and which
    the comparison filters by the rocks a pack wrote; and the paths of its symlinks."""

    digest: str
    rock_lines: list[Line]
    links: list[str] = dataclasses.field(default_factory=list)

    def without(self, rocks: tuple[str, ...]) -> tuple[str, list[Line]]:
        return self.digest, [line for line in self.rock_lines if not _skipped(line[0], rocks)]


def summarise(lines: Iterable[Line], key: Any = None) -> SourceSummary:
    """The summary of ``lines``, in one pass and little memory; each full line also goes
    into ``key`` (a hash) when given."""
    digest = hashlib.sha256()
    rock_lines = []
    links = []
    for line in lines:
        if key is not None:
            key.update(_encoded(line))
        if line[0].endswith(".rock"):
            rock_lines.append(_without_links(line))
        else:
            digest.update(_encoded(_without_links(line)))
        if line[1] and stat.S_ISLNK(line[1][0]):
            links.append(line[0])
    return SourceSummary(digest.hexdigest(), rock_lines, links)


def links_out(loaded: LoadedProject, links: Iterable[str]) -> bool:
    """Whether one of ``links`` in the project dir (but the project file, whose bytes are
    read) leads out of it. The stat walk sees such a link, not what it leads to, and the
    model may depend on what it leads to: extensions read files of the project dir."""
    project_dir = loaded.project_dir.resolve()
    project_file = project_dir / loaded.path.name
    inside = (
        link
        for link in map(Path, links)
        if link != project_file and link.is_relative_to(project_dir)
    )
    return any(not _real(link).is_relative_to(project_dir) for link in inside)


def _real(path: Path) -> Path:
    """``path`` resolved; unlike ``Path.resolve`` on Python 3.11, a symlink loop is not
    an error (the loop's path is returned)."""
    return Path(os.path.realpath(path))


def state_listing(project_dir: Path, environ: Mapping[str, str]) -> Iterator[Line]:
    """The stat lines of what the lifecycle wrote and the packing read: rockpack's state
    dir (the blob store, the layer and digest caches, the base pins; of the work dirs,
    every platform's prime dir and craft-parts' state files), rockpack's user config
    (base aliases, trusted Pebble digests), and the local Pebble ROCKPACK_PEBBLE_SOURCE
    names."""
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
    pebble = environ.get(PEBBLE_SOURCE_ENV, "").strip()
    if pebble and "://" not in pebble:  # a local Pebble: the binary, or what holds it
        yield from tree_lines(_real(Path(pebble).expanduser()), dir_times=True)


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
    model = loaded.project.model_dump(mode="json", by_alias=True)
    facts = {
        **common_facts(environ),
        "project_file": str(loaded.path.resolve()),
        "project_bytes": hashlib.sha256(loaded.path.read_bytes()).hexdigest(),
        "project": model,
        "options": repr(dataclasses.replace(options, refresh_base=False)),  # type: ignore[type-var]
        "output": str(output.resolve()) if output is not None else None,
    }
    return digest_of(facts)


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
    """The digest ``pack`` printed for the rock, for the message: its index's image (the
    image of an index that also lists attestations); None if not found."""
    import tarfile

    try:
        with tarfile.open(path, "r:") as archive:
            top = _first_entry(archive, "index.json")
            if top.get("mediaType") == INDEX_MEDIA_TYPE:
                top = _first_entry(archive, f"blobs/sha256/{str(top['digest'])[7:]}")
            digest = top["digest"]
            return digest if isinstance(digest, str) else None
    except (OSError, KeyError, IndexError, ValueError, TypeError, AttributeError, tarfile.TarError):
        return None


def _first_entry(archive: Any, name: str) -> dict[str, Any]:
    """The first entry of an index in ``archive`` (KeyError when there is none)."""
    member = archive.extractfile(name)
    if member is None:
        raise KeyError(name)
    entry = json.loads(member.read(MAX_INDEX_READ))["manifests"][0]
    if not isinstance(entry, dict):
        raise KeyError(name)
    return entry


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


def _recorded(project_dir: Path) -> dict[str, Any] | None:
    """The last pack's fingerprint, if its .rock files are there unchanged; else None."""
    if not _usable_state_dir(project_dir):
        return None
    recorded = json.loads(fingerprint_path(project_dir).read_text())
    if not isinstance(recorded, dict) or recorded.get("format") != FORMAT:
        return None
    rocks = recorded["rocks"]
    if not rocks or not all(_rock_unchanged(rock) for rock in rocks):
        return None
    return recorded


def _rock_paths(recorded: Mapping[str, Any]) -> frozenset[Path]:
    return frozenset(Path(rock["path"]) for rock in recorded["rocks"])


def unchanged_rocks(
    loaded: LoadedProject, inputs: str, environ: Mapping[str, str]
) -> list[dict[str, Any]] | None:
    """The records of the last pack's .rock files when nothing changed since; else None."""
    project_dir = loaded.project_dir
    try:
        recorded = _recorded(project_dir)
        if recorded is None:
            return None
        sources = source_listing(loaded, _rock_paths(recorded))
        if _key(inputs, sources, state_listing(project_dir, environ)) != recorded["key"]:
            return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return list(recorded["rocks"])


@dataclass(frozen=True)
class Unchanged:
    """What the last pack reported: its .rock files' records, and the project's warnings."""

    rocks: list[dict[str, Any]]
    warnings: list[str]


def recorded_unchanged(
    project_dir: Path, request: str, environ: Mapping[str, str]
) -> Unchanged | None:
    """The last pack's report when it served the same ``request`` (see
    ``rockpack.build.noop_request``) and nothing changed since; else None.

    The project is not loaded: the same request (project file bytes, flags, environment,
    code, libraries) over the same trees validates to the same model, so the recorded
    inputs digest stands for it. The sources outside the project dir are the recorded
    ones, each still resolving to where it did.
    """
    try:
        recorded = _recorded(project_dir)
        if recorded is None or recorded.get("request") != request:
            return None
        inputs = recorded["inputs"]
        outside = set()
        for joined, resolved in recorded["outside"]:
            if str(_real(Path(joined))) != resolved:
                return None  # a symlink on the way to the source moved
            outside.add(Path(resolved))
        sources = _source_lines(project_dir.resolve(), sorted(outside), _rock_paths(recorded))
        if _key(inputs, sources, state_listing(project_dir, environ)) != recorded["key"]:
            return None
        return Unchanged(list(recorded["rocks"]), [str(w) for w in recorded["warnings"]])
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RuntimeError):
        return None  # RuntimeError: Path.resolve's symlink loop


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
    request: str | None = None,
) -> bool:
    """Record the fingerprint of a successful pack, unless a source changed while it ran
    (``before`` summarises the source listing taken before the lifecycle). True if
    recorded. With ``request``, the same request can be answered before loading the
    project: the inputs digest, the outside sources and the warnings are kept for it
    (unless a symlink leads out of the project dir: see ``links_out``)."""
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
        "request": None if links_out(loaded, after.links) else request,
        "inputs": inputs,
        "outside": outside_sources(loaded),
        "warnings": list(loaded.warnings),
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
) -> Packer[Options]:
    """Wrap ``pack``: return the last .rock files when nothing changed, else pack and
    record the fingerprint of the result (and ``request``, the digest of the command-line
    request it served, if given)."""

    @functools.wraps(pack)
    def wrapper(
        loaded: LoadedProject,
        options: Options,
        output: Path | None,
        *,
        request: str | None = None,
    ) -> list[Path]:
        try:
            environ = dict(os.environ)  # the lifecycle changes PATH while it runs
            inputs = input_digest(loaded, options, output, environ)
        except (OSError, ValueError, TypeError):
            inputs = None
        if inputs is None:
            return pack(loaded, options, output)
        unchanged = unchanged_rocks(loaded, inputs, environ)
        if unchanged is not None:
            report_unchanged(unchanged)
            return [Path(rock["path"]) for rock in unchanged]
        try:
            forget(loaded.project_dir)
            before = summarise(source_listing(loaded, frozenset()))
        except OSError:
            return pack(loaded, options, output)
        rocks = pack(loaded, options, output)
        try:
            record(loaded, inputs, environ, before, rocks, request)
        except OSError:
            forget(loaded.project_dir)
        return rocks

    return wrapper


def report_unchanged(rocks: list[dict[str, Any]]) -> None:
    from craft_cli import emit

    for rock in rocks:
        emit.message(
            f"Packed {rock['path']} ({rock['manifest']}): nothing changed since the last pack"
        )
