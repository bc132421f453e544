"""A pin is a pin: read strictly, never silently replaced by a new resolution."""

from __future__ import annotations

import hashlib
import json

import pytest

from rockpack.base.pins import Pin, PinFileError, read_pins, write_pins
from rockpack.base.resolve import PinnedBaseMissingError, obtain_base
from rockpack.oci.blobs import BlobStore, Descriptor
from rockpack.oci.image import canonical_json
from rockpack.oci.registry_client import Manifest
from rockpack.oci.registry_errors import NotFoundError

DIGEST = "sha256:" + "a" * 64


def test_pins_round_trip(tmp_path):
    path = tmp_path / "bases.lock.json"
    pins = {"debian@12 amd64": Pin("docker.io/library/debian:bookworm", DIGEST, "m")}
    write_pins(path, pins)
    assert read_pins(path) == pins
    assert read_pins(tmp_path / "missing.json") == {}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "is damaged: it is not JSON"),
        ("[]", "is damaged: it is not a JSON object"),
        ('{"debian@12 amd64": "sha256:x"}', "lacks its fields"),
        ('{"debian@12 amd64": {"reference": "x", "digest": "sha256:1"}}', "no valid digest"),
    ],
)
def test_a_damaged_lock_file_is_an_error_naming_the_file_and_the_fix(tmp_path, text, problem):
    path = tmp_path / "bases.lock.json"
    path.write_text(text)
    with pytest.raises(PinFileError, match=problem) as info:
        read_pins(path)
    assert str(path) in info.value.brief
    assert "--refresh-base" in info.value.resolution


class FakeClient:
    """Serves one image; ``missing`` digests answer 404."""

    def __init__(self, manifest: Manifest, blobs: dict[str, bytes]) -> None:
        self.manifest, self.blobs = manifest, blobs
        self.missing: set[str] = set()
        self.asked: list[str] = []

    def resolve(self, reference, platform):
        self.asked.append(reference.version)
        if reference.version in self.missing:
            raise NotFoundError(f"{reference}: not found in the registry (x).")
        return Manifest(
            reference.with_digest(self.manifest.digest),
            self.manifest.digest,
            self.manifest.media_type,
            self.manifest.raw,
        )

    def fetch_blob(self, reference, blob, store):
        self.asked.append(blob.digest)
        with store.ingest(blob.digest, blob.size) as writer:
            writer.write(self.blobs[blob.digest])


def image(tmp_path):
    import gzip
    import io
    import tarfile

    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        tar.addfile(tarfile.TarInfo("etc"))
    raw_layer = out.getvalue()
    layer = gzip.compress(raw_layer, mtime=0)
    config = canonical_json(
        {
            "rootfs": {
                "type": "layers",
                "diff_ids": ["sha256:" + hashlib.sha256(raw_layer).hexdigest()],
            }
        }
    )

    def desc(data, media_type):
        return Descriptor(media_type, "sha256:" + hashlib.sha256(data).hexdigest(), len(data))

    layer_d = desc(layer, "application/vnd.oci.image.layer.v1.tar+gzip")
    config_d = desc(config, "application/vnd.oci.image.config.v1+json")
    raw = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config_d.to_json(),
            "layers": [layer_d.to_json()],
        }
    )
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    manifest = Manifest(None, digest, "application/vnd.oci.image.manifest.v1+json", raw)
    return FakeClient(manifest, {layer_d.digest: layer, config_d.digest: config}), layer_d


@pytest.fixture
def setup(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("ROCKPACK_REGISTRY_MIRROR", "127.0.0.1:1")
    client, layer = image(tmp_path)
    cache = BlobStore(tmp_path / "cache")
    pin_file = tmp_path / "project/.rockpack/bases.lock.json"
    return client, layer, cache, pin_file


def obtain(setup, **kwargs):
    client, _, cache, pin_file = setup
    return obtain_base(
        "debian@12", "amd64", cache=cache, pin_file=pin_file, client=client, **kwargs
    )


def test_a_damaged_cached_blob_is_fetched_again_by_the_pinned_digest(setup):
    client, layer, cache, _ = setup
    first = obtain(setup)
    assert client.asked[0] == "bookworm"  # resolved by tag once, then pinned
    client.asked.clear()
    path = cache.path(layer.digest)
    data = path.read_bytes()
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # a flipped byte on disk
    again = obtain(setup)
    assert again.manifest_digest == first.manifest_digest
    assert client.asked == [first.manifest_digest, layer.digest]  # by digest, not the tag
    assert cache.verify(layer.digest, layer.size)


def test_an_intact_cache_needs_no_registry(setup):
    client, _, _, _ = setup
    obtain(setup)
    client.asked.clear()
    obtain(setup)
    assert client.asked == []


def test_a_pinned_digest_the_registry_lost_is_an_error_not_a_new_resolution(setup):
    client, layer, cache, pin_file = setup
    first = obtain(setup)
    cache.discard(layer.digest)  # a cold cache, say on another machine
    client.missing.add(first.manifest_digest)
    client.asked.clear()
    with pytest.raises(PinnedBaseMissingError, match="no longer has") as info:
        obtain(setup)
    assert "--refresh-base" in info.value.resolution
    assert str(pin_file) in info.value.brief
    assert "bookworm" not in client.asked  # the tag was never asked for
    assert json.loads(pin_file.read_text())["debian@12 amd64"]["digest"] == first.manifest_digest
    refreshed = obtain(setup, refresh=True)
    assert client.asked[-2:] == ["bookworm", layer.digest] and refreshed.manifest_digest


def test_a_damaged_lock_file_stops_the_pack(setup):
    _, _, _, pin_file = setup
    pin_file.parent.mkdir(parents=True)
    pin_file.write_text("{truncated")
    with pytest.raises(PinFileError, match="is damaged"):
        obtain(setup)
    assert obtain(setup, refresh=True).manifest_digest  # --refresh-base pins again
    assert read_pins(pin_file)
