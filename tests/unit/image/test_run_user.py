"""The run-user's account entries."""

from __future__ import annotations

import pytest

from rockpack.errors import RockpackError
from rockpack.image.run_user import RUN_USERS, AccountFile, account_entries

DAEMON = RUN_USERS["_daemon_"]
BASE = {
    "etc/passwd": AccountFile(b"root:x:0:0:root:/root:/bin/bash\n", 0o644, 0, 0),
    "etc/group": AccountFile(b"root:x:0:\nshadow:x:42:", 0o644, 0, 0),
    "etc/shadow": AccountFile(b"root:*:19000:0:99999:7:::\n", 0o640, 0, 42),
}


def contents(entries):
    return {e.path: e for e in entries if e.content is not None}


def test_user_is_added_after_the_base_entries():
    files = contents(account_entries(DAEMON, BASE, epoch=1700000000, mtime=0))
    assert files["etc/passwd"].content == (
        b"root:x:0:0:root:/root:/bin/bash\n_daemon_:x:584792:584792::/nonexistent:/usr/bin/false\n"
    )
    assert files["etc/group"].content == b"root:x:0:\nshadow:x:42:\n_daemon_:x:584792:\n"
    assert files["etc/shadow"].content.endswith(b"_daemon_:!:19675::::::\n")
    assert (files["etc/shadow"].mode, files["etc/shadow"].gid) == (0o640, 42)


def test_no_clock_date_without_an_epoch():
    files = contents(account_entries(DAEMON, {}, epoch=None, mtime=0))
    assert files["etc/shadow"].content == b"_daemon_:!:::::::\n"
    assert files["etc/passwd"].mode == 0o644


def test_an_existing_identical_entry_is_kept():
    existing = {
        "etc/passwd": AccountFile(b"_daemon_:x:584792:584792:kept:/:/bin/sh\n", 0o644, 0, 0)
    }
    files = contents(account_entries(DAEMON, existing, epoch=None, mtime=0))
    assert files["etc/passwd"].content == b"_daemon_:x:584792:584792:kept:/:/bin/sh\n"


def test_a_conflicting_entry_is_an_error():
    existing = {"etc/passwd": AccountFile(b"_daemon_:x:1:1::/:/bin/sh\n", 0o644, 0, 0)}
    with pytest.raises(RockpackError, match="already has '_daemon_' with id 1"):
        account_entries(DAEMON, existing, epoch=None, mtime=0)


def test_a_custom_user():
    from rockpack.image.run_user import run_user_of
    from rockpack.project.run_user import CustomRunUser

    user = run_user_of(CustomRunUser.model_validate({"name": "app", "uid": 1000, "gid": 1001}))
    files = contents(account_entries(user, {}, epoch=None, mtime=0))
    assert files["etc/passwd"].content == b"app:x:1000:1001::/nonexistent:/usr/bin/false\n"
    assert user.oci_user == "1000:1001"
