"""Apply package-repositories with craft-archives, as Rockcraft does.

Each repository is first installed into a scratch root (its key from the project's
``keys/`` or else from a keyserver), and its Release file is checked against that key
(rockpack.build.release_check). Only when every repository answers and is signed by its
key does craft-archives write the system's apt sources, keyrings and preferences; the
files it added or changed are reported, since on a host they stay.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from craft_cli import emit

from rockpack.build.release_check import (
    PackageRepositoryError,
    check_release,
    sources_in,
)
from rockpack.errors import ProviderError
from rockpack.project.repositories import (
    KEYS_DIR,
    Repository,
    key_file,
    key_file_name,
    repositories_of,
)

# What craft-archives writes, under the system root.
APT_CONFIG_DIRS = ("etc/apt/sources.list.d", "etc/apt/keyrings", "etc/apt/preferences.d")
HOST_PROJECT_DIR_ENV = "ROCKPACK_HOST_PROJECT_DIR"  # where a clean build's project is on the host


class KeyFileError(PackageRepositoryError):
    """keys/<ID8>.asc exists but does not hold the repository's key."""


class KeyserverError(PackageRepositoryError):
    """No key file in the project, and the keyserver did not give the key."""


@dataclass(frozen=True)
class Applied:
    """What applying the repositories did to the system."""

    refresh_required: bool  # the package lists must be read again
    changed: list[Path]  # apt configuration files added or changed


def key_fingerprints(key_path: Path) -> list[str]:
    """The primary keys' fingerprints in an OpenPGP key file (empty if it holds none)."""
    with _gpg_home() as home:
        try:
            show = ["gpg", "--homedir", str(home), "--batch", "--with-colons", "--show-keys"]
            result = subprocess.run(
                [*show, str(key_path)],
                capture_output=True,
                text=True,
                check=False,
            )
        except FileNotFoundError as err:
            raise ProviderError(
                "package-repositories need gpg, which is not installed here.",
                resolution="Install it ('apt install gpg gpg-agent dirmngr').",
            ) from err
    fingerprints, primary = [], False
    for line in result.stdout.splitlines():
        fields = line.split(":")
        if fields[0] in ("pub", "sub"):
            primary = fields[0] == "pub"
        elif fields[0] == "fpr" and primary and len(fields) > 9:
            fingerprints.append(fields[9].upper())
    return fingerprints


def check_key_files(data: list[dict[str, Any]] | None, project_dir: Path) -> None:
    """Each key file the project ships must hold the key-id of its repository."""
    if not data:
        return
    for repository in repositories_of(data):
        if not repository.key_id:
            continue
        path = key_file(project_dir, repository.key_id)
        if not path.is_file():
            continue  # fetched from the keyserver instead
        held = key_fingerprints(path)
        if repository.key_id.upper() not in held:
            raise KeyFileError(
                repository,
                f"{shown_path(path, project_dir)} does not hold its key-id {repository.key_id}.",
                details=f"It holds: {', '.join(held)}." if held else "It holds no OpenPGP key.",
                resolution=f"Save the repository's public key there ('gpg --export --armor "
                f"{repository.key_id} > {KEYS_DIR}/{key_file_name(repository.key_id)}'), or set "
                "key-id to the full fingerprint of the key the file holds.",
            )
    used = {key_file_name(r.key_id) for r in repositories_of(data) if r.key_id}
    keys_dir = project_dir / KEYS_DIR
    for path in sorted(keys_dir.glob("*.asc")) if keys_dir.is_dir() else []:
        if path.name not in used:
            emit.message(
                f"Warning: {shown_path(path, project_dir)} is the key of no repository in "
                "package-repositories (key files are named after the last 8 digits of the "
                "key-id, in uppercase); it is not used."
            )


def apply_repositories(
    data: list[dict[str, Any]], project_dir: Path, *, root: Path | None = None
) -> Applied:
    """Install the repositories into the system at ``root`` (None: this system)."""
    # Imported here: craft-archives pulls in launchpadlib, slow to import.
    from craft_archives import repo
    from craft_archives.errors import ArchivesError
    from craft_archives.repo.errors import AptGPGKeyInstallError

    repositories = repositories_of(data)
    with tempfile.TemporaryDirectory(prefix="rockpack-repositories-") as scratch_dir:
        scratch = Path(scratch_dir)
        assets = scratch / "keys"
        _copy_key_files(repositories, project_dir, assets)
        for repository, entry in zip(repositories, data, strict=True):
            trial = scratch / f"trial-{repository.index}"
            for directory in APT_CONFIG_DIRS:
                (trial / directory).mkdir(parents=True)
            try:
                repo.install_in_root([_without_architectures(entry)], trial, key_assets=assets)
            except AptGPGKeyInstallError as err:
                if repository.key_id and (assets / key_file_name(repository.key_id)).exists():
                    raise _key_import_error(repository, project_dir, err) from err
                raise _keyserver_error(repository, project_dir, err) from err
            except ArchivesError as err:
                raise _archives_error(repository, err) from err
            _check_trial(trial, repository, scratch / f"check-{repository.index}")
            _keep_fetched_key(trial, repository, assets)
        before = _snapshot(root)
        try:
            if root is None:
                refresh = repo.install(data, key_assets=assets)
            else:
                refresh = repo.install_in_root(data, root, key_assets=assets)
        except ArchivesError as err:
            raise ProviderError(
                f"Applying package-repositories failed: {err.brief}",
                details=err.details,
                resolution=err.resolution,
            ) from err
        after = _snapshot(root)
    changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    return Applied(refresh_required=refresh, changed=changed)


