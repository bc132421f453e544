"""SBOM and provenance of real rocks: on the Debian base, with stage-packages,
overlay-packages and language packages; validated by the SPDX project's own tools, pushed
to a real docker-registry and found there from the image digest through the fallback tag.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import textwrap
import urllib.request
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest

from rockpack.image.sbom.dpkg import installed_packages
from rockpack.oci.artifacts import PROVENANCE_FILE, SBOM_FILE
from rockpack.oci.rock_archive import read_rock
from tests.conftest import require_file, require_module, require_tool, run_rockpack, write_project
from tests.go_programs import EXPECTED_DEPS, build_programs, expected_from_go_version
from tests.integration.conftest import BASE_EPOCH, ROOTFS_CACHE
from tests.integration.oci_tools import layer_tar, rock_config, validate_rock
from tests.integration.pebble_binary import PEBBLE_ARCHIVE, write_pebble

pytestmark = pytest.mark.integration

EPOCH = "1700000000"
PLAIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PROJECT = """
    name: sbom-check
    version: "1"
    summary: SBOM and provenance
    description: A rock on Debian with stage-packages and language packages.
    license: Apache-2.0
    base: debian@12
    platforms:
      amd64:
    entrypoint-command: /usr/bin/hello
    parts:
      tools:
        plugin: nil
        stage-packages: [hello]
      app:
        plugin: dump
        source: app
"""
FLASK_METADATA = """\
Metadata-Version: 2.4
Name: Flask
Version: 3.0.3
License-Expression: BSD-3-Clause

A long description that is not a header.
"""


def make_app(project: Path) -> None:
    """Language packages and loose files, as a dump part puts them in the rock."""
    app = project / "app"
    site = app / "usr/lib/python3/dist-packages"
    (site / "flask-3.0.3.dist-info").mkdir(parents=True)
    (site / "flask").mkdir()
    (site / "flask/__init__.py").write_text("")
    (site / "flask-3.0.3.dist-info/METADATA").write_text(FLASK_METADATA)
    (site / "flask-3.0.3.dist-info/RECORD").write_text(
        "flask/__init__.py,,\nflask-3.0.3.dist-info/METADATA,,\nflask-3.0.3.dist-info/RECORD,,\n"
    )
    modules = app / "srv/app/node_modules"
    for name, version, licence in (
        ("left-pad", "1.3.0", "WTFPL"),
        ("@types/node", "20.1.0", "MIT"),
    ):
        (modules / name).mkdir(parents=True)
        document = {"name": name, "version": version, "license": licence}
        (modules / name / "package.json").write_text(json.dumps(document))
        (modules / name / "index.js").write_text("module.exports = 1;\n")
    (app / "srv/app/main.js").write_text("require('left-pad');\n")
    (app / "srv/app/README").write_text("not in any package\n")
    (app / "opt/lib").mkdir(parents=True)
    with zipfile.ZipFile(app / "opt/lib/demo.jar", "w") as jar:  # dated, so the same bytes
        properties = "groupId=org.example\nartifactId=demo\nversion=1.2.3\n"
        for name, text in (
            ("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n"),
            ("META-INF/maven/org.example/demo/pom.properties", properties),
        ):
            jar.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), text)
    if PEBBLE_ARCHIVE.is_file():  # a real Go program (Pebble, built with Go's build info)
        (app / "opt/bin").mkdir(parents=True)
        write_pebble(PEBBLE_ARCHIVE, app / "opt/bin/go-tool")


OVERLAY_PART = """\
      extra:
        plugin: nil
        overlay-packages: [tree]
"""


def pack(project: Path, env: dict[str, str], *args: str) -> Path:
    result = run_rockpack(
        "pack",
        "--destructive-mode",
        "--project-dir",
        project,
        *args,
        env={**env, "SOURCE_DATE_EPOCH": EPOCH},
    )
    assert result.returncode == 0, result.stderr[-6000:]
    (rock,) = project.glob("*.rock")
    return rock


def attestation(rock: Path, path: str) -> bytes:
    """A file of the rock's attestation layer (the one under the metadata layer)."""
    with layer_tar(rock, -2) as tar:
        member = tar.extractfile(path)
        assert member is not None
        return member.read()


