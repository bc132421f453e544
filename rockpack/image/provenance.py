"""SLSA provenance of a rock: an in-toto Statement (v1) with the SLSA Provenance v1
predicate, byte-stable.

- subject: the rock's layers this statement sits beside, by diff_id (the sha256 of
  each uncompressed layer tar, as the image config lists them). The statement is in the
  rock, so it cannot name the manifest that contains it; as an OCI artifact its
  ``subject`` descriptor names that manifest.
- externalParameters: what the user chose: the project file (its name and sha256), the
  platform, the compression, the layering.
- internalParameters: what rockpack chose: how it built (on the host, or in a clean LXD
  instance), its version, the source date.
- resolvedDependencies: the parts' sources (digest or commit), the base image (its
  manifest digest), the Pebble binary, the stage-packages (each .deb's sha256).
- runDetails.builder: rockpack, and how it built. No start or finish time (the clock is
  never read), no invocation id, no host path, no environment variable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from rockpack import __version__
from rockpack.image.part_sources import PartSource

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "https://rockpack.invalid/provenance/pack/v1"
BUILDER_PREFIX = "https://rockpack.invalid/builders/"
LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"


@dataclass(frozen=True)
class Dependency:
    name: str
    uri: str
    digest: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BuildFacts:
    """What the provenance states, all decided before it is written."""

    project_file: str  # its name, e.g. rockpack.yaml
    project_sha256: str
    platform: str
    build_for: str
    compression: str  # gzip:1
    layering: str  # part:16, single
    build_mode: str  # 'destructive' (on the host) or 'lxd' (in a clean instance)
    source_date_epoch: int
    layers: list[tuple[str, str]]  # (what the layer holds, diff_id) of the rock's layers
    sources: list[PartSource] = field(default_factory=list)
    dependencies: list[Dependency] = field(default_factory=list)  # base, Pebble, debs


def provenance_statement(facts: BuildFacts) -> bytes:
    """The statement, as indented JSON with sorted keys and a final newline."""
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [
            {
                "name": f"layer {number}: {label}",
                "digest": {"sha256": diff_id.removeprefix("sha256:")},
                "mediaType": LAYER_TAR,
            }
            for number, (label, diff_id) in enumerate(facts.layers, start=1)
        ],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "project": {
                        "path": facts.project_file,
                        "digest": {"sha256": facts.project_sha256},
                    },
                    "platform": facts.platform,
                    "buildFor": facts.build_for,
                    "compression": facts.compression,
                    "layering": facts.layering,
                },
                "internalParameters": {
                    "buildMode": facts.build_mode,
                    "rockpackVersion": __version__,
                    "sourceDateEpoch": facts.source_date_epoch,
                },
                "resolvedDependencies": _dependencies(facts),
            },
            "runDetails": {
                "builder": {
                    "id": f"{BUILDER_PREFIX}{facts.build_mode}",
                    "version": {"rockpack": __version__},
                },
            },
        },
    }
    text = json.dumps(statement, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace").encode()


def _dependencies(facts: BuildFacts) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for source in facts.sources:
        entry: dict[str, Any] = {"name": f"part:{source.part}", "uri": source.uri}
        if source.digest:
            entry["digest"] = dict(source.digest)
        found.append(entry)
    for dependency in facts.dependencies:
        entry = {"name": dependency.name, "uri": dependency.uri}
        if dependency.digest:
            entry["digest"] = dict(dependency.digest)
        found.append(entry)
    return sorted(found, key=lambda e: (e["name"], e["uri"]))