def shown_path(path: Path, project_dir: Path) -> str:
    """A project path as the user knows it: on the host, even inside a clean build."""
    host_dir = os.environ.get(HOST_PROJECT_DIR_ENV)
    try:
        relative = path.relative_to(project_dir)
    except ValueError:
        return str(path)
    return str(Path(host_dir) / relative) if host_dir else str(path)


def _copy_key_files(repositories: list[Repository], project_dir: Path, assets: Path) -> None:
    """Only the key files some repository uses (craft-archives refuses unused ones)."""
    assets.mkdir()
    for repository in repositories:
        if repository.key_id and key_file(project_dir, repository.key_id).is_file():
            name = key_file_name(repository.key_id)
            shutil.copyfile(key_file(project_dir, repository.key_id), assets / name)


def _without_architectures(entry: dict[str, Any]) -> dict[str, Any]:
    """The trial root has no dpkg database to add architectures to; the real install does."""
    return {key: value for key, value in entry.items() if key != "architectures"}


def _check_trial(trial: Path, repository: Repository, scratch: Path) -> None:
    sources = sorted((trial / APT_CONFIG_DIRS[0]).glob("*.sources"))
    for number, source in enumerate(s for f in sources for s in sources_in(f, trial)):
        emit.progress(f"Checking {source.release_url('InRelease')}")
        check_release(source, repository, scratch / str(number))


def _keep_fetched_key(trial: Path, repository: Repository, assets: Path) -> None:
    """A key the keyserver gave is kept for the real install, which then fetches nothing."""
    key_id = repository.key_id
    if not key_id or (assets / key_file_name(key_id)).exists():
        return
    keyring = trial / APT_CONFIG_DIRS[1] / f"craft-{key_id[-8:].upper()}.gpg"
    if not keyring.is_file():
        return
    with _gpg_home() as home:
        armored = subprocess.run(
            [
                "gpg",
                "--homedir",
                str(home),
                "--batch",
                "--no-default-keyring",
                "--keyring",
                f"gnupg-ring:{keyring}",
                "--export",
                "--armor",
                key_id,
            ],
            capture_output=True,
            check=False,
        ).stdout
    if armored:
        (assets / key_file_name(key_id)).write_bytes(armored)


def _keyserver_error(
    repository: Repository, project_dir: Path, err: Exception
) -> PackageRepositoryError:
    key_id = repository.key_id or "its key"
    expected = (
        shown_path(key_file(project_dir, repository.key_id), project_dir)
        if repository.key_id
        else f"{KEYS_DIR}/<last 8 digits of its key-id>.asc (with key-id set)"
    )
    not_there = "not found on key server" in str(err)
    problem = (
        f"the keyserver {repository.key_server} has no key {key_id}"
        if not_there
        else f"the keyserver {repository.key_server} cannot be reached to fetch key {key_id}"
    )
    return KeyserverError(
        repository,
        f"{problem}, and the project has no key file {expected}.",
        details=str(err),
        resolution=f"Save the repository's ASCII-armored public key as {expected} (for "
        f"example 'gpg --export --armor {key_id}' where the key is known): it works offline "
        "and pins the key in the project. Or let the build environment reach the keyserver.",
    )


def _key_import_error(
    repository: Repository, project_dir: Path, err: Exception
) -> PackageRepositoryError:
    path = shown_path(key_file(project_dir, repository.key_id or ""), project_dir)
    return KeyFileError(
        repository,
        f"gpg could not import its key file {path}.",
        details=str(err),
        resolution="Check that the file is an ASCII-armored OpenPGP public key ('gpg "
        "--export --armor KEY-ID'), and that gpg and gpg-agent are installed.",
    )


def _archives_error(repository: Repository, err: Exception) -> PackageRepositoryError:
    brief = str(getattr(err, "brief", err)).rstrip(".")
    return PackageRepositoryError(
        repository,
        f"{brief}.",
        details=getattr(err, "details", None),
        resolution=getattr(err, "resolution", None)
        or "Check this entry of package-repositories against craft-archives' documentation.",
    )


def _snapshot(root: Path | None) -> dict[Path, bytes]:
    base = root or Path("/")
    files = {}
    for directory in APT_CONFIG_DIRS:
        folder = base / directory
        if folder.is_dir():
            files.update({p: p.read_bytes() for p in folder.iterdir() if p.is_file()})
    return files


@contextmanager
def _gpg_home() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="rockpack-gpg-") as home:
        Path(home).chmod(0o700)
        yield Path(home)
