"""The trust file: first download recorded, official digests first, mismatches explained."""

from __future__ import annotations

import json

import pytest

from rockpack.pebble import release, trust
from rockpack.pebble.release import ReleaseAsset

ASSET = ReleaseAsset("v1.32.1", "amd64", "https://mirror.example/v1.32.1/p.tar.gz")
A, B = "a" * 64, "b" * 64


def test_the_trust_file_lives_in_rockpacks_user_config(tmp_path):
    assert trust.trust_file_path() == tmp_path / "xdg-config/rockpack/pebble-trust.json"


def test_nothing_is_expected_before_the_first_download(tmp_path):
    assert trust.expected_digest(ASSET, tmp_path / "trust.json") is None


def test_a_recorded_digest_is_expected_per_version_and_arch(tmp_path):
    path = tmp_path / "config/trust.json"
    trust.record(ASSET, A, path)
    trust.record(ReleaseAsset("v1.32.1", "arm64", "u"), B, path)
    expected = trust.expected_digest(ASSET, path)
    assert expected == trust.Expected(A, official=False, trust_file=path)
    assert "the trust file" in expected.origin
    assert json.loads(path.read_text()) == {
        "v1.32.1": {
            "amd64": {"sha256": A, "url": ASSET.url},
            "arm64": {"sha256": B, "url": "u"},
        }
    }
    assert trust.expected_digest(ReleaseAsset("v1.33.0", "amd64", "u"), path) is None
    assert sorted(p.name for p in path.parent.iterdir()) == [".trust.json.lock", "trust.json"]


def test_a_concurrent_first_use_with_other_bytes_is_refused(tmp_path):
    path = tmp_path / "trust.json"
    trust.record(ASSET, A, path)
    trust.record(ASSET, A, path)  # the same digest again is fine
    with pytest.raises(trust.DigestMismatchError) as info:
        trust.record(ASSET, B, path)
    assert (info.value.expected, info.value.actual) == (A, B)
    trust.record(ASSET, B, path, replace=True)  # accepted deliberately
    assert trust.expected_digest(ASSET, path).sha256 == B


def test_an_official_digest_takes_precedence(tmp_path, monkeypatch):
    path = tmp_path / "trust.json"
    trust.record(ASSET, A, path)
    monkeypatch.setitem(release.OFFICIAL_DIGESTS, ("v1.32.1", "amd64"), B)
    expected = trust.expected_digest(ASSET, path)
    assert expected is not None and (expected.sha256, expected.official) == (B, True)
    assert expected.origin == "rockpack's table of official release digests"


def test_the_official_table_is_empty_until_digests_can_be_verified():
    assert release.OFFICIAL_DIGESTS == {}


def test_a_mismatch_names_both_digests_and_how_to_accept(tmp_path):
    path = tmp_path / "trust.json"
    error = trust.DigestMismatchError(ASSET, trust.Expected(A, False, path), B, ASSET.url)
    assert (error.expected, error.actual) == (A, B)
    assert A in error.brief and B in error.brief and ASSET.url in error.brief
    assert f"ROCKPACK_PEBBLE_ACCEPT=sha256:{B}" in error.resolution
    assert f'"amd64" entry under "v1.32.1" in {path}' in error.resolution
    assert "Nothing was cached or trusted" in error.details


def test_an_official_mismatch_cannot_be_accepted(tmp_path):
    error = trust.DigestMismatchError(ASSET, trust.Expected(A, True, tmp_path), B, "here")
    assert "cannot be accepted" in error.resolution
    assert "ROCKPACK_PEBBLE_ACCEPT" not in error.resolution


@pytest.mark.parametrize(
    ("value", "result"), [(f"sha256:{B}", True), (B, True), (A, False), ("", False)]
)
def test_accepting_a_new_digest_names_it(value, result):
    assert trust.accepted(B, {"ROCKPACK_PEBBLE_ACCEPT": value}) is result


def test_a_damaged_trust_file_is_reported_not_overwritten(tmp_path):
    path = tmp_path / "trust.json"
    path.write_text("{not json")
    with pytest.raises(trust.TrustFileError, match="not JSON") as info:
        trust.expected_digest(ASSET, path)
    assert "delete it" in info.value.resolution
    with pytest.raises(trust.TrustFileError):
        trust.record(ASSET, A, path)
    assert path.read_text() == "{not json"


def test_odd_entries_are_ignored(tmp_path):
    path = tmp_path / "trust.json"
    path.write_text(json.dumps({"v1.32.1": ["amd64"], "v1.0.0": {"amd64": "no dict"}}))
    assert trust.expected_digest(ASSET, path) is None
    trust.record(ASSET, A, path)
    assert trust.expected_digest(ASSET, path) is not None


def test_a_digest_is_traced_back_to_its_release(tmp_path, monkeypatch):
    path = tmp_path / "trust.json"
    trust.record(ASSET, A, path)
    assert trust.trusted_release(A, path) == ("v1.32.1", "amd64")
    assert trust.trusted_release(B, path) is None
    monkeypatch.setitem(release.OFFICIAL_DIGESTS, ("v1.31.0", "s390x"), B)
    assert trust.trusted_release(B, path) == ("v1.31.0", "s390x")


def test_entries_for_some_assets(tmp_path):
    path = tmp_path / "trust.json"
    trust.record(ASSET, A, path)
    trust.record(ReleaseAsset("v1.32.1", "arm64", "u"), B, path)
    assert trust.entries_for([ASSET], path) == {
        "v1.32.1": {"amd64": {"sha256": A, "url": ASSET.url}}
    }
