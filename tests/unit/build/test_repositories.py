"""package-repositories: where they may be applied, key files, and the Release check."""

from __future__ import annotations

from pathlib import Path

import pytest

from rockpack.build import repositories as applying
from rockpack.build.release_check import (
    BadSignatureError,
    ReleaseSource,
    WrongKeyError,
    _judge,
    sources_in,
)
from rockpack.build.repositories import KeyFileError, check_key_files, shown_path
from rockpack.errors import ProviderError
from rockpack.project.repositories import (
    APPLY_ON_HOST_ENV,
    CLOUD_ARCHIVE_KEY_ID,
    Repository,
    apply_on_host_requested,
    check_applicable,
    key_file,
    key_file_name,
    loopback_ports,
    repositories_of,
)

KEY = "9F45B010BED421F60398A67A2D9D64175F7DFA1C"
APT = {"type": "apt", "url": "http://127.0.0.1:8000/", "suites": ["stable"],
       "components": ["main"], "key-id": KEY}  # fmt: skip
PPA = {"type": "apt", "ppa": "owner/name"}
CLOUD = {"type": "apt", "cloud": "antelope"}


def test_each_kind_is_named_as_the_project_file_says_it():
    apt, ppa, cloud = repositories_of([APT, PPA, CLOUD])
    assert (apt.kind, apt.name, apt.url, apt.key_id) == (
        "apt",
        "http://127.0.0.1:8000",
        apt.url,
        KEY,
    )
    assert apt.key_server == "keyserver.ubuntu.com"  # craft-archives' default
    assert apt.where == "package-repositories[0] (http://127.0.0.1:8000)"
    assert (ppa.kind, ppa.name, ppa.key_id) == ("ppa", "ppa:owner/name", None)
    assert (cloud.kind, cloud.name, cloud.key_id) == (
        "cloud",
        "cloud:antelope",
        CLOUD_ARCHIVE_KEY_ID,
    )
    assert repositories_of(None) == []


def test_a_key_file_is_named_after_the_last_8_hex_digits_in_uppercase(tmp_path):
    assert key_file_name(KEY.lower()) == "5F7DFA1C.asc"
    assert key_file(tmp_path, KEY) == tmp_path / "keys" / "5F7DFA1C.asc"


@pytest.mark.parametrize(("entry", "what"), [(PPA, "a PPA"), (CLOUD, "the Ubuntu cloud archive")])
def test_ppas_and_the_cloud_archive_need_an_ubuntu_build_base(entry, what):
    with pytest.raises(ProviderError, match=f"is {what}, which only an Ubuntu build-base") as info:
        check_applicable(repositories_of([entry]), "debian@12", managed=True, apply_on_host=False)
    assert "this project builds on debian@12" in info.value.brief
    check_applicable(repositories_of([entry]), "ubuntu@24.04", managed=True, apply_on_host=False)


def test_on_this_host_they_apply_only_when_the_user_says_so():
    repositories = repositories_of([APT])
    with pytest.raises(ProviderError, match="would change its apt sources") as info:
        check_applicable(repositories, "debian@12", managed=False, apply_on_host=False)
    assert "--apply-package-repositories" in info.value.resolution
    assert f"{APPLY_ON_HOST_ENV}=1" in info.value.resolution
    assert info.value.retcode == 2
    check_applicable(repositories, "debian@12", managed=False, apply_on_host=True)
    check_applicable(repositories, "debian@12", managed=True, apply_on_host=False)  # clean
    check_applicable([], "debian@12", managed=False, apply_on_host=False)  # none to apply


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [(True, "", True), (False, "1", True), (False, "yes", True), (False, "0", False),
     (False, "", False)],
)  # fmt: skip
def test_the_flag_or_the_variable_allows_it(flag, value, expected):
    assert apply_on_host_requested(flag, {APPLY_ON_HOST_ENV: value}) is expected


def test_only_repositories_on_this_hosts_loopback_are_forwarded():
    urls = ["http://127.0.0.1:8000", "http://localhost/debian", "https://[::1]:8443/x",
            "http://deb.example.com:8000", "file:///srv/repo"]  # fmt: skip
    repositories = repositories_of([{**APT, "url": url} for url in urls] + [PPA])
    assert loopback_ports(repositories) == [80, 8000, 8443]


@pytest.mark.parametrize(
    ("suite", "url"),
    [
        ("stable", "http://r.example/debian/dists/stable/InRelease"),
        ("/flat/", "http://r.example/debian/flat/InRelease"),  # path: a flat repository
        ("/", "http://r.example/debian/InRelease"),
    ],
)
def test_the_release_file_of_a_suite_and_of_a_path(suite, url):
    assert (
        ReleaseSource("http://r.example/debian/", suite, Path("/k")).release_url("InRelease") == url
    )


def test_sources_are_read_as_craft_archives_writes_them(tmp_path):
    sources = tmp_path / "etc/apt/sources.list.d/craft-x.sources"
    sources.parent.mkdir(parents=True)
    sources.write_text(
        "Types: deb\nURIs: http://127.0.0.1:8000\nSuites: stable testing\nComponents: main\n"
        "Architectures: amd64\nSigned-By: /etc/apt/keyrings/craft-5F7DFA1C.gpg\n"
    )
    found = sources_in(sources, tmp_path)
    keyring = tmp_path / "etc/apt/keyrings/craft-5F7DFA1C.gpg"
    assert found == [
        ReleaseSource("http://127.0.0.1:8000", "stable", keyring),
        ReleaseSource("http://127.0.0.1:8000", "testing", keyring),
    ]


