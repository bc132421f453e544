"""Files rockpack writes into the rock besides the prime dir: Pebble's layer, accounts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rockpack.base.index import base_file_contents
from rockpack.base.resolve import BaseImage
from rockpack.image.run_user import AccountFile, account_entries, run_user_of
from rockpack.image.spec import needs_pebble
from rockpack.layer.scan import elect_hardlink_leaders
from rockpack.oci.blobs import BlobStore
from rockpack.oci.entries import Entry, Kind, sort_entries
from rockpack.pebble.layer import layer_entries, next_layer_number
from rockpack.project.model import Project

ACCOUNT_FILES = ("etc/passwd", "etc/group", "etc/shadow")


def generated_entries(
    project: Project,
    base: BaseImage | None,
    cache: BlobStore,
    base_files: dict[str, Any],
    primed: list[Entry],
    prime_dir: Path,
    epoch: int | None,
    mtime: int,
) -> list[Entry]:
    """Pebble's layer file and the run-user's account files, as layer entries."""
    user = run_user_of(project.run_user)
    generated: list[Entry] = []
    if needs_pebble(project):
        number = next_layer_number([*base_files, *(e.path for e in primed)])
        owner = (user.uid, user.gid) if user else (0, 0)
        generated += layer_entries(project, number, owner=owner, mtime=mtime)
    if user is not None:
        existing = _base_accounts(base, cache)
        existing.update(_primed_accounts(prime_dir))  # the parts' own files sit on top
        generated += account_entries(user, existing, epoch=epoch, mtime=mtime)
    return generated


def merge_entries(primed: list[Entry], generated: list[Entry]) -> list[Entry]:
    """Generated entries replace primed ones at the same path; order and leaders redone."""
    by_path = {entry.path: entry for entry in primed}
    for entry in generated:
        if entry.kind == Kind.DIR and entry.path in by_path and entry.uid == entry.gid == 0:
            continue  # a plain parent directory: the parts' own metadata wins
        by_path[entry.path] = entry
    return elect_hardlink_leaders(sort_entries(list(by_path.values())))


def _base_accounts(base: BaseImage | None, cache: BlobStore) -> dict[str, AccountFile]:
    if base is None:
        return {}
    layers = [cache.path(layer.digest) for layer in base.layers]
    found = base_file_contents(layers, set(ACCOUNT_FILES))
    return {
        path: AccountFile(file.content, file.mode, file.uid, file.gid)
        for path, file in found.items()
    }


def _primed_accounts(prime_dir: Path) -> dict[str, AccountFile]:
    accounts = {}
    for path in ACCOUNT_FILES:
        primed_file = prime_dir / path
        if primed_file.is_file() and not primed_file.is_symlink():
            st = primed_file.stat()
            accounts[path] = AccountFile(
                primed_file.read_bytes(), st.st_mode & 0o7777, st.st_uid, st.st_gid
            )
    return accounts
