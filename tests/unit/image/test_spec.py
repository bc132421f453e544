"""Image config, manifest and metadata made from a project."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import yaml

from rockpack.image.spec import (
    DEFAULT_PATH,
    RockInfo,
    image_spec,
    metadata_entries,
    needs_pebble,
    rfc3339,
    runtime_config,
)
from rockpack.oci.blobs import BlobStore
from rockpack.oci.image import MEDIA_TYPE_MANIFEST, index_json, referenced_blobs, write_image
from rockpack.oci.layer import write_layer
from rockpack.project.model import validate_project
from rockpack.project.yaml_source import parse_yaml
from tests.conftest import MINIMAL


def project(extra: str = ""):
    text = textwrap.dedent(MINIMAL).lstrip() + textwrap.dedent(extra)
    return validate_project(parse_yaml(Path("rockpack.yaml"), text)).project


def test_entrypoint_command_sets_entrypoint_and_cmd():
    runtime = runtime_config(project())
    assert runtime.entrypoint == ["/bin/hello"]
    assert runtime.cmd == ["world"]


def test_env_gets_a_default_path_and_is_sorted():
    runtime = runtime_config(project("environment:\n  ZED: z\n  ALPHA: a\n"))
    assert runtime.to_json()["Env"] == ["ALPHA=a", f"PATH={DEFAULT_PATH}", "ZED=z"]
    runtime = runtime_config(project("environment:\n  PATH: /opt/bin\n"))
    assert runtime.env["PATH"] == "/opt/bin"


def test_run_user_sets_a_numeric_user():
    assert runtime_config(project("run-user: _daemon_\n")).user == "584792:584792"


def test_pebble_is_needed_unless_entrypoint_command_without_services():
    assert not needs_pebble(project())
    services = "services:\n  s:\n    override: replace\n    command: /bin/s\n"
    assert needs_pebble(project(services))


def test_rfc3339():
    assert rfc3339(0) == "1970-01-01T00:00:00Z"
    assert rfc3339(1700000000) == "2023-11-14T22:13:20Z"


def info(**extra):
    return RockInfo(
        project=project("license: MIT\n"),
        version="1.0",
        platform="amd64",
        build_for="amd64",
        created=rfc3339(1700000000),
        **extra,
    )


def test_image_config_and_manifest(tmp_path):
    store = BlobStore(tmp_path)
    layers = [write_layer(metadata_entries(info(), 1700000000), store)]
    manifest = write_image(store, image_spec(info(), ["rock metadata"]), layers)
    document = json.loads(store.read_bytes(manifest.digest))
    assert document["mediaType"] == MEDIA_TYPE_MANIFEST
    config = json.loads(store.read_bytes(document["config"]["digest"]))
    assert config["architecture"] == "amd64" and config["os"] == "linux"
    assert config["created"] == "2023-11-14T22:13:20Z"
    assert config["rootfs"]["diff_ids"] == [layers[0].diff_id]
    assert len(config["history"]) == len(layers)
    labels = config["config"]["Labels"]
    assert labels["org.opencontainers.image.version"] == "1.0"
    assert labels["org.opencontainers.image.licenses"] == "MIT"
    assert labels["org.opencontainers.image.title"] == "hello"
    assert document["annotations"] == labels
    assert [b.digest for b in referenced_blobs(store, manifest)] == [
        manifest.digest,
        document["config"]["digest"],
        layers[0].descriptor.digest,
    ]
    index = json.loads(index_json([(manifest, "1.0")]))
    entry = index["manifests"][0]
    assert entry["annotations"] == {"org.opencontainers.image.ref.name": "1.0"}
    assert entry["platform"] == {"architecture": "amd64", "os": "linux"}


def test_arm64_gets_its_variant(tmp_path):
    arm = RockInfo(
        project=project(), version="1", platform="arm64", build_for="arm64", created=rfc3339(0)
    )
    spec = image_spec(arm, [])
    assert (spec.architecture, spec.variant) == ("arm64", "v8")


def test_metadata_layer_content():
    entries = metadata_entries(info(), 123)
    assert [e.path for e in entries] == [".rock", ".rock/metadata.yaml"]
    document = yaml.safe_load(entries[1].content)
    assert document["name"] == "hello" and document["version"] == "1.0"
    assert document["base"] == "bare" and document["build-base"] == "debian@12"
    assert entries[1].size == len(entries[1].content)
    assert all(e.mtime == 123 and e.uid == 0 for e in entries)
