"""``attestations: in-index``: the SBOM and provenance listed in the .rock's own index, as
BuildKit lays out an attested image, and read by skopeo, podman, umoci (after a copy)
and rockpack's own commands as the one image the rock is."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import require_tool, run_rockpack, write_project

pytestmark = pytest.mark.integration

PROJECT = """
    name: attested
    version: "2.1"
    summary: Attestations in the index
    description: A bare rock whose index lists its SBOM and provenance.
    license: Apache-2.0
    base: bare
    build-base: debian@12
    platforms:
      amd64:
    entrypoint-command: /hello
    attestations:
      in-index: {in_index}
    parts:
      files:
        plugin: dump
        source: files
"""
INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
KINDS = ["application/spdx+json", "application/vnd.in-toto+json"]


def pack(directory: Path, in_index: bool) -> tuple[Path, str]:
    """The rock and the digest ``pack`` printed for it."""
    write_project(directory, PROJECT.format(in_index=str(in_index).lower()))
    (directory / "files").mkdir()
    (directory / "files/hello").write_text("hello\n")
    result = run_rockpack(
        "pack", "--destructive-mode", "--project-dir", directory, env={"SOURCE_DATE_EPOCH": "1"}
    )
    assert result.returncode == 0, result.stderr[-4000:]
    (rock,) = directory.glob("*.rock")
    digest = (result.stdout + result.stderr).split("(sha256:")[1].split(")")[0]
    return rock, f"sha256:{digest}"


def archive(rock: Path) -> dict[str, bytes]:
    with tarfile.open(rock) as tar:
        return {
            m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }


def blob(files: dict[str, bytes], digest: str) -> bytes:
    return files[f"blobs/sha256/{digest.removeprefix('sha256:')}"]


@pytest.fixture(scope="module")
def attested(tmp_path_factory) -> tuple[Path, str]:
    return pack(tmp_path_factory.mktemp("attested") / "p", True)


def test_the_index_lists_the_image_and_its_attestations(attested):
    rock, digest = attested
    files = archive(rock)
    (top,) = json.loads(files["index.json"])["manifests"]
    assert top["mediaType"] == INDEX
    assert top["annotations"] == {"org.opencontainers.image.ref.name": "2.1"}
    entries = json.loads(blob(files, top["digest"]))["manifests"]
    images = [e for e in entries if e["platform"]["os"] != "unknown"]
    assert [(e["digest"], e["platform"]) for e in images] == [
        (digest, {"architecture": "amd64", "os": "linux"})
    ]
    artifacts = [
        e for e in entries if e["platform"] == {"architecture": "unknown", "os": "unknown"}
    ]
    assert sorted(e["artifactType"] for e in artifacts) == KINDS
    image = json.loads(blob(files, digest))
    attestation_layer = image["layers"][-2]
    with tarfile.open(
        fileobj=__import__("io").BytesIO(blob(files, attestation_layer["digest"]))
    ) as t:
        in_rock = {m.name: t.extractfile(m).read() for m in t.getmembers() if m.isfile()}  # type: ignore[union-attr]
    for entry in artifacts:
        manifest = json.loads(blob(files, entry["digest"]))
        assert manifest["subject"]["digest"] == digest
        assert manifest["artifactType"] == entry["artifactType"]
        (layer,) = manifest["layers"]
        name = (
            ".rock/sbom.spdx.json"
            if "spdx" in entry["artifactType"]
            else ".rock/provenance.intoto.json"
        )
        assert blob(files, layer["digest"]) == in_rock[name]
        blob(files, manifest["config"]["digest"])  # present


def test_skopeo_podman_and_umoci_read_the_image(attested, tmp_path, podman_env):
    rock, digest = attested
    skopeo, umoci = require_tool("skopeo"), require_tool("umoci")
    layout = tmp_path / "layout"
    subprocess.run([skopeo, "copy", "-q", f"oci-archive:{rock}", f"oci:{layout}:t"], check=True)
    (copied,) = json.loads((layout / "index.json").read_text())["manifests"]
    assert copied["digest"] == digest  # the platform's image, the artifacts passed by
    subprocess.run([umoci, "unpack", "--image", f"{layout}:t", str(tmp_path / "b")], check=True)
    assert (tmp_path / "b/rootfs/hello").read_text() == "hello\n"
    loaded = run_rockpack("load", rock, env=podman_env)
    assert loaded.returncode == 0, loaded.stderr
    listed = subprocess.run(
        ["podman", "image", "inspect", "attested:2.1"],
        capture_output=True,
        text=True,
        env={**os.environ, **podman_env},
        check=True,
    )
    assert json.loads(listed.stdout)[0]["Architecture"] == "amd64"


def test_push_sends_the_image_and_the_same_artifacts(attested, registry):
    rock, digest = attested
    files = archive(rock)
    (top,) = json.loads(files["index.json"])["manifests"]
    in_archive = {
        e["digest"]
        for e in json.loads(blob(files, top["digest"]))["manifests"]
        if e["platform"]["os"] == "unknown"
    }
    pushed = run_rockpack("push", rock, f"{registry.host}/team/attested")
    assert pushed.returncode == 0, pushed.stderr
    request = urllib.request.Request(
        f"http://{registry.host}/v2/team/attested/manifests/2.1", headers={"Accept": MANIFEST}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.headers["Docker-Content-Digest"] == digest  # the tag names the image
    request = urllib.request.Request(
        f"http://{registry.host}/v2/team/attested/manifests/sha256-{digest[7:]}",
        headers={"Accept": INDEX},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        referrers = {e["digest"] for e in json.loads(answer.read())["manifests"]}
    assert referrers == in_archive


def test_off_by_default_the_index_names_the_image(tmp_path):
    rock, digest = pack(tmp_path / "p", False)
    (top,) = json.loads(archive(rock)["index.json"])["manifests"]
    assert (top["mediaType"], top["digest"]) == (MANIFEST, digest)


def test_a_damaged_artifact_is_refused(attested, tmp_path):
    rock, _ = attested
    files = archive(rock)
    (top,) = json.loads(files["index.json"])["manifests"]
    index = json.loads(blob(files, top["digest"]))
    artifact = next(e for e in index["manifests"] if e["platform"]["os"] == "unknown")
    name = f"blobs/sha256/{artifact['digest'][7:]}"
    broken = tmp_path / "broken.rock"
    with tarfile.open(rock) as source, tarfile.open(broken, "w") as out:
        for member in source.getmembers():
            if member.name == name:
                continue  # the artifact manifest is missing
            out.addfile(member, source.extractfile(member) if member.isfile() else None)
    result = run_rockpack("inspect", broken)
    assert result.returncode != 0
    assert "not a valid rock" in result.stderr and artifact["digest"] in result.stderr


def index_digest(rock: Path) -> str:
    (top,) = json.loads(archive(rock)["index.json"])["manifests"]
    return top["digest"]


def registry_manifest(registry, repository: str, ref: str) -> tuple[str, dict]:
    request = urllib.request.Request(
        f"http://{registry.host}/v2/{repository}/manifests/{ref}",
        headers={"Accept": f"{INDEX}, {MANIFEST}"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.headers["Docker-Content-Digest"], json.loads(answer.read())


@pytest.fixture(scope="module")
def indexed(tmp_path_factory) -> tuple[Path, Path, str]:
    """``pack --index`` of the in-index project: its platform rock, its index rock, and
    the image digest."""
    directory = tmp_path_factory.mktemp("indexed") / "p"
    write_project(directory, PROJECT.format(in_index="true"))
    (directory / "files").mkdir()
    (directory / "files/hello").write_text("hello\n")
    result = run_rockpack(
        "pack",
        "--destructive-mode",
        "--index",
        "--project-dir",
        directory,
        env={"SOURCE_DATE_EPOCH": "1"},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    platform_rock = directory / "attested_2.1_amd64.rock"
    digest = json.loads(blob(archive(platform_rock), index_digest(platform_rock)))["manifests"][0]
    return platform_rock, directory / "attested_2.1.rock", digest["digest"]


def test_the_index_rock_lists_the_attestations_and_every_path_gives_its_digest(indexed, registry):
    platform_rock, index_rock, image = indexed
    files = archive(index_rock)
    entries = json.loads(blob(files, index_digest(index_rock)))["manifests"]
    assert [e["platform"]["os"] for e in entries] == ["linux", "unknown", "unknown"]
    assert entries[0]["digest"] == image
    for entry in entries[1:]:
        assert json.loads(blob(files, entry["digest"]))["subject"]["digest"] == image

    pushed = run_rockpack("push", index_rock, f"{registry.host}/team/multi:rock")
    assert pushed.returncode == 0, pushed.stderr
    assert registry_manifest(registry, "team/multi", "rock")[0] == index_digest(index_rock)

    pushed = run_rockpack("push", platform_rock, f"{registry.host}/team/multi:plain")
    assert pushed.returncode == 0, pushed.stderr
    made = run_rockpack("index", "--attestations", f"{registry.host}/team/multi:made", image)
    assert made.returncode == 0, made.stderr
    assert registry_manifest(registry, "team/multi", "made")[0] == index_digest(index_rock)

    elsewhere = run_rockpack(
        "index",
        "--attestations",
        f"{registry.host}/team/other:made",
        f"{registry.host}/team/multi@{image}",
    )
    assert elsewhere.returncode == 0, elsewhere.stderr
    digest, listed = registry_manifest(registry, "team/other", "made")
    assert digest == index_digest(index_rock)
    for entry in listed["manifests"][1:]:  # the artifacts were linked in, not just named
        assert registry_manifest(registry, "team/other", entry["digest"])[1]["subject"] == {
            "digest": image,
            "mediaType": MANIFEST,
            "size": entries[0]["size"],
        }

    without = run_rockpack("index", f"{registry.host}/team/multi:images", image)
    assert without.returncode == 0, without.stderr
    _, images_only = registry_manifest(registry, "team/multi", "images")
    assert [e["digest"] for e in images_only["manifests"]] == [image]


def test_skopeo_takes_the_image_from_the_index_rock(indexed, tmp_path):
    _, index_rock, image = indexed
    skopeo = require_tool("skopeo")
    layout = tmp_path / "layout"
    subprocess.run(
        [skopeo, "copy", "-q", f"oci-archive:{index_rock}", f"oci:{layout}:t"], check=True
    )
    (copied,) = json.loads((layout / "index.json").read_text())["manifests"]
    assert copied["digest"] == image


def test_inspect_names_the_artifacts_the_index_lists(attested):
    rock, _ = attested
    shown = run_rockpack("inspect", rock, "--format", "json")
    assert shown.returncode == 0, shown.stderr
    listed = json.loads(shown.stdout)["index_artifacts"]
    assert sorted(kind for kind, _ in listed) == KINDS
    text = run_rockpack("inspect", rock).stdout
    assert "index     application/spdx+json sha256:" in text
