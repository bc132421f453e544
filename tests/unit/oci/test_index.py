"""Image indexes: the document, the multi-platform rock, and indexes made in a registry."""

from __future__ import annotations

import hashlib
import http.server
import json
import tarfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from rockpack import publish
from rockpack.errors import PackError, RockpackError
from rockpack.oci.archive import write_oci_archive
from rockpack.oci.blobs import BlobStore, Descriptor
from rockpack.oci.entries import Entry, Kind
from rockpack.oci.image import (
    MEDIA_TYPE_CONFIG,
    MEDIA_TYPE_INDEX,
    MEDIA_TYPE_MANIFEST,
    canonical_json,
    index_json,
)
from rockpack.oci.index import ImageIndexError, config_platform, image_index, index_entry
from rockpack.oci.index_rock import index_rock_directory, write_index_rock
from rockpack.oci.layer import write_layer
from rockpack.oci.registry_client import RegistryClient
from rockpack.oci.rock_archive import (
    RockArchiveError,
    RockImage,
    RockIndex,
    read_rock,
    read_rock_contents,
)

AMD64 = (("architecture", "amd64"), ("os", "linux"))
ARM64 = (("architecture", "arm64"), ("os", "linux"), ("variant", "v8"))
CREATED = "2023-11-14T22:13:20Z"  # 1700000000


def make_rock(directory: Path, arch: str, variant: str | None = None, version: str = "1.0") -> Path:
    """A one-layer rock for ``arch``, written by rockpack's own writers."""
    store = BlobStore(directory / f"oci-{arch}")
    metadata = yaml.safe_dump({"name": "multi", "version": version, "architecture": arch})
    data = metadata.encode()
    layer = write_layer(
        [
            Entry(".rock", Kind.DIR, 0o755),
            Entry(".rock/metadata.yaml", Kind.FILE, 0o644, size=len(data), content=data),
        ],
        store,
    )
    config: dict[str, object] = {
        "architecture": arch,
        "os": "linux",
        "created": CREATED,
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
    }
    if variant:
        config["variant"] = variant
    config_blob = store.put_bytes(canonical_json(config), MEDIA_TYPE_CONFIG)
    manifest = store.put_bytes(
        canonical_json(
            {
                "schemaVersion": 2,
                "mediaType": MEDIA_TYPE_MANIFEST,
                "config": config_blob.to_json(),
                "layers": [layer.descriptor.to_json()],
            }
        ),
        MEDIA_TYPE_MANIFEST,
    )
    rock = directory / f"multi_{version}_{arch}.rock"
    write_oci_archive(
        rock,
        [store],
        index_json([(manifest, version)]),
        [manifest, config_blob, layer.descriptor],
        mtime=0,
    )
    return rock


@pytest.fixture
def rocks(tmp_path) -> tuple[Path, Path]:
    return make_rock(tmp_path, "amd64"), make_rock(tmp_path, "arm64", "v8")


def entry(digest_char: str, platform) -> Descriptor:
    return Descriptor(MEDIA_TYPE_MANIFEST, "sha256:" + digest_char * 64, 100, platform=platform)


# The document


