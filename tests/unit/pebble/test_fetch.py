"""The default Pebble: downloaded once from the (mirrored) release, trusted, cached."""

from __future__ import annotations

import hashlib
import json
import socket

import pytest

from rockpack.pebble import release, trust
from rockpack.pebble.binary_check import NotPebbleError
from rockpack.pebble.cache import PebbleCache
from rockpack.pebble.errors import ArchiveError, PebbleUnavailableError, ReleaseDownloadError
from rockpack.pebble.fetch import release_pebble
from rockpack.pebble.release import MIRROR_ENV, release_asset
from tests.unit.pebble.fakes import asset_path, make_elf, release_archive

ASSET_PATH = "/v1.32.1/pebble_v1.32.1_linux_amd64.tar.gz"


@pytest.fixture
def cache(tmp_path):
    return PebbleCache(tmp_path / "cache")


@pytest.fixture
def trust_file(tmp_path):
    return tmp_path / "config/pebble-trust.json"


def fetch(mirror, cache, trust_file, build_for="amd64", **environ):
    return release_pebble(build_for, {MIRROR_ENV: mirror.url, **environ}, cache, trust_file)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def cached_archives(cache):
    root = cache.root / "archives/sha256"
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def test_the_release_url_and_arch_names():
    assert release_asset("amd64", {}).url == (
        "https://github.com/canonical/pebble/releases/download/v1.32.1/"
        "pebble_v1.32.1_linux_amd64.tar.gz"
    )
    assert release_asset("armhf", {}).file_name == "pebble_v1.32.1_linux_arm.tar.gz"
    assert release_asset("ppc64el", {}).arch == "ppc64le"
    mirrored = release_asset("s390x", {MIRROR_ENV: "http://m.example/pebble/"})
    assert mirrored.url == "http://m.example/pebble/v1.32.1/pebble_v1.32.1_linux_s390x.tar.gz"
    assert release_asset("i386", {}) is None


def test_the_first_download_is_checked_trusted_and_cached(mirror, cache, trust_file):
    archive_bytes = asset_path(mirror.root, "amd64").read_bytes()
    got = fetch(mirror, cache, trust_file)
    assert mirror.requests == [ASSET_PATH]
    assert got.archive_sha256 == sha(archive_bytes)
    assert got.archive == cache.archive_path(got.archive_sha256)
    assert got.binary.read_bytes() == make_elf("amd64")
    assert got.binary == cache.binary_path(sha(make_elf("amd64")))
    assert got.checked.build_info.module == "github.com/canonical/pebble"
    recorded = json.loads(trust_file.read_text())["v1.32.1"]["amd64"]
    assert recorded == {"sha256": got.archive_sha256, "url": mirror.url + ASSET_PATH}
    assert list((cache.tmp).iterdir()) == []


def test_the_second_time_needs_no_network(mirror, cache, trust_file):
    first = fetch(mirror, cache, trust_file)
    second = release_pebble("amd64", {MIRROR_ENV: "http://127.0.0.1:9/"}, cache, trust_file)
    assert mirror.requests == [ASSET_PATH]
    assert (second.archive, second.binary, second.sha256) == (
        first.archive,
        first.binary,
        first.sha256,
    )


def test_architectures_are_trusted_separately(mirror, cache, trust_file):
    amd64 = fetch(mirror, cache, trust_file)
    arm64 = fetch(mirror, cache, trust_file, "arm64")
    assert amd64.archive_sha256 != arm64.archive_sha256
    assert set(json.loads(trust_file.read_text())["v1.32.1"]) == {"amd64", "arm64"}


def test_a_tampered_archive_is_refused_and_nothing_is_kept(mirror, cache, trust_file, tmp_path):
    trusted = fetch(mirror, cache, trust_file).archive_sha256
    cache_root = cache.root
    fresh = PebbleCache(tmp_path / "other-cache")  # another machine's cache, same trust
    tampered = release_archive(make_elf("amd64"), extra=b"tampered")
    mirror.put("amd64", tampered)
    with pytest.raises(trust.DigestMismatchError) as info:
        fetch(mirror, fresh, trust_file)
    assert (info.value.expected, info.value.actual) == (trusted, sha(tampered))
    assert trusted in info.value.brief and sha(tampered) in info.value.brief
    assert cached_archives(fresh) == [] and list(fresh.tmp.iterdir()) == []
    assert not (fresh.root / "binaries").exists()
    assert json.loads(trust_file.read_text())["v1.32.1"]["amd64"]["sha256"] == trusted
    assert cached_archives(PebbleCache(cache_root)) == [trusted]