@pytest.fixture(scope="module")
def module_env(debian_base, tmp_path_factory) -> dict[str, str]:
    return {
        "ROCKPACK_REGISTRY_MIRROR": debian_base.registry.host,
        "XDG_CACHE_HOME": str(tmp_path_factory.mktemp("cache")),
    }


@pytest.fixture(scope="module")
def packed(module_env, tmp_path_factory) -> dict[str, Path]:
    """The project packed in two directories, and once more with --no-attestations."""
    env = module_env
    rocks = {}
    for name in ("first", "second", "plain"):
        project = tmp_path_factory.mktemp(name) / "sbom-check"
        write_project(project, PROJECT)
        make_app(project)
        rocks[name] = pack(project, env, *(["--no-attestations"] if name == "plain" else []))
    return rocks


@pytest.fixture(scope="module")
def sbom(packed) -> dict:
    return json.loads(attestation(packed["first"], SBOM_FILE))


@pytest.fixture(scope="module")
def statement(packed) -> dict:
    return json.loads(attestation(packed["first"], PROVENANCE_FILE))


def contained_by(sbom: dict, container: str) -> list[dict]:
    """The packages ``container`` (an SPDX id, or a part's name) CONTAINS."""
    packages = {p["SPDXID"]: p for p in sbom["packages"]}
    if not container.startswith("SPDXRef-"):
        (container,) = [
            i
            for i, p in packages.items()
            if p["name"] == container and i.startswith("SPDXRef-Part-")
        ]
    return [
        packages[r["relatedSpdxElement"]]
        for r in sbom["relationships"]
        if r["spdxElementId"] == container and r["relationshipType"] == "CONTAINS"
    ]


def purl_of(package: dict) -> str:
    (ref,) = [r for r in package.get("externalRefs", []) if r["referenceType"] == "purl"]
    return ref["referenceLocator"]


def by_name(packages: list[dict]) -> dict[str, dict]:
    return {p["name"]: p for p in packages}


def depends_on(sbom: dict) -> set[tuple[str, str]]:
    return {
        (r["spdxElementId"], r["relatedSpdxElement"])
        for r in sbom["relationships"]
        if r["relationshipType"] == "DEPENDS_ON"
    }


def test_the_sbom_validates_with_the_spdx_tools(packed, tmp_path):
    parser = require_module("spdx_tools.spdx.parser.parse_anything")
    validation = require_module("spdx_tools.spdx.validation.document_validator")
    path = tmp_path / "sbom.spdx.json"
    path.write_bytes(attestation(packed["first"], SBOM_FILE))
    document = parser.parse_file(str(path))
    assert validation.validate_full_spdx_document(document) == []
    written = run_rockpack("sbom", packed["first"], "--output", tmp_path / "out.spdx.json")
    assert written.returncode == 0, written.stderr
    assert (tmp_path / "out.spdx.json").read_bytes() == path.read_bytes()


def test_the_base_packages_are_the_installed_packages_of_its_dpkg_status(sbom):
    with tarfile.open(ROOTFS_CACHE / f"bookworm-minbase-{BASE_EPOCH}.tar") as rootfs:
        status = rootfs.extractfile("./var/lib/dpkg/status").read().decode()
    installed = installed_packages(status)
    stanzas = [s for s in status.split("\n\n") if "Status: install ok installed" in s]
    assert len(installed) == len(stanzas) > 50
    base = contained_by(sbom, "SPDXRef-Base")
    assert len(base) == len(installed)
    assert sorted((p["name"], p["versionInfo"]) for p in base) == sorted(
        (p.name, p.version) for p in installed
    )
    purls = {purl_of(p) for p in base}
    assert (
        f"pkg:deb/debian/dpkg@{quote(by_name(base)['dpkg']['versionInfo'])}?arch=amd64&distro=debian-12"
        in purls
    )
    # licences come from the machine-readable copyright files, where every licence maps
    licensed = [p for p in base if p["licenseDeclared"] != "NOASSERTION"]
    assert len(licensed) >= 20
    assert by_name(base)["grep"]["licenseDeclared"] == "GPL-3.0-or-later"
    assert by_name(base)["perl-base"]["licenseDeclared"] == "NOASSERTION"  # not all map


