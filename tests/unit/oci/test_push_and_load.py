"""push and load without a registry or podman: what they say and how they name things."""

from __future__ import annotations

import pytest

from rockpack import publish
from rockpack.oci.rock_archive import RockArchiveError, read_rock
from rockpack.oci.rock_metadata import RockIdentity, rock_identity
from tests.unit.oci.rock_fixtures import make_rock


class FakeEmit:
    def __init__(self) -> None:
        self.said: list[str] = []

    def progress(self, text: str, permanent: bool = False) -> None:
        self.said.append(text)

    def message(self, text: str) -> None:
        self.said.append(text)


class FakeClient:
    def __init__(self, events: list[str]) -> None:
        self.events = events

    def blob_exists(self, reference, digest):
        self.events.append(f"HEAD {reference}")
        return True

    def mount_blob(self, *args):
        raise AssertionError("no base to mount from")

    def put_manifest(self, reference, media_type, raw):
        import hashlib

        self.events.append(f"PUT {reference}")
        return "sha256:" + hashlib.sha256(raw).hexdigest()


@pytest.fixture
def said(monkeypatch):
    fake = FakeEmit()
    monkeypatch.setattr(publish, "emit", fake)
    return fake.said


def test_a_reference_without_a_host_says_it_means_docker_hub_before_going_there(tmp_path, said):
    rock = make_rock(tmp_path)
    events: list[str] = []
    report = publish.push(rock, "myapp:1", client=FakeClient(events))
    assert said and "means Docker Hub" in said[0] and "docker.io/library/myapp:1" in said[0]
    assert events[0].startswith("HEAD docker.io/library/myapp:1")  # said before any request
    digest = read_rock(rock).manifest.digest
    assert report.reference == f"docker.io/library/myapp:1@{digest}"


def test_the_full_reference_pushed_has_the_rocks_version_as_tag(tmp_path, said):
    rock = make_rock(tmp_path, version="2.5")
    report = publish.push(rock, "127.0.0.1:5000/team/app", client=FakeClient([]))
    assert report.reference.startswith("127.0.0.1:5000/team/app:2.5@sha256:")
    assert said == []  # a host was named: no Docker Hub note


def test_a_bad_rock_is_refused_before_any_request(tmp_path, said):
    bogus = tmp_path / "x.rock"
    bogus.write_bytes(b"junk")
    events: list[str] = []
    with pytest.raises(RockArchiveError):
        publish.push(bogus, "127.0.0.1:5000/a/b:1", client=FakeClient(events))
    assert events == []


@pytest.mark.parametrize(
    ("name", "version", "image"),
    [
        ("try-init", "0.1", "try-init:0.1"),
        ("My Rock", "1.0+git.abc", "my-rock:1.0-git.abc"),
        ("", "", "rock:latest"),
        ("../../x", "..", "x:latest"),
    ],
)
def test_image_names_are_valid_whatever_the_rock_says(name, version, image):
    assert publish.image_name(RockIdentity(name, version)) == image


def test_load_names_the_image_from_inside_the_rock_not_its_file(tmp_path):
    rock = make_rock(tmp_path, name="try-init", version="0.1")
    renamed = rock.rename(tmp_path / "My Rock.rock")
    identity = rock_identity(read_rock(renamed))
    assert publish.image_name(identity) == "try-init:0.1"