def test_an_index_is_sorted_by_platform_whatever_the_order_given():
    amd64, arm64 = entry("a", AMD64), entry("b", ARM64)
    raw = image_index([arm64, amd64])
    assert raw == image_index([amd64, arm64])
    assert json.loads(raw) == {
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE_INDEX,
        "manifests": [
            {"mediaType": MEDIA_TYPE_MANIFEST, "digest": amd64.digest, "size": 100,
             "platform": {"architecture": "amd64", "os": "linux"}},
            {"mediaType": MEDIA_TYPE_MANIFEST, "digest": arm64.digest, "size": 100,
             "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
        ],
    }  # fmt: skip
    assert raw == canonical_json(json.loads(raw))


def test_an_index_has_one_image_per_platform():
    with pytest.raises(ImageIndexError, match="Two images are for linux/amd64"):
        image_index([entry("a", AMD64), entry("c", AMD64)])
    assert len(json.loads(image_index([entry("a", AMD64), entry("a", AMD64)]))["manifests"]) == 1
    with pytest.raises(ImageIndexError, match="has no platform"):
        image_index([entry("a", ())])
    with pytest.raises(ImageIndexError, match="at least one image"):
        image_index([])


def test_an_entry_keeps_no_annotation_and_only_the_platform_keys():
    manifest = Descriptor(
        MEDIA_TYPE_MANIFEST, "sha256:" + "a" * 64, 7, annotations=(("x", "y"),), platform=AMD64
    )
    assert index_entry(manifest, AMD64).to_json() == {
        "mediaType": MEDIA_TYPE_MANIFEST,
        "digest": manifest.digest,
        "size": 7,
        "platform": {"architecture": "amd64", "os": "linux"},
    }
    assert config_platform({"architecture": "arm", "os": "linux", "variant": "v7"}, "c") == (
        ("architecture", "arm"),
        ("os", "linux"),
        ("variant", "v7"),
    )


# The multi-platform rock


def test_the_index_rock_holds_the_rocks_images_unchanged(rocks, tmp_path):
    amd64, arm64 = rocks
    index_rock = write_index_rock([arm64, amd64], tmp_path, "multi")
    assert index_rock == tmp_path / "multi_1.0.rock"
    contents = read_rock_contents(index_rock)
    assert isinstance(contents, RockIndex)
    assert contents.ref_name == "1.0"
    assert contents.platforms == (AMD64, ARM64)
    singles = [read_rock(amd64), read_rock(arm64)]
    assert [i.manifest.digest for i in contents.images] == [i.manifest.digest for i in singles]
    assert [i.raw for i in contents.images] == [i.raw for i in singles]
    assert contents.image_for((("architecture", "arm64"), ("os", "linux"))) == contents.images[1]
    assert contents.image_for((("architecture", "s390x"), ("os", "linux"))) is None
    with tarfile.open(index_rock) as archive:
        assert {m.mtime for m in archive.getmembers()} == {1700000000}
        top = json.loads(archive.extractfile("index.json").read())  # type: ignore[union-attr]
    assert top["manifests"] == [
        {
            "mediaType": MEDIA_TYPE_INDEX,
            "digest": "sha256:" + hashlib.sha256(contents.raw).hexdigest(),
            "size": len(contents.raw),
            "annotations": {"org.opencontainers.image.ref.name": "1.0"},
        }
    ]
    (tmp_path / "again").mkdir()
    again = write_index_rock([amd64, arm64], tmp_path / "again", "multi")
    assert again.read_bytes() == index_rock.read_bytes()


def test_a_command_of_one_platform_refuses_the_index_rock_by_name(rocks, tmp_path):
    index_rock = write_index_rock(list(rocks), tmp_path, "multi")
    with pytest.raises(RockArchiveError) as info:
        read_rock(index_rock)
    assert "multi-platform rock (an index of linux/amd64, linux/arm64/v8)" in info.value.brief


def test_load_takes_the_hosts_image_of_an_index_rock(rocks, tmp_path, monkeypatch):
    index_rock = write_index_rock(list(rocks), tmp_path, "multi")
    monkeypatch.setattr(publish, "host_arch", lambda: "arm64")
    image = publish.image_for_host(index_rock)
    assert image.manifest.digest == read_rock(rocks[1]).manifest.digest
    monkeypatch.setattr(publish, "host_arch", lambda: "s390x")
    with pytest.raises(RockpackError, match=r"no image for this host \(s390x\)"):
        publish.image_for_host(index_rock)


def test_rocks_of_different_versions_make_no_index(tmp_path):
    one = make_rock(tmp_path, "amd64", version="1.0")
    two = make_rock(tmp_path, "arm64", "v8", version="2.0")
    with pytest.raises(ImageIndexError, match=r"2 versions \(1.0, 2.0\)"):
        write_index_rock([one, two], tmp_path, "multi")


def test_an_index_rock_needs_a_directory_to_go_to(tmp_path):
    assert index_rock_directory(None, tmp_path) == tmp_path
    assert index_rock_directory(tmp_path / "out", tmp_path) == tmp_path / "out"
    with pytest.raises(PackError, match="must be a directory"):
        index_rock_directory(tmp_path / "x.rock", tmp_path)


def forged_index_rock(directory: Path, rocks: tuple[Path, Path], entries: list[dict]) -> Path:
    """An index rock holding ``rocks``' blobs and an index blob of ``entries``."""
    store = BlobStore(directory / "forged")
    blobs = []
    for rock in rocks:
        image = read_rock(rock)
        with tarfile.open(rock) as archive:
            for member in archive.getmembers():
                if member.name.startswith("blobs/sha256/") and member.isfile():
                    data = archive.extractfile(member).read()  # type: ignore[union-attr]
                    store.put_bytes(data, "application/octet-stream")
        blobs += [image.manifest, *image.blobs]
    raw = canonical_json({"schemaVersion": 2, "mediaType": MEDIA_TYPE_INDEX, "manifests": entries})
    index = store.put_bytes(raw, MEDIA_TYPE_INDEX)
    rock = directory / "forged.rock"
    write_oci_archive(rock, [store], index_json([(index, "1.0")]), [index, *blobs], mtime=0)
    return rock


def test_an_index_naming_the_wrong_platform_for_an_image_is_refused(rocks, tmp_path):
    amd64 = read_rock(rocks[0]).manifest
    lie = index_entry(amd64, ARM64).to_json()
    with pytest.raises(RockArchiveError) as info:
        read_rock_contents(forged_index_rock(tmp_path, rocks, [lie]))
    assert "lists " + amd64.digest + " for linux/arm64/v8" in info.value.brief
    assert "config says linux/amd64" in info.value.brief


def test_an_index_with_a_missing_or_nested_or_doubled_image_is_refused(rocks, tmp_path):
    amd64 = read_rock(rocks[0]).manifest
    missing = index_entry(Descriptor(MEDIA_TYPE_MANIFEST, "sha256:" + "0" * 64, 9), AMD64)
    nested = {**index_entry(amd64, AMD64).to_json(), "mediaType": MEDIA_TYPE_INDEX}
    twice = [index_entry(amd64, AMD64).to_json()] * 2
    for entries, problem in (
        ([missing.to_json()], "is missing"),
        ([nested], "not an image manifest"),
        (twice, "two images for linux/amd64"),
        ([], "lists 0 images"),
    ):
        directory = tmp_path / str(uuid.uuid4())
        directory.mkdir()
        with pytest.raises(RockpackError, match=problem):
            read_rock_contents(forged_index_rock(directory, rocks, entries))


# A registry on loopback, just enough of the distribution API, logging every request


class Registry(http.server.BaseHTTPRequestHandler):
    repos: ClassVar[dict[str, dict[str, dict[str, tuple[str, bytes]]]]] = {}
    log: ClassVar[list[tuple[str, str]]] = []
    uploads: ClassVar[dict[str, str]] = {}

    def _repo(self, name: str) -> dict[str, dict[str, tuple[str, bytes]]]:
        return self.repos.setdefault(name, {"blobs": {}, "manifests": {}})

    def _route(self) -> tuple[str, str, str]:
        path = urlsplit(self.path).path
        if path.startswith("/upload/"):
            return "", "upload", path.rsplit("/", 1)[1]
        head, kind, ref = path.removeprefix("/v2/").rpartition("/")
        repo, _, kind = head.rpartition("/")
        if kind == "uploads":
            repo, kind = repo.rpartition("/")[0], "uploads"
        return repo, kind, ref

    def _answer(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None):
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        self.log.append((self.command, self.path))
        repo, kind, ref = self._route()
        found = self._repo(repo)[kind].get(ref) if kind in ("blobs", "manifests") else None
        if found is None:
            return self._answer(404, b"{}")
        media_type, body = found
        return self._answer(200, body, {"Content-Type": media_type})

    def do_POST(self):
        self.log.append((self.command, self.path))
        repo, _, _ = self._route()
        query = parse_qs(urlsplit(self.path).query)
        if "mount" in query:
            source = self._repo(query["from"][0])["blobs"].get(query["mount"][0])
            if source is not None:
                self._repo(repo)["blobs"][query["mount"][0]] = source
                return self._answer(201)
        upload = uuid.uuid4().hex
        self.uploads[upload] = repo
        return self._answer(202, headers={"Location": f"/upload/{upload}"})

    def do_PUT(self):
        self.log.append((self.command, self.path))
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        repo, kind, ref = self._route()
        if kind == "upload":
            self._repo(self.uploads.pop(ref))["blobs"][digest] = ("application/octet-stream", body)
            return self._answer(201)
        media_type = self.headers["Content-Type"]
        manifests = self._repo(repo)["manifests"]
        children = json.loads(body).get("manifests", []) if media_type == MEDIA_TYPE_INDEX else []
        if any(child["digest"] not in manifests for child in children):
            return self._answer(400, b'{"errors":[{"code":"MANIFEST_BLOB_UNKNOWN"}]}')
        manifests[ref] = manifests[digest] = (media_type, body)
        return self._answer(201, headers={"Docker-Content-Digest": digest})

    def log_message(self, *args):
        pass


@pytest.fixture
def registry() -> Iterator[str]:
    Registry.repos, Registry.log, Registry.uploads = {}, [], {}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Registry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def client() -> RegistryClient:
    return RegistryClient(timeout=10, retries=0)


def test_several_rocks_are_pushed_by_digest_then_indexed_under_the_tag(rocks, registry, tmp_path):
    report = publish.push_rocks(list(rocks), f"{registry}/team/app", client())
    expected = read_rock_contents(write_index_rock(list(rocks), tmp_path, "multi"))
    assert isinstance(expected, RockIndex)
    assert report.digest == "sha256:" + hashlib.sha256(expected.raw).hexdigest()
    assert report.reference == f"{registry}/team/app:1.0@{report.digest}"
    puts = [path for method, path in Registry.log if method == "PUT" and "/manifests/" in path]
    digests = [image.manifest.digest for image in expected.images]
    assert sorted(puts[:2]) == sorted(f"/v2/team/app/manifests/{d}" for d in digests)
    assert puts[2:] == ["/v2/team/app/manifests/1.0"]  # the tag last
    assert report.images == (f"linux/amd64 {digests[0]}", f"linux/arm64/v8 {digests[1]}")
    assert report.uploaded == 4 and report.present == 0  # a layer and a config each


def test_an_index_rock_is_pushed_with_its_own_index(rocks, registry, tmp_path):
    index_rock = write_index_rock(list(rocks), tmp_path, "multi")
    contents = read_rock_contents(index_rock)
    assert isinstance(contents, RockIndex)
    report = publish.push_rocks([index_rock], f"{registry}/team/app:stable", client())
    assert report.digest == contents.descriptor.digest
    assert Registry.repos["team/app"]["manifests"]["stable"][1] == contents.raw
    again = publish.push_rocks([index_rock], f"{registry}/team/app:stable", client())
    assert again.uploaded == 0 and again.present == 4  # blobs the registry has are skipped


def push_by_digest(rock: Path, registry: str, repository: str) -> RockImage:
    image = read_rock(rock)
    publish.push_rocks([rock], f"{registry}/{repository}@{image.manifest.digest}", client())
    return image


def blob_gets(since: int = 0) -> set[str]:
    return {
        path.rsplit("/", 1)[1]
        for method, path in Registry.log[since:]
        if method == "GET" and "/blobs/" in path
    }


def test_an_index_is_assembled_from_digests_reading_no_layer(rocks, registry, tmp_path):
    amd64, arm64 = (push_by_digest(rock, registry, "ci/app") for rock in rocks)
    assert "1.0" not in Registry.repos["ci/app"]["manifests"]  # by digest: no tag
    start = len(Registry.log)
    report = publish.assemble_index(
        f"{registry}/ci/app:1.0", [arm64.manifest.digest, "@" + amd64.manifest.digest], client()
    )
    expected = read_rock_contents(write_index_rock(list(rocks), tmp_path, "multi"))
    assert isinstance(expected, RockIndex)
    assert report.digest == expected.descriptor.digest
    assert blob_gets(start) == {amd64.config.digest, arm64.config.digest}
    writes = [(m, p) for m, p in Registry.log[start:] if m in ("PUT", "POST")]
    assert writes == [("PUT", "/v2/ci/app/manifests/1.0")]


def test_images_of_another_repository_are_mounted_not_pulled(rocks, registry):
    amd64, arm64 = (push_by_digest(rock, registry, "builders/app") for rock in rocks)
    start = len(Registry.log)
    sources = [f"{registry}/builders/app@{i.manifest.digest}" for i in (amd64, arm64)]
    report = publish.assemble_index(f"{registry}/release/app:1.0", sources, client())
    assert report.mounted == 4
    assert blob_gets(start) == {amd64.config.digest, arm64.config.digest}
    release = Registry.repos["release/app"]
    assert {amd64.manifest.digest, arm64.manifest.digest} <= release["manifests"].keys()
    assert release["manifests"][amd64.manifest.digest][1] == amd64.raw  # its exact bytes
    assert not [p for m, p in Registry.log[start:] if p.startswith("/upload/")]


def test_an_index_source_gives_its_images(rocks, registry, tmp_path):
    index_rock = write_index_rock(list(rocks), tmp_path, "multi")
    first = publish.push_rocks([index_rock], f"{registry}/a/app:1.0", client())
    report = publish.assemble_index(f"{registry}/b/app:1.0", [f"{registry}/a/app:1.0"], client())
    assert report.digest == first.digest


def test_what_an_index_cannot_be_made_of_is_refused_before_any_request(registry):
    digest = "sha256:" + "a" * 64
    with pytest.raises(RockpackError, match="names no tag"):
        publish.assemble_index(f"{registry}/ci/app", [digest], client())
    with pytest.raises(RockpackError, match="in another registry") as info:
        publish.assemble_index(f"{registry}/ci/app:1", [f"ghcr.io/x/app@{digest}"], client())
    assert "pulls none" in info.value.details
    assert Registry.log == []


def test_a_digest_that_is_not_the_rocks_is_refused(rocks, registry):
    with pytest.raises(RockpackError, match="names the digest"):
        publish.push_rocks([rocks[0]], f"{registry}/ci/app@sha256:{'b' * 64}", client())
    assert Registry.log == []


def test_attestation_artifacts_follow_the_images_in_one_order_whatever_came_first():
    from rockpack.oci.index import ArtifactEntry

    amd, arm = (
        Descriptor(MEDIA_TYPE_MANIFEST, "sha256:" + c * 64, 10, platform=p)
        for c, p in (("a", AMD64), ("b", ARM64))
    )
    sbom = ArtifactEntry(
        Descriptor(MEDIA_TYPE_MANIFEST, "sha256:" + "c" * 64, 5), "application/spdx+json"
    )
    prov = ArtifactEntry(
        Descriptor(MEDIA_TYPE_MANIFEST, "sha256:" + "1" * 64, 6, (("k", "v"),)),
        "application/vnd.in-toto+json",
    )
    one = image_index([arm, amd], [prov, sbom, sbom])
    assert one == image_index([amd, arm], [sbom, prov])
    listed = json.loads(one)["manifests"]
    assert [e["digest"][7] for e in listed] == ["a", "b", "c", "1"]
    assert listed[3] == {
        "mediaType": MEDIA_TYPE_MANIFEST,
        "digest": "sha256:" + "1" * 64,
        "size": 6,
        "annotations": {"k": "v"},
        "artifactType": "application/vnd.in-toto+json",
        "platform": {"architecture": "unknown", "os": "unknown"},
    }
    assert image_index([amd, arm]) == image_index([amd, arm], [])  # none: as before
