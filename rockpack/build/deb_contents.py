"""What a staged .deb holds, read once per package and kept by its digest.

Two later stages ask a stage-package the same questions: the layer needs the setuid and
setgid files craft-parts stripped while unpacking (``package_modes``), and the SBOM needs
the package, the paths it installs and its copyright file (``image/sbom/debs``). Each
answer costs decompressing the package's data archive, so it is read here once, in one
pass, and the answer is kept in ``$XDG_CACHE_HOME/rockpack/deb-contents`` under the
.deb's sha256: the same package in another part, project or pack is not read again.
A cache entry that does not parse, or names another digest, is read afresh.
"""

from __future__ import annotations

import hashlib
from contextlib import suppress
from dataclasses import asdict, dataclass
from pathlib import Path

from rockpack.build.workspace import user_cache_dir
from rockpack.errors import LifecycleError
from rockpack.json_state import read_state, write_state
from rockpack.oci.disk import DiskWriteError

SPECIAL_BITS = 0o6000  # setuid | setgid
MAX_COPYRIGHT = 1024 * 1024  # a copyright file is text; more is not one
FORMAT = 1


@dataclass(frozen=True)
class SpecialFile:
    """A regular file the package installs with setuid or setgid."""

    path: str
    mode: int
    uid: int
    gid: int
    size: int


@dataclass(frozen=True)
class DebContents:
    sha256: str  # of the .deb
    control: str  # its control file
    files: tuple[str, ...]  # the paths it installs, directories left out, sorted
    copyright: str | None  # usr/share/doc/<package>/copyright, when it ships one
    special: tuple[SpecialFile, ...]


def deb_contents(deb: Path) -> DebContents:
    """The contents of ``deb``, from the cache when its digest is there."""
    digest = _sha256(deb)
    cached = _cached(digest)
    if cached is not None:
        return cached
    contents = _read(deb, digest)
    _store(contents)
    return contents


def _read(deb: Path, digest: str) -> DebContents:
    import apt_inst  # python-apt: Debian's own reader of .deb archives

    try:
        archive = apt_inst.DebFile(str(deb))
        control = archive.control.extractdata("control").decode("utf-8", "replace")
        copyright_path = f"usr/share/doc/{_package_name(control)}/copyright"
        files: set[str] = set()
        special: list[SpecialFile] = []
        copyright: list[str] = []

        def visit(member: object, data: bytes) -> None:
            path = str(member.name).removeprefix("./").rstrip("/")  # type: ignore[attr-defined]
            if not path or member.isdir():  # type: ignore[attr-defined]
                return
            files.add(path)
            if not member.isreg():  # type: ignore[attr-defined]
                return
            mode = member.mode & 0o7777  # type: ignore[attr-defined]
            if mode & SPECIAL_BITS:
                special.append(
                    SpecialFile(path, mode, member.uid, member.gid, member.size)  # type: ignore[attr-defined]
                )
            if path == copyright_path:
                copyright.append(data[:MAX_COPYRIGHT].decode("utf-8", "replace"))

        archive.data.go(visit)
    except (SystemError, LookupError) as err:  # python-apt's way of saying "damaged"
        raise LifecycleError(
            f"Cannot read the package {deb.name}: {err}.",
            resolution="Run 'rockpack clean' to download the stage-packages again.",
        ) from err
    return DebContents(
        digest,
        control,
        tuple(sorted(files)),
        copyright[0] if copyright else None,
        tuple(sorted(special, key=lambda s: s.path)),
    )


def _package_name(control: str) -> str:
    for line in control.splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() == "package":
            return value.strip()
    return ""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _entry(digest: str) -> Path:
    return user_cache_dir() / "deb-contents" / f"{digest}.json"


def _cached(digest: str) -> DebContents | None:
    document = read_state(_entry(digest))
    if document.get("format") != FORMAT or document.get("sha256") != digest:
        return None
    try:
        copyright = document["copyright"]
        return DebContents(
            digest,
            str(document["control"]),
            tuple(str(f) for f in document["files"]),
            None if copyright is None else str(copyright),
            tuple(SpecialFile(**s) for s in document["special"]),
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def _store(contents: DebContents) -> None:
    """Keep ``contents`` for the next read; a cache that cannot be written is no error."""
    with suppress(DiskWriteError):
        write_state(_entry(contents.sha256), {"format": FORMAT, **asdict(contents)})
