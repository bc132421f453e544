"""Which platforms build here, and the refusal of foreign-architecture rocks."""

from __future__ import annotations

from pathlib import Path

import pytest

from rockpack.build.targets import BuildTarget, build_targets, refuse_foreign_targets
from rockpack.errors import PlatformError
from rockpack.project.model import validate_project
from rockpack.project.yaml_source import parse_yaml

CROSS = """\
name: cross
version: "1"
summary: s
description: d
base: bare
build-base: debian@12
entrypoint-command: /bin/true
platforms:
  amd64:
  arm64:
    build-on: [amd64]
    build-for: [arm64]
parts:
  p:
    plugin: nil
"""


def project():
    return validate_project(parse_yaml(Path("rockpack.yaml"), CROSS)).project


def test_a_cross_platform_is_a_target_on_its_build_on_host():
    targets = build_targets(project(), platform=None, build_for=None, host="amd64")
    assert targets == [BuildTarget("amd64", "amd64"), BuildTarget("arm64", "arm64")]


def test_a_foreign_target_is_refused_with_its_name_and_a_fix():
    targets = build_targets(project(), platform="arm64", build_for=None, host="amd64")
    with pytest.raises(PlatformError, match="'arm64' \\(for arm64\\)") as info:
        refuse_foreign_targets(targets, host="amd64")
    assert "--build-for amd64" in info.value.resolution


def test_native_targets_pass():
    refuse_foreign_targets([BuildTarget("amd64", "amd64")], host="amd64")
