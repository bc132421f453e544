"""The run-user's accounts: /etc/passwd, /etc/group and /etc/shadow entries.

The user is added to the files the base (or the parts) already have, never replacing
an entry that is there; a date in /etc/shadow comes from SOURCE_DATE_EPOCH, never
from the clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from rockpack.errors import RockpackError
from rockpack.oci.entries import Entry, Kind


@dataclass(frozen=True)
class RunUser:
    name: str
    uid: int
    gid: int

    @property
    def oci_user(self) -> str:
        return f"{self.uid}:{self.gid}"


RUN_USERS = {"_daemon_": RunUser("_daemon_", 584792, 584792)}


def run_user_of(declared: object) -> RunUser | None:
    """The project's run-user: a name from RUN_USERS, or one declared with its ids."""
    if declared is None:
        return None
    if isinstance(declared, str):
        return RUN_USERS[declared]
    return RunUser(
        str(declared.name),  # type: ignore[attr-defined]
        int(declared.uid),  # type: ignore[attr-defined]
        int(declared.gid),  # type: ignore[attr-defined]
    )


@dataclass(frozen=True)
class AccountFile:
    """One of the account files as found (content, mode, owner), or None when absent."""

    content: bytes
    mode: int
    uid: int
    gid: int


# path -> (default mode, the line for the user, "key" field: the entry's name)
_DEFAULT_MODES = {"etc/passwd": 0o644, "etc/group": 0o644, "etc/shadow": 0o640}


def account_lines(user: RunUser, epoch: int | None) -> dict[str, str]:
    last_change = str(epoch // 86400) if epoch is not None else ""
    return {
        "etc/passwd": f"{user.name}:x:{user.uid}:{user.gid}::/nonexistent:/usr/bin/false",
        "etc/group": f"{user.name}:x:{user.gid}:",
        "etc/shadow": ":".join([user.name, "!", last_change, "", "", "", "", "", ""]),
    }


def account_entries(
    user: RunUser,
    existing: dict[str, AccountFile],
    *,
    epoch: int | None,
    mtime: int,
) -> list[Entry]:
    """Entries for etc/ and the three files with the user added to what ``existing`` has."""
    entries = [Entry("etc", Kind.DIR, 0o755, mtime=mtime)]
    for path, line in account_lines(user, epoch).items():
        found = existing.get(path)
        content = _with_line(path, found.content if found else b"", line, user)
        mode, uid, gid = (
            (found.mode, found.uid, found.gid) if found else (_DEFAULT_MODES[path], 0, 0)
        )
        entries.append(
            Entry(path, Kind.FILE, mode, uid, gid, mtime, size=len(content), content=content)
        )
    return entries


def _with_line(path: str, content: bytes, line: str, user: RunUser) -> bytes:
    text = content.decode("utf-8", "surrogateescape")
    for existing in text.splitlines():
        fields = existing.split(":")
        if fields[0] != user.name:
            continue
        if path in ("etc/passwd", "etc/group"):
            expected = str(user.uid if path == "etc/passwd" else user.gid)
            if len(fields) < 3 or fields[2] != expected:
                raise RockpackError(
                    f"The base's /{path} already has '{user.name}' with id "
                    f"{fields[2] if len(fields) > 2 else '?'}, not {expected}.",
                    resolution="Use a base without that entry, or another run-user.",
                )
        return content  # already there: keep the base's entry as it is
    if text and not text.endswith("\n"):
        text += "\n"
    return (text + line + "\n").encode("utf-8", "surrogateescape")