def test_a_new_digest_is_accepted_only_when_named(mirror, cache, trust_file, tmp_path):
    fetch(mirror, cache, trust_file)
    republished = release_archive(make_elf("amd64"), extra=b"re-published")
    mirror.put("amd64", republished)
    fresh = PebbleCache(tmp_path / "other-cache")
    with pytest.raises(trust.DigestMismatchError):
        fetch(mirror, fresh, trust_file, ROCKPACK_PEBBLE_ACCEPT="sha256:" + "0" * 64)
    got = fetch(mirror, fresh, trust_file, ROCKPACK_PEBBLE_ACCEPT=f"sha256:{sha(republished)}")
    assert got.archive_sha256 == sha(republished)
    assert trust.expected_digest(got.asset, trust_file).sha256 == sha(republished)


def test_an_official_digest_wins_and_cannot_be_accepted_away(
    mirror, cache, trust_file, monkeypatch
):
    monkeypatch.setitem(release.OFFICIAL_DIGESTS, ("v1.32.1", "amd64"), "f" * 64)
    served = sha(asset_path(mirror.root, "amd64").read_bytes())
    with pytest.raises(trust.DigestMismatchError) as info:
        fetch(mirror, cache, trust_file, ROCKPACK_PEBBLE_ACCEPT=served)
    assert "official" in info.value.details and not trust_file.exists()
    monkeypatch.setitem(release.OFFICIAL_DIGESTS, ("v1.32.1", "amd64"), served)
    assert fetch(mirror, cache, trust_file).archive_sha256 == served
    assert not trust_file.exists()  # an official digest needs no first-use record


def test_a_damaged_cached_archive_is_fetched_again(mirror, cache, trust_file):
    got = fetch(mirror, cache, trust_file)
    got.archive.write_bytes(b"bit rot")
    again = fetch(mirror, cache, trust_file)
    assert mirror.requests == [ASSET_PATH, ASSET_PATH]
    assert again.archive.read_bytes() == asset_path(mirror.root, "amd64").read_bytes()


def test_no_network_and_no_cache_names_the_url_and_both_variables(cache, trust_file):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(ReleaseDownloadError) as info:
        release_pebble("amd64", {MIRROR_ENV: url}, cache, trust_file)
    message = f"{info.value.brief} {info.value.details} {info.value.resolution}"
    assert f"{url}{ASSET_PATH}" in info.value.brief
    assert "needs Pebble v1.32.1 for amd64" in info.value.brief
    assert "ROCKPACK_PEBBLE_MIRROR" in message and "ROCKPACK_PEBBLE_SOURCE" in message
    assert str(cache.root) in info.value.details
    assert not trust_file.exists() and cached_archives(cache) == []


def test_a_first_download_that_is_not_pebble_is_neither_trusted_nor_cached(
    mirror, cache, trust_file
):
    mirror.put("amd64", release_archive(make_elf("arm64")))
    with pytest.raises(NotPebbleError, match="executable for AArch64, not for amd64") as info:
        fetch(mirror, cache, trust_file)
    assert info.value.name == f"'pebble' in {mirror.url}{ASSET_PATH}"
    assert "ROCKPACK_PEBBLE_MIRROR" in info.value.resolution
    assert not trust_file.exists() and cached_archives(cache) == []
    assert list(cache.tmp.iterdir()) == []


def test_an_archive_without_pebble_at_its_root(mirror, cache, trust_file):
    mirror.put("amd64", release_archive(make_elf(), name="bin/pebble"))
    with pytest.raises(ArchiveError, match="no file named 'pebble' at its root"):
        fetch(mirror, cache, trust_file)
    assert not trust_file.exists() and cached_archives(cache) == []


def test_a_404_on_the_mirror(mirror, cache, trust_file):
    asset_path(mirror.root, "amd64").unlink()
    with pytest.raises(ReleaseDownloadError, match="HTTP 404"):
        fetch(mirror, cache, trust_file)


def test_an_arch_pebble_does_not_release_for(cache, trust_file):
    with pytest.raises(PebbleUnavailableError, match="no release for i386") as info:
        release_pebble("i386", {}, cache, trust_file)
    assert "ROCKPACK_PEBBLE_SOURCE" in info.value.resolution


def test_a_mirror_that_is_not_a_url(cache, trust_file):
    with pytest.raises(PebbleUnavailableError, match="is not an http:// or https:// URL"):
        release_pebble("amd64", {MIRROR_ENV: "/srv/mirror"}, cache, trust_file)
