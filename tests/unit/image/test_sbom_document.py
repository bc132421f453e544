"""The SBOM of a prime dir: packages attributed to parts, unclaimed files summarised, and
an SPDX 2.3 document that is valid, byte-stable and free of host paths."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from rockpack.build.lifecycle import LifecycleResult
from rockpack.image.attestations import (
    AttestationRequest,
    attestation_documents,
    attestation_entries,
)
from rockpack.image.sbom.collect import PrimeInputs, base_components, prime_inventory
from rockpack.image.sbom.dpkg import DebPackage, Distro
from rockpack.image.sbom.model import BASE, UNATTRIBUTED
from rockpack.image.sbom.spdx import BaseDescription, RockDescription, spdx_document
from rockpack.image.sbom.summary import sbom_summary
from rockpack.image.spec import RockInfo
from rockpack.oci.artifacts import PROVENANCE_FILE, SBOM_FILE
from rockpack.oci.blobs import BlobStore, Descriptor
from rockpack.oci.compress import DEFAULT
from rockpack.oci.entries import Kind
from rockpack.oci.inspect_rock import ORIGIN_ANNOTATION
from rockpack.oci.layer import Layer
from rockpack.project.attestations import Attestations, without_attestations
from rockpack.project.model import LoadedProject, validate_project
from rockpack.project.yaml_source import parse_yaml
from tests.conftest import MINIMAL, require_module
from tests.unit.image.test_sbom_readers import build_deb

DEBIAN = Distro("debian", "debian-12")
CREATED = "2023-11-14T22:13:20Z"


def make_prime(root: Path) -> dict[str, frozenset[str]]:
    """A prime dir with a Python distribution, an npm package and loose files; return
    which part primed what."""
    site = root / "prime/usr/lib/python3/dist-packages"
    (site / "flask-3.0.3.dist-info").mkdir(parents=True)
    (site / "flask").mkdir()
    (site / "flask/__init__.py").write_text("")
    (site / "flask-3.0.3.dist-info/METADATA").write_text(
        "Name: Flask\nVersion: 3.0.3\nLicense-Expression: BSD-3-Clause\n"
    )
    (site / "flask-3.0.3.dist-info/RECORD").write_text(
        "flask/__init__.py,,\nflask-3.0.3.dist-info/METADATA,,\nflask-3.0.3.dist-info/RECORD,,\n"
    )
    modules = root / "prime/srv/node_modules/left-pad"
    modules.mkdir(parents=True)
    (modules / "package.json").write_text('{"name": "left-pad", "version": "1.3.0"}')
    (modules / "index.js").write_text("x")
    (root / "prime/srv/main.js").write_text("12345")
    (root / "prime/srv/lost.txt").write_text("no part lists me")
    (root / "prime/usr/bin").mkdir(parents=True)
    (root / "prime/usr/bin/demo").write_text("#!/bin/sh\n")
    prime = root / "prime"
    files = {
        str(p.relative_to(prime)) for p in prime.rglob("*") if p.name not in ("lost.txt", "demo")
    }
    return {"app": frozenset(files), "tools": frozenset({"usr/bin/demo", "usr/bin"})}


def inventory_of(tmp_path: Path):
    primed = make_prime(tmp_path)
    deb = build_deb(tmp_path)  # installs usr/bin/demo, primed by 'tools'
    inputs = PrimeInputs(
        prime_dir=tmp_path / "prime",
        primed_by_part=primed,
        stage_package_dirs={"tools": deb.parent},
        parts={"tools": {"plugin": "nil"}, "app": {"plugin": "dump"}},
        build_distro=DEBIAN,
        base_distro=DEBIAN,
    )
    return prime_inventory(inputs)


def test_packages_belong_to_the_part_that_put_them_in_the_rock(tmp_path):
    inventory = inventory_of(tmp_path)
    by_name = {c.name: c for c in inventory.components}
    assert by_name["demo"].owner == "tools"
    assert by_name["demo"].purl == "pkg:deb/debian/demo@1.0-1?arch=amd64&distro=debian-12"
    assert (by_name["Flask"].owner, by_name["Flask"].purl) == ("app", "pkg:pypi/flask@3.0.3")
    assert by_name["left-pad"].location == "srv/node_modules/left-pad"
    # srv/main.js is the app's and no package's; srv/lost.txt is no part's
    assert inventory.unclaimed["app"].files == 1 and inventory.unclaimed["app"].size == 5
    assert inventory.unclaimed[UNATTRIBUTED].files == 1
    assert "tools" not in inventory.unclaimed  # its one file is the deb's


def test_a_staged_deb_none_of_whose_files_were_primed_is_left_out(tmp_path):
    primed = make_prime(tmp_path)
    (tmp_path / "prime/usr/bin/demo").unlink()
    deb = build_deb(tmp_path)
    inputs = PrimeInputs(
        tmp_path / "prime", primed, {"tools": deb.parent}, {"tools": {}, "app": {}}, DEBIAN, DEBIAN
    )
    assert "demo" not in {c.name for c in prime_inventory(inputs).components}


def rock_description(**changes) -> RockDescription:
    base = BaseDescription(
        "debian@12",
        "docker.io/library/debian",
        "bookworm",
        "sha256:" + "1" * 64,
        ("sha256:" + "2" * 64,),
    )
    values = {
        "name": "demo",
        "version": "1.0",
        "architecture": "amd64",
        "created": CREATED,
        "license": "Apache-2.0",
        "base": base,
        "part_layers": {"app": ("sha256:" + "3" * 64,), "tools": ("sha256:" + "4" * 64,)},
    }
    return RockDescription(**{**values, **changes})


def document_of(tmp_path: Path) -> tuple[bytes, dict]:
    inventory = inventory_of(tmp_path)
    base = base_components(
        [DebPackage("libc6", "2.36-9", "amd64", source="glibc")],
        {"libc6": "LGPL-2.1-or-later"},
        DEBIAN,
    )
    inventory = type(inventory)(base + inventory.components, inventory.unclaimed)
    raw = spdx_document(rock_description(), inventory)
    return raw, json.loads(raw)


def test_the_document_is_spdx_2_3_and_validates(tmp_path):
    raw, document = document_of(tmp_path)
    assert document["spdxVersion"] == "SPDX-2.3" and document["creationInfo"]["created"] == CREATED
    parser = require_module("spdx_tools.spdx.parser.parse_anything")
    validation = require_module("spdx_tools.spdx.validation.document_validator")
    path = tmp_path / "sbom.spdx.json"
    path.write_bytes(raw)
    assert validation.validate_full_spdx_document(parser.parse_file(str(path))) == []


def test_relationships_say_where_each_package_came_from(tmp_path):
    _, document = document_of(tmp_path)
    packages = {p["SPDXID"]: p for p in document["packages"]}
    contains = {
        packages[r["relatedSpdxElement"]]["name"]: (
            packages[r["spdxElementId"]]["name"],
            r.get("comment", ""),
        )
        for r in document["relationships"]
        if r["relationshipType"] == "CONTAINS"
    }
    assert contains["libc6"][0] == "debian"  # the base image's package
    assert contains["demo"][0] == "tools" and contains["Flask"][0] == "app"
    assert contains["app"] == ("demo", f"In the rock's layer with diff_id sha256:{'3' * 64}.")
    assert contains["debian"][1].endswith(f"sha256:{'2' * 64}.")
    describes = [r for r in document["relationships"] if r["relationshipType"] == "DESCRIBES"]
    assert describes == [
        {
            "spdxElementId": "SPDXRef-DOCUMENT",
            "relationshipType": "DESCRIBES",
            "relatedSpdxElement": "SPDXRef-Rock",
        }
    ]
    rock = packages["SPDXRef-Rock"]
    assert (rock["licenseDeclared"], rock["primaryPackagePurpose"], rock["builtDate"]) == (
        "Apache-2.0",
        "CONTAINER",
        CREATED,
    )
    assert "1 file (16 bytes)" in rock["comment"]  # no part lists srv/lost.txt
    libc = next(p for p in packages.values() if p["name"] == "libc6")
    assert libc["licenseDeclared"] == "LGPL-2.1-or-later"
    assert libc["sourceInfo"] == "built from the source package glibc"


def test_the_same_inputs_give_the_same_bytes_and_the_namespace_follows_the_content(tmp_path):
    first, _ = document_of(tmp_path / "a")
    second, _ = document_of(tmp_path / "b")  # another directory, the same content
    assert first == second
    assert str(tmp_path).encode() not in first
    inventory = inventory_of(tmp_path / "c")
    other = json.loads(spdx_document(rock_description(version="1.1"), inventory))
    assert other["documentNamespace"] != json.loads(first)["documentNamespace"]
    assert json.loads(first)["documentNamespace"].startswith(
        "https://rockpack.invalid/spdxdocs/demo-1.0-amd64-"
    )


def test_the_summary_counts_by_origin(tmp_path):
    _, document = document_of(tmp_path)
    summary = sbom_summary(document)
    assert {"from": "base", "ecosystem": "deb", "packages": 1} in summary["counts"]
    assert {"from": "part:app", "ecosystem": "pypi", "packages": 1} in summary["counts"]
    assert {p["name"] for p in summary["added_by_parts"]} == {"demo", "Flask", "left-pad"}
    assert summary["licensed"] == 3  # libc6, Flask, demo (its DEP-5 copyright)


def project(extra: str = ""):
    text = textwrap.dedent(MINIMAL).lstrip() + textwrap.dedent(extra)
    return validate_project(parse_yaml(Path("rockpack.yaml"), text)).project


LAYERS = [
    (
        Descriptor(
            DEFAULT.media_type, "sha256:" + "5" * 64, 10, ((ORIGIN_ANNOTATION, "part:app"),)
        ),
        "sha256:" + "6" * 64,
    ),
    (
        Descriptor(
            DEFAULT.media_type, "sha256:" + "7" * 64, 10, ((ORIGIN_ANNOTATION, "metadata"),)
        ),
        "sha256:" + "8" * 64,
    ),
]


def request_for(tmp_path: Path, extra: str = "") -> AttestationRequest:
    primed = make_prime(tmp_path)
    (tmp_path / "rockpack.yaml").write_text(textwrap.dedent(MINIMAL))
    info = RockInfo(project(extra), "1.0", "amd64", "amd64", CREATED)
    result = LifecycleResult(tmp_path / "prime", tmp_path / "parts", {}, {}, primed)
    return AttestationRequest(
        info=info,
        project_dir=tmp_path,
        project_file=tmp_path / "rockpack.yaml",
        result=result,
        base=None,
        cache=BlobStore(tmp_path / "cache"),
        layers=[(dict(d.annotations)[ORIGIN_ANNOTATION], diff_id) for d, diff_id in LAYERS],
        compression="gzip:1",
        build_mode="destructive",
        epoch=1700000000,
    )


def test_both_attestations_by_default_and_each_can_be_turned_off(tmp_path):
    documents = attestation_documents(request_for(tmp_path / "a"))
    assert [d.path for d in documents] == [SBOM_FILE, PROVENANCE_FILE]
    sbom = json.loads(documents[0].content)
    (part,) = [p["SPDXID"] for p in sbom["packages"] if p["name"] == "app"]
    (relation,) = [r for r in sbom["relationships"] if r["relatedSpdxElement"] == part]
    assert relation["comment"] == f"In the rock's layer with diff_id sha256:{'6' * 64}."
    statement = json.loads(documents[1].content)
    assert [s["name"] for s in statement["subject"]] == ["layer 1: part:app", "layer 2: metadata"]
    only_sbom = attestation_documents(
        request_for(tmp_path / "b", "attestations:\n  provenance: false\n")
    )
    assert [d.path for d in only_sbom] == [SBOM_FILE]
    none = attestation_documents(
        request_for(tmp_path / "c", "attestations:\n  sbom: false\n  provenance: false\n")
    )
    assert none == []


def test_the_pack_step_puts_the_attestation_layer_under_the_metadata_layer(tmp_path):
    from rockpack.pack import BuildOptions, attestations

    request = request_for(tmp_path)
    loaded = LoadedProject(request.info.project, request.project_file, None)  # type: ignore[arg-type]
    store = BlobStore(tmp_path / "store")
    layers = [Layer(descriptor, diff_id) for descriptor, diff_id in LAYERS]
    comments = ["part: app", "rock metadata"]
    step = (loaded, request.info, request.result, None, layers, comments, store, BuildOptions(), 7)
    attested, attested_comments, documents = attestations(*step)
    assert sorted(d.path for d in documents) == [PROVENANCE_FILE, SBOM_FILE]
    assert [dict(la.descriptor.annotations)[ORIGIN_ANNOTATION] for la in attested] == [
        "part:app",
        "attestations",
        "metadata",
    ]
    assert attested_comments[1].startswith("rock attestations")
    assert attested_comments[-1] == "rock metadata"
    off = without_attestations(loaded)
    assert attestations(off, *step[1:]) == (layers, comments, [])


def test_the_attestation_entries(tmp_path):
    documents = attestation_documents(request_for(tmp_path))
    entries = attestation_entries(documents, 7)
    assert [(e.path, e.kind) for e in entries] == [
        (".rock", Kind.DIR),
        (PROVENANCE_FILE, Kind.FILE),
        (SBOM_FILE, Kind.FILE),
    ]
    assert all(e.mtime == 7 and e.uid == e.gid == 0 for e in entries)


def test_the_project_key_and_the_flag():
    assert project().attestations is None
    assert project("attestations:\n  sbom: false\n").attestations == Attestations(sbom=False)
    from rockpack.errors import ProjectFileErrors

    with pytest.raises(ProjectFileErrors, match="sboms"):
        project("attestations:\n  sboms: false\n")
    loaded = LoadedProject(project(), Path("rockpack.yaml"), None)  # type: ignore[arg-type]
    off = without_attestations(loaded).project.attestations
    assert off == Attestations(sbom=False, provenance=False)


def test_base_components_belong_to_the_base():
    (component,) = base_components([DebPackage("dpkg", "1.21.22", "amd64")], {}, DEBIAN)
    assert (component.owner, component.license) == (BASE, None)
    assert component.purl == "pkg:deb/debian/dpkg@1.21.22?arch=amd64&distro=debian-12"


def test_a_name_that_is_not_utf8_leaves_the_document_valid(tmp_path):
    primed = make_prime(tmp_path)
    odd = os.fsdecode(b"srv/caf\xe9")
    (tmp_path / "prime" / odd).mkdir()
    (tmp_path / "prime" / odd / "menu").write_text("x")
    primed["app"] = primed["app"] | {odd, f"{odd}/menu"}
    inputs = PrimeInputs(tmp_path / "prime", primed, {}, {"app": {}, "tools": {}}, DEBIAN, DEBIAN)
    raw = spdx_document(rock_description(), prime_inventory(inputs))
    document = json.loads(raw.decode("utf-8"))  # strict: valid UTF-8
    (part,) = [p for p in document["packages"] if p["name"] == "app"]
    assert "srv/caf\ufffd (1)" in part["comment"]