REPOSITORY = repositories_of([APT])[0]
URL = "http://127.0.0.1:8000/dists/stable/InRelease"


def test_a_good_signature_passes():
    _judge(
        [["NEWSIG"], ["GOODSIG", "2D9D64175F7DFA1C", "Signer"], ["VALIDSIG", KEY]], REPOSITORY, URL
    )


def test_a_signature_by_another_key_names_the_signer_and_the_file_that_would_work():
    other = "0F40E960834681A4"
    with pytest.raises(WrongKeyError) as info:
        _judge(
            [["ERRSIG", other, "22", "10", "01", "1", "9"], ["NO_PUBKEY", other]], REPOSITORY, URL
        )
    assert info.value.brief == (
        f"package-repositories[0] (http://127.0.0.1:8000): the repository is not signed by "
        f"key-id {KEY}: {URL} is signed by key {other}."
    )
    assert "keys/834681A4.asc" in info.value.resolution
    assert info.value.signer == other


@pytest.mark.parametrize(
    ("status", "problem"),
    [
        ([["BADSIG", "2D9D64175F7DFA1C", "x"]], "does not match its content"),
        ([["EXPKEYSIG", "2D9D64175F7DFA1C", "x"]], "expired key"),
        ([["NODATA", "1"]], "is not signed"),
        ([], "is not signed"),
    ],
)
def test_bad_and_missing_signatures_are_told_apart(status, problem):
    with pytest.raises(BadSignatureError, match=problem):
        _judge(status, REPOSITORY, URL)


def test_a_key_file_must_hold_its_repositorys_key(tmp_path, monkeypatch):
    path = tmp_path / "keys" / "5F7DFA1C.asc"
    path.parent.mkdir()
    path.write_text("a key")
    other = "39C350506F9481358886B0D10F40E960834681A4"
    monkeypatch.setattr(applying, "key_fingerprints", lambda p: [other])
    with pytest.raises(KeyFileError) as info:
        check_key_files([APT], tmp_path)
    assert info.value.brief.endswith(f"{path} does not hold its key-id {KEY}.")
    assert info.value.details == f"It holds: {other}."
    assert f"gpg --export --armor {KEY} > keys/5F7DFA1C.asc" in info.value.resolution
    monkeypatch.setattr(applying, "key_fingerprints", lambda p: [KEY])
    check_key_files([APT], tmp_path)


def test_a_missing_key_file_is_no_error_yet_and_an_unused_one_is_warned_of(tmp_path, emitter):
    check_key_files([APT], tmp_path)  # the keyserver gives the key, or says why not
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "DEADBEEF.asc").write_text("x")
    check_key_files([PPA], tmp_path)
    emitter.assert_message(
        f"Warning: {tmp_path / 'keys' / 'DEADBEEF.asc'} is the key of no repository in "
        "package-repositories (key files are named after the last 8 digits of the key-id, in "
        "uppercase); it is not used."
    )


@pytest.mark.parametrize(
    ("said", "problem"),
    [
        ("Failed to install GPG key: gpg: keyserver receive failed: No name", "cannot be reached"),
        ("Failed to install GPG key: GPG key 'X' not found on key server 'k'", "has no key"),
    ],
)
def test_the_keyserver_error_names_the_key_file_that_works_offline(tmp_path, said, problem):
    err = applying._keyserver_error(REPOSITORY, tmp_path, Exception(said))
    expected = tmp_path / "keys" / "5F7DFA1C.asc"
    assert f"the keyserver keyserver.ubuntu.com {problem}" in err.brief
    assert f"the project has no key file {expected}" in err.brief
    assert f"Save the repository's ASCII-armored public key as {expected}" in err.resolution
    assert err.details == said


def test_inside_a_clean_build_paths_are_shown_as_on_the_host(monkeypatch):
    monkeypatch.setenv(applying.HOST_PROJECT_DIR_ENV, "/home/me/rock")
    assert shown_path(Path("/root/project/keys/A.asc"), Path("/root/project")) == (
        "/home/me/rock/keys/A.asc"
    )
    monkeypatch.delenv(applying.HOST_PROJECT_DIR_ENV)
    assert shown_path(Path("/p/keys/A.asc"), Path("/p")) == "/p/keys/A.asc"


def test_the_repository_dataclass_is_what_messages_use():
    repository = Repository(3, "apt", "http://x", KEY)
    assert repository.where == "package-repositories[3] (http://x)"


def test_two_entries_with_one_url_are_refused_since_one_would_replace_the_other():
    flat = {"type": "apt", "url": "http://127.0.0.1:8000", "path": "/flat", "key-id": KEY}
    with pytest.raises(ProviderError, match=r"package-repositories\[0\] and \[1\] have the same"):
        check_applicable(
            repositories_of([APT, flat]), "debian@12", managed=True, apply_on_host=False
        )
    other_name = {**flat, "url": "http://localhost:8000"}
    check_applicable(
        repositories_of([APT, other_name]), "debian@12", managed=True, apply_on_host=False
    )
