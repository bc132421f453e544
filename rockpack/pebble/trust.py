"""Trust on first use for Pebble release archives, then never silently again.

The first download of a release archive records its sha256, per version and
architecture, in ``$XDG_CONFIG_HOME/rockpack/pebble-trust.json``:

    {"v1.32.1": {"amd64": {"sha256": "…", "url": "…"}}}

Every later download and every cached copy must match it. A digest in rockpack's
table of official digests takes precedence over the file. A different digest is
accepted only deliberately: ``ROCKPACK_PEBBLE_ACCEPT=sha256:<new digest>`` for one
run, or removing the entry from the file.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rockpack.errors import RockpackError
from rockpack.pebble.release import OFFICIAL_DIGESTS, SOURCE_ENV, ReleaseAsset

TRUST_FILE_NAME = "pebble-trust.json"
ACCEPT_ENV = "ROCKPACK_PEBBLE_ACCEPT"


class TrustFileError(RockpackError):
    """The trust file cannot be read."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        super().__init__(
            f"Cannot read the Pebble trust file {path}: {problem}.",
            resolution="Repair it, or delete it: the next download of each Pebble release "
            "is then trusted anew.",
        )


@dataclass(frozen=True)
class Expected:
    """The digest an archive must have, and who says so."""

    sha256: str
    official: bool  # from rockpack's table, not from a first download
    trust_file: Path

    @property
    def origin(self) -> str:
        if self.official:
            return "rockpack's table of official release digests"
        return f"the trust file {self.trust_file}, from its first download"


class DigestMismatchError(RockpackError):
    """An archive's digest differs from the one trusted for its version and arch."""

    def __init__(self, asset: ReleaseAsset, expected: Expected, actual: str, where: str) -> None:
        self.asset = asset
        self.expected = expected.sha256
        self.actual = actual
        if expected.official:
            resolution = (
                "This digest is pinned as the official release's and cannot be accepted "
                f"instead. Check the mirror and the network, or set {SOURCE_ENV} to a Pebble "
                "you trust."
            )
        else:
            resolution = (
                "Check the mirror and the network first. To trust the new archive "
                f"deliberately, run again with {ACCEPT_ENV}=sha256:{actual}, or delete the "
                f'"{asset.arch}" entry under "{asset.version}" in {expected.trust_file}.'
            )
        super().__init__(
            f"The Pebble {asset.version} archive for {asset.arch} from {where} has sha256 "
            f"{actual}, but {expected.sha256} is trusted for it.",
            details=f"The trusted digest comes from {expected.origin}. A release archive "
            "never changes: a new digest means a tampered or broken mirror or download, or a "
            "re-published release. Nothing was cached or trusted.",
            resolution=resolution,
        )


def trust_file_path() -> Path:
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "rockpack" / TRUST_FILE_NAME


def expected_digest(asset: ReleaseAsset, path: Path) -> Expected | None:
    """The official digest of ``asset``, else the one recorded at its first download."""
    if asset.official_digest:
        return Expected(asset.official_digest, official=True, trust_file=path)
    entry = _entry(_load(path), asset.version, asset.arch)
    if entry is None:
        return None
    return Expected(entry["sha256"], official=False, trust_file=path)


def accepted(actual: str, environ: Mapping[str, str]) -> bool:
    """The user said, for this run, to trust an archive with this digest."""
    value = environ.get(ACCEPT_ENV, "").strip().removeprefix("sha256:")
    return bool(value) and value == actual


def record(asset: ReleaseAsset, sha256: str, path: Path, *, replace: bool = False) -> None:
    """Trust ``sha256`` for the asset's version and arch from now on.

    Another digest recorded meanwhile (a concurrent first use that got other bytes) is
    kept, and this one refused, unless ``replace`` (the user accepted the new digest).
    """
    with _locked(path):
        document = _load(path)
        existing = _entry(document, asset.version, asset.arch)
        if existing is not None and existing["sha256"] != sha256 and not replace:
            expected = Expected(existing["sha256"], official=False, trust_file=path)
            raise DigestMismatchError(asset, expected, sha256, asset.url)
        arches = document.get(asset.version)
        if not isinstance(arches, dict):
            arches = document[asset.version] = {}
        arches[asset.arch] = {"sha256": sha256, "url": asset.url}
        _write(path, document)


def trusted_release(sha256: str, path: Path) -> tuple[str, str] | None:
    """(version, arch) of the archive with this digest, if it is trusted or official."""
    for key, digest in OFFICIAL_DIGESTS.items():
        if digest == sha256:
            return key
    document = _load(path)
    for version, arches in document.items():
        for arch in arches if isinstance(arches, dict) else {}:
            entry = _entry(document, version, arch)
            if entry is not None and entry["sha256"] == sha256:
                return version, arch
    return None


def entries_for(assets: list[ReleaseAsset], path: Path) -> dict[str, Any]:
    """The part of the trust file that covers ``assets`` (for a clean build's instance)."""
    document = _load(path)
    out: dict[str, Any] = {}
    for asset in assets:
        entry = _entry(document, asset.version, asset.arch)
        if entry is not None:
            out.setdefault(asset.version, {})[asset.arch] = entry
    return out


def _entry(document: dict[str, Any], version: str, arch: str) -> dict[str, Any] | None:
    arches = document.get(version)
    entry = arches.get(arch) if isinstance(arches, dict) else None
    if isinstance(entry, dict) and isinstance(entry.get("sha256"), str):
        return entry
    return None


def _load(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as err:
        raise TrustFileError(path, err.strerror or str(err)) from err
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        raise TrustFileError(path, f"not JSON ({err})") from err
    if not isinstance(document, dict):
        raise TrustFileError(path, "not a JSON object")
    return document


def _write(path: Path, document: dict[str, Any]) -> None:
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        Path(name).replace(path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One writer of the trust file at a time, across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.with_name(f".{path.name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