def test_a_stage_package_appears_with_its_exact_version(packed, sbom):
    project = packed["first"].parent
    (deb,) = (project / ".rockpack/work/amd64/parts/tools/stage_packages").glob("hello_*.deb")
    version = subprocess.run(
        [require_tool("dpkg-deb"), "-f", deb, "Version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    hello = by_name(contained_by(sbom, "tools"))["hello"]
    assert hello["versionInfo"] == version
    assert (
        purl_of(hello)
        == f"pkg:deb/debian/hello@{quote(version, safe=':')}?arch=amd64&distro=debian-12"
    )
    assert hello["checksums"] == [
        {"algorithm": "SHA256", "checksumValue": hashlib.sha256(deb.read_bytes()).hexdigest()}
    ]


def test_an_overlay_package_appears_with_its_exact_version(module_env, tmp_path):
    """overlay-packages are read from dpkg's status in the prime dir; the base's own
    packages stay the base's."""
    project = tmp_path / "sbom-check"
    write_project(project, PROJECT + OVERLAY_PART)
    make_app(project)
    rock = pack(project, module_env)
    sbom = json.loads(attestation(rock, SBOM_FILE))
    prime_status = (project / ".rockpack/work/amd64/prime/var/lib/dpkg/status").read_text()
    (tree,) = [p for p in installed_packages(prime_status) if p.name == "tree"]
    extra = by_name(contained_by(sbom, "extra"))
    assert extra["tree"]["versionInfo"] == tree.version
    assert purl_of(extra["tree"]).endswith("?arch=amd64&distro=debian-12")
    assert len(extra) == 1  # the base's packages are not listed again
    validation = require_module("spdx_tools.spdx.validation.document_validator")
    parser = require_module("spdx_tools.spdx.parser.parse_anything")
    path = tmp_path / "sbom.spdx.json"
    path.write_bytes(attestation(rock, SBOM_FILE))
    assert validation.validate_full_spdx_document(parser.parse_file(str(path))) == []


def test_language_packages_and_unclaimed_files_are_listed_by_part(sbom):
    app = by_name(contained_by(sbom, "app"))
    assert purl_of(app["Flask"]) == "pkg:pypi/flask@3.0.3"
    assert app["Flask"]["licenseDeclared"] == "BSD-3-Clause"
    assert purl_of(app["left-pad"]) == "pkg:npm/left-pad@1.3.0"
    assert purl_of(app["@types/node"]) == "pkg:npm/%40types/node@20.1.0"
    assert app["@types/node"]["licenseDeclared"] == "MIT"
    assert purl_of(app["org.example:demo"]) == "pkg:maven/org.example/demo@1.2.3"
    if PEBBLE_ARCHIVE.is_file():
        go = app["github.com/canonical/pebble"]  # a local build: its version is (devel)
        assert purl_of(go).startswith("pkg:golang/github.com/canonical/pebble")
        assert purl_of(app["stdlib"]).startswith("pkg:golang/stdlib@1.")
        # Pebble's release build replaced each dependency by a local directory
        x_sys = app["golang.org/x/sys"]
        assert purl_of(x_sys) == "pkg:golang/golang.org/x/sys" and "versionInfo" not in x_sys
        assert "in place of v0.46.0" in x_sys["comment"] and "/tmp/" not in x_sys["comment"]
        assert (go["SPDXID"], x_sys["SPDXID"]) in depends_on(sbom)
    (part,) = [p for p in sbom["packages"] if p["SPDXID"].startswith("SPDXRef-Part-app")]
    assert "2 files" in part["comment"] and "srv/app (2)" in part["comment"]
    relations = [r for r in sbom["relationships"] if r["relatedSpdxElement"] == part["SPDXID"]]
    assert relations[0]["comment"].startswith("In the rock's layer with diff_id sha256:")


def test_provenance_names_inputs_and_parameters_without_host_paths(
    packed, sbom, statement, debian_base
):
    project = packed["first"].parent
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    definition = statement["predicate"]["buildDefinition"]
    external = definition["externalParameters"]
    assert external["project"] == {
        "path": "rockpack.yaml",
        "digest": {"sha256": hashlib.sha256((project / "rockpack.yaml").read_bytes()).hexdigest()},
    }
    assert (external["platform"], external["compression"]) == ("amd64", "gzip:1")
    assert definition["internalParameters"]["buildMode"] == "destructive"
    assert definition["internalParameters"]["rockpackVersion"]
    dependencies = {d["name"]: d for d in definition["resolvedDependencies"]}
    assert dependencies["base:debian@12"]["digest"] == {"sha256": debian_base.manifest_digest[7:]}
    assert dependencies["part:app"]["uri"] == "app"
    if shutil.which("git"):
        tree = git_write_tree(project / "app")
        assert dependencies["part:app"]["digest"] == {"gitTree": tree}
    assert "stage-package:tools:hello" in dependencies
    config = rock_config(packed["first"])
    attested = [s["digest"]["sha256"] for s in statement["subject"]]
    layers = read_rock(packed["first"]).layers
    assert ["sha256:" + d for d in attested] == [
        d
        for d, blob in zip(config["rootfs"]["diff_ids"], layers, strict=True)
        if dict(blob.annotations).get("io.rockpack.layer.origin") != "attestations"
    ]
    for document in (
        attestation(packed["first"], SBOM_FILE),
        attestation(packed["first"], PROVENANCE_FILE),
    ):
        text = document.decode()
        for secret in (
            str(project),
            str(project.parent),
            str(Path.home()) + "/",
            debian_base.registry.host,
        ):
            assert secret not in text


def git_write_tree(directory: Path) -> str:
    scratch = directory.parent / ".tree-check"
    shutil.copytree(directory, scratch)
    env = {**os.environ, "GIT_DIR": str(scratch / ".git"), "GIT_WORK_TREE": str(scratch)}
    subprocess.run(["git", "init", "-q"], env=env, check=True)
    subprocess.run(["git", "add", "-A"], env=env, check=True, cwd=scratch)
    tree = subprocess.run(
        ["git", "write-tree"], env=env, check=True, capture_output=True, text=True
    )
    shutil.rmtree(scratch)
    return tree.stdout.strip()


def test_packs_in_two_directories_give_the_same_documents_and_rock(packed):
    first, second = packed["first"], packed["second"]
    for path in (SBOM_FILE, PROVENANCE_FILE):
        assert attestation(first, path) == attestation(second, path)
    assert first.read_bytes() == second.read_bytes()
    validate_rock(first)


def test_no_attestations_leaves_them_out_and_the_other_layers_alone(packed):
    plain, full = read_rock(packed["plain"]), read_rock(packed["first"])
    origins = [dict(b.annotations).get("io.rockpack.layer.origin") for b in full.layers]
    assert origins.count("attestations") == 1 and origins[-1] == "metadata"
    assert [b.digest for b in plain.layers] == [
        b.digest for b, o in zip(full.layers, origins, strict=True) if o != "attestations"
    ]
    result = run_rockpack("sbom", packed["plain"])
    assert result.returncode != 0 and "holds no SBOM" in result.stderr
    assert "Traceback" not in result.stderr


def test_inspect_sbom_summarises_it(packed):
    result = run_rockpack("inspect", "--sbom", packed["first"])
    assert result.returncode == 0, result.stderr
    # Pebble v1.32.1: its main module, the standard library and 11 dependency modules
    golang = "13 golang, " if PEBBLE_ARCHIVE.is_file() else ""
    assert "base: 96 deb" in result.stdout
    assert f"part app: {golang}1 maven, 2 npm, 1 pypi" in result.stdout
    assert "Flask 3.0.3  pkg:pypi/flask@3.0.3  (BSD-3-Clause)" in result.stdout
    as_json = run_rockpack("inspect", "--sbom", "--format", "json", packed["first"])
    summary = json.loads(as_json.stdout)
    assert {"from": "part:app", "ecosystem": "npm", "packages": 2} in summary["counts"]


GO_PROJECT = """
    name: go-deps
    version: "1"
    summary: Go programs and their modules
    description: Two Go programs built with go build, with dependency modules.
    base: bare
    build-base: debian@12
    platforms:
      amd64:
    entrypoint-command: /usr/bin/hello
    parts:
      app:
        plugin: dump
        source: app
"""


def test_go_programs_list_their_dependency_modules_as_go_version_shows_them(tmp_path):
    """hello: a module from a (file://) proxy, a replaced one and a local directory; bye:
    the proxied one too. The SBOM in the packed rock matches ``go version -m``."""
    go = require_tool("go")
    project = tmp_path / "go-deps"
    write_project(project, GO_PROJECT)
    bin_dir = project / "app/usr/bin"
    env = build_programs(go, tmp_path / "work", bin_dir)
    rock = pack(project, {"XDG_CACHE_HOME": str(tmp_path / "cache")})
    raw = attestation(rock, SBOM_FILE)
    sbom = json.loads(raw)
    app = contained_by(sbom, "app")
    ids = {(p["name"], p.get("versionInfo", "")): p["SPDXID"] for p in app}
    mains = {"hello": "example.com/hello", "bye": "example.com/bye"}
    expected, uses = expected_from_go_version(go, bin_dir, env, mains)
    assert set(expected) == EXPECTED_DEPS
    for (name, version), go_sum in expected.items():
        (package,) = [p for p in app if p["SPDXID"] == ids[name, version]]
        assert purl_of(package) == f"pkg:golang/{name}" + (f"@{version}" if version else "")
        assert go_sum in package.get("comment", "")
    assert {p["name"] for p in app} == {"example.com/hello", "example.com/bye", "stdlib"} | {
        name for name, _ in expected
    }
    names = {p["SPDXID"]: p["name"] for p in sbom["packages"]}
    related = {(names[a], names[b]) for a, b in depends_on(sbom)}
    assert {pair for pair in related if pair[1] != "stdlib"} == uses
    assert str(tmp_path).encode() not in raw
    parser = require_module("spdx_tools.spdx.parser.parse_anything")
    validation = require_module("spdx_tools.spdx.validation.document_validator")
    (tmp_path / "sbom.spdx.json").write_bytes(raw)
    document = parser.parse_file(str(tmp_path / "sbom.spdx.json"))
    assert validation.validate_full_spdx_document(document) == []


def registry_get(registry: str, path: str, accept: str) -> tuple[bytes, dict]:
    request = urllib.request.Request(f"http://{registry}/v2/{path}", headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.read(), dict(answer.headers)


def test_pushed_attestations_are_found_from_the_image_digest(
    packed, registry, podman_env, tmp_path
):
    rock = packed["first"]
    digest = read_rock(rock).manifest.digest
    repository = "team/sbom-check"
    pushed = run_rockpack("push", rock, f"{registry.host}/{repository}")
    assert pushed.returncode == 0, pushed.stderr
    assert f"sha256-{digest[7:]}" in pushed.stderr + pushed.stdout
    again = run_rockpack("push", rock, f"{registry.host}/{repository}:latest")
    assert again.returncode == 0, again.stderr
    index_type = "application/vnd.oci.image.index.v1+json"
    manifest_type = "application/vnd.oci.image.manifest.v1+json"
    raw, _ = registry_get(registry.host, f"{repository}/manifests/sha256-{digest[7:]}", index_type)
    listed = json.loads(raw)["manifests"]
    assert sorted(e["artifactType"] for e in listed) == [
        "application/spdx+json",
        "application/vnd.in-toto+json",
    ]  # pushed twice, listed once
    expected = {
        "application/spdx+json": attestation(rock, SBOM_FILE),
        "application/vnd.in-toto+json": attestation(rock, PROVENANCE_FILE),
    }
    for entry in listed:
        raw, _ = registry_get(
            registry.host, f"{repository}/manifests/{entry['digest']}", manifest_type
        )
        manifest = json.loads(raw)
        assert manifest["subject"]["digest"] == digest
        (layer,) = manifest["layers"]
        blob, _ = registry_get(registry.host, f"{repository}/blobs/{layer['digest']}", "*/*")
        assert blob == expected[entry["artifactType"]]
    skopeo = require_tool("skopeo")
    inspected = subprocess.run(
        [skopeo, "inspect", "--tls-verify=false", f"docker://{registry.host}/{repository}:1"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(inspected.stdout)["Digest"] == digest
    subprocess.run(
        [
            skopeo,
            "copy",
            "-q",
            "--src-tls-verify=false",
            f"docker://{registry.host}/{repository}:1",
            f"oci:{tmp_path / 'copy'}:rock",
        ],
        check=True,
    )
    copied = json.loads((tmp_path / "copy/index.json").read_text())["manifests"][0]["digest"]
    assert copied == digest
    env = {**os.environ, **podman_env}
    pulled = subprocess.run(
        ["podman", "pull", "--tls-verify=false", f"{registry.host}/{repository}:1"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert pulled.returncode == 0, pulled.stderr
    run = subprocess.run(
        ["podman", "run", "--rm", f"{registry.host}/{repository}:1"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert (run.returncode, run.stdout) == (0, "Hello, world!\n"), run.stderr


@pytest.fixture
def pebble_binary(tmp_path) -> Path:
    require_file(PEBBLE_ARCHIVE, "the real Pebble archives are needed (see test-env.md)")
    (tmp_path / "pebble-bin").mkdir()
    return write_pebble(PEBBLE_ARCHIVE, tmp_path / "pebble-bin" / "pebble")


def test_the_flask_example_lists_flask_gunicorn_and_pebble(tmp_path, pebble_binary):
    """The flask-framework profile of `rockpack init`, packed: its SBOM lists Flask and
    gunicorn as pip installed them, and the Pebble rockpack put in the rock."""
    project = tmp_path / "flask-hello"
    project.mkdir()
    (project / "requirements.txt").write_text("flask\n")
    (project / "app.py").write_text(
        textwrap.dedent(
            """\
            import flask

            app = flask.Flask(__name__)
            """
        )
    )
    init = run_rockpack(
        "init", "--profile", "flask-framework", "--name", "flask-hello", "--project-dir", project
    )
    assert init.returncode == 0, init.stderr[-500:]
    env = {"PATH": PLAIN_PATH, "ROCKPACK_PEBBLE_SOURCE": str(pebble_binary)}
    rock = pack(project, env)
    sbom = json.loads(attestation(rock, SBOM_FILE))
    packages = {p["name"].lower(): p for p in sbom["packages"]}
    prime = project / ".rockpack/work/amd64/prime"
    for name in ("flask", "gunicorn"):
        (metadata,) = [
            m
            for m in prime.rglob("*.dist-info/METADATA")
            if m.parent.name.lower().startswith(f"{name}-")
        ]
        version = next(
            line.split(":", 1)[1].strip()
            for line in metadata.read_text().splitlines()
            if line.startswith("Version:")
        )
        assert packages[name]["versionInfo"] == version
        assert purl_of(packages[name]) == f"pkg:pypi/{name}@{version}"
    pebble = packages["pebble"]
    digest = hashlib.sha256(pebble_binary.read_bytes()).hexdigest()
    assert pebble["checksums"] == [{"algorithm": "SHA256", "checksumValue": digest}]
    assert purl_of(pebble).startswith("pkg:generic/pebble@")
    assert io.BytesIO(attestation(rock, PROVENANCE_FILE)).read().count(digest.encode()) == 1
    # Pebble's own Go modules, as its build info lists them, each a dependency of Pebble.
    ids = {p["SPDXID"]: p for p in sbom["packages"]}
    depends = {
        ids[r["relatedSpdxElement"]]["name"]
        for r in sbom["relationships"]
        if r["spdxElementId"] == pebble["SPDXID"] and r["relationshipType"] == "DEPENDS_ON"
    }
    go = require_tool("go")
    listed = subprocess.run(
        [go, "version", "-m", str(pebble_binary)], capture_output=True, text=True, check=True
    ).stdout
    modules = {line.split()[1] for line in listed.splitlines() if line.split()[:1] == ["dep"]}
    assert modules and modules | {"stdlib"} == depends
