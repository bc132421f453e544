"""Go programs in the SBOM with their dependency modules: named by what was built
(replacements honoured), one package per part and module whichever programs use it,
each program's main module DEPENDS_ON them; checked on crafted build info and on real
programs built offline with ``go build`` and read back with ``go version -m``."""

from __future__ import annotations

import json
from pathlib import Path

from rockpack.image.sbom.collect import PrimeInputs, prime_inventory
from rockpack.image.sbom.dpkg import Distro
from rockpack.image.sbom.go_modules import GoDependency, go_dependency, is_directory
from rockpack.image.sbom.spdx import RockDescription, component_id, spdx_document
from rockpack.pebble.go_buildinfo import GoModule
from tests.conftest import require_module, require_tool
from tests.go_programs import (
    EXPECTED_DEPS,
    build_programs,
    expected_from_go_version,
    go_version_deps,
)
from tests.unit.pebble.fakes import make_elf
from tests.unit.pebble.test_go_buildinfo_deps import SUM, blob

DEBIAN = Distro("debian", "debian-12")
ROCK = RockDescription("demo", "1.0", "amd64", "2023-11-14T22:13:20Z")
HOST_DIR = "/home/builder/src/greet"  # a directory replacement: a host path, never in the SBOM


def test_a_dep_is_named_by_what_was_built():
    plain = GoModule("golang.org/x/sys", "v0.46.0", SUM)
    assert go_dependency(plain) == GoDependency("golang.org/x/sys", "v0.46.0", SUM)
    by_module = GoModule(
        "example.com/old", "v1.0.0", "", GoModule("example.com/new", "v1.1.0", SUM)
    )
    assert go_dependency(by_module) == GoDependency(
        "example.com/new",
        "v1.1.0",
        SUM,
        "Replaces example.com/old v1.0.0 (a go.mod replace directive).",
    )
    for directory in ("./greet", HOST_DIR, "../x", "C:\\src\\greet", "example.com/no-version"):
        for version in ("(devel)", ""):
            local = GoModule("example.com/greet", "v0.1.0", "", GoModule(directory, version))
            assert go_dependency(local) == GoDependency(
                "example.com/greet",
                "",
                "",
                "Built from a local directory in place of v0.1.0 (a go.mod replace directive).",
            )
    assert go_dependency(GoModule("example.com/dev", "(devel)")).version == ""
    assert is_directory(".") and is_directory("/abs") and not is_directory("example.com/x")


def write_program(prime: Path, path: str, modinfo: str) -> None:
    file = prime / path
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_bytes(make_elf(buildinfo=blob(modinfo, b"go1.22.1")))
    file.chmod(0o755)


def crafted_prime(root: Path) -> PrimeInputs:
    """Two programs of 'app' sharing golang.org/x/sys, one of 'tools' using it too."""
    prime = root / "prime"
    sys_dep = f"dep\tgolang.org/x/sys\tv0.46.0\t{SUM}\n"
    write_program(
        prime,
        "usr/bin/a",
        "path\texample.com/a\nmod\texample.com/a\tv1.0.0\t\n"
        + sys_dep
        + "dep\texample.com/old\tv1.0.0\n=>\texample.com/new\tv1.1.0\th1:new=\n",
    )
    write_program(
        prime,
        "usr/bin/b",
        "path\texample.com/b\nmod\texample.com/b\t(devel)\t\n"
        + sys_dep
        + f"dep\texample.com/greet\tv0.1.0\n=>\t{HOST_DIR}\t(devel)\t\n"
        + "dep\tbroken line\n",
    )
    write_program(prime, "opt/c", "path\texample.com/c\nmod\texample.com/c\tv2.0.0\t\n" + sys_dep)
    primed = {
        "app": frozenset({"usr/bin/a", "usr/bin/b"}),
        "tools": frozenset({"opt/c"}),
    }
    parts = {"app": {"plugin": "dump"}, "tools": {"plugin": "dump"}}
    return PrimeInputs(prime, primed, {}, parts, DEBIAN, DEBIAN)


def golang_packages(document: dict) -> dict[tuple[str, str, str], dict]:
    """The golang packages by (part, name, version)."""
    packages = {p["SPDXID"]: p for p in document["packages"]}
    found = {}
    for relation in document["relationships"]:
        package = packages[relation["relatedSpdxElement"]]
        if relation["relationshipType"] == "CONTAINS" and purl(package).startswith("pkg:golang/"):
            part = packages[relation["spdxElementId"]]["name"]
            key = (part, package["name"], package.get("versionInfo", ""))
            assert key not in found
            found[key] = package
    return found


def purl(package: dict) -> str:
    refs = [r["referenceLocator"] for r in package.get("externalRefs", [])]
    return refs[0] if refs else ""


def depends_on(document: dict) -> set[tuple[str, str]]:
    """(program's main module, package) names for each DEPENDS_ON."""
    names = {p["SPDXID"]: p["name"] for p in document["packages"]}
    return {
        (names[r["spdxElementId"]], names[r["relatedSpdxElement"]])
        for r in document["relationships"]
        if r["relationshipType"] == "DEPENDS_ON"
    }


def validate(raw: bytes, tmp_path: Path) -> None:
    parser = require_module("spdx_tools.spdx.parser.parse_anything")
    validation = require_module("spdx_tools.spdx.validation.document_validator")
    path = tmp_path / "sbom.spdx.json"
    path.write_bytes(raw)
    assert validation.validate_full_spdx_document(parser.parse_file(str(path))) == []


def test_dependency_modules_are_packages_the_main_module_depends_on(tmp_path):
    inventory = prime_inventory(crafted_prime(tmp_path))
    (sys_app,) = [
        c for c in inventory.components if (c.name, c.owner) == ("golang.org/x/sys", "app")
    ]
    assert sys_app.dependency_of == ("usr/bin/a", "usr/bin/b")  # one package for both
    assert (sys_app.version, sys_app.location) == ("v0.46.0", "")
    assert sys_app.purl == "pkg:golang/golang.org/x/sys@v0.46.0"
    assert sys_app.comment == f"Go module checksum (go.sum) {SUM}."
    raw = spdx_document(ROCK, inventory)
    document = json.loads(raw)
    golang = golang_packages(document)
    assert set(golang) == {
        ("app", "example.com/a", "v1.0.0"),
        ("app", "example.com/b", ""),
        ("app", "stdlib", "1.22.1"),  # a module like the others: one for both programs
        ("app", "golang.org/x/sys", "v0.46.0"),
        ("app", "example.com/new", "v1.1.0"),
        ("app", "example.com/greet", ""),
        ("tools", "example.com/c", "v2.0.0"),
        ("tools", "stdlib", "1.22.1"),
        ("tools", "golang.org/x/sys", "v0.46.0"),  # another part: a package of its own
    }
    new = golang["app", "example.com/new", "v1.1.0"]
    assert purl(new) == "pkg:golang/example.com/new@v1.1.0"
    assert new["comment"] == (
        "Replaces example.com/old v1.0.0 (a go.mod replace directive). "
        "Go module checksum (go.sum) h1:new=."
    )
    assert "checksums" not in new  # an h1: hash is not the SHA256 of any file
    greet = golang["app", "example.com/greet", ""]
    assert purl(greet) == "pkg:golang/example.com/greet"  # no version: a local directory
    assert "in place of v0.1.0" in greet["comment"]
    assert depends_on(document) == {
        ("example.com/a", "golang.org/x/sys"),
        ("example.com/a", "example.com/new"),
        ("example.com/a", "stdlib"),
        ("example.com/b", "golang.org/x/sys"),
        ("example.com/b", "example.com/greet"),
        ("example.com/b", "stdlib"),
        ("example.com/c", "golang.org/x/sys"),
        ("example.com/c", "stdlib"),
    }
    assert HOST_DIR.encode() not in raw and b"broken" not in raw
    validate(raw, tmp_path)


def test_the_document_is_the_same_bytes_every_time_and_sorted(tmp_path):
    first = spdx_document(ROCK, prime_inventory(crafted_prime(tmp_path / "one")))
    second = spdx_document(ROCK, prime_inventory(crafted_prime(tmp_path / "two")))
    assert first == second
    relationships = json.loads(first)["relationships"]
    keys = [
        (r["spdxElementId"], r["relationshipType"], r["relatedSpdxElement"]) for r in relationships
    ]
    assert keys == sorted(set(keys))


def test_packages_differing_only_in_their_replacement_have_different_ids(tmp_path):
    prime = tmp_path / "prime"
    head = "path\texample.com/{0}\nmod\texample.com/{0}\tv1.0.0\t\n"
    write_program(prime, "a", head.format("a") + "dep\tx.example/m\tv1.0.0\n=>\t./m\t\t\n")
    write_program(prime, "b", head.format("b") + "dep\tx.example/m\tv1.1.0\n=>\t./m\t\t\n")
    inputs = PrimeInputs(prime, {"app": frozenset({"a", "b"})}, {}, {"app": {}}, DEBIAN, DEBIAN)
    inventory = prime_inventory(inputs)
    local = [c for c in inventory.components if c.name == "x.example/m"]
    assert [(c.version, c.dependency_of) for c in local] == [("", ("a",)), ("", ("b",))]
    assert len({component_id(c) for c in local}) == 2
    validate(spdx_document(ROCK, inventory), tmp_path)


def test_real_go_programs_with_dependencies_built_offline(tmp_path):
    go = require_tool("go")
    bin_dir = tmp_path / "prime/usr/bin"
    env = build_programs(go, tmp_path / "work", bin_dir)
    shown = go_version_deps(go, bin_dir / "hello", env)
    assert [d[0] for d, _ in shown] == ["example.com/greet", "example.com/old", "example.com/quote"]
    assert shown[0][1][0] == "./greet" and shown[1][1][:2] == ["example.com/newer", "v1.1.0"]
    assert shown[2][0][2].startswith("h1:")  # fetched from the proxy: go.sum's hash

    primed = {"app": frozenset({"usr/bin", "usr/bin/hello", "usr/bin/bye"})}
    inputs = PrimeInputs(tmp_path / "prime", primed, {}, {"app": {}}, DEBIAN, DEBIAN)
    raw = spdx_document(ROCK, prime_inventory(inputs))
    document = json.loads(raw)
    mains = {"hello": "example.com/hello", "bye": "example.com/bye"}
    expected, uses = expected_from_go_version(go, bin_dir, env, mains)
    dependencies = {
        (name, version): package
        for (_, name, version), package in golang_packages(document).items()
        if name != "stdlib" and package["primaryPackagePurpose"] != "APPLICATION"
    }
    assert set(dependencies) == set(expected) == EXPECTED_DEPS
    for (name, version), package in dependencies.items():
        assert purl(package) == f"pkg:golang/{name}" + (f"@{version}" if version else "")
        if expected[name, version]:
            assert f"Go module checksum (go.sum) {expected[name, version]}." in package["comment"]
    assert {(main, dep) for main, dep in depends_on(document) if dep != "stdlib"} == uses
    assert ("example.com/bye", "example.com/quote") in uses
    assert str(tmp_path).encode() not in raw
    validate(raw, tmp_path)


def test_a_module_with_and_without_a_sum_is_one_package(tmp_path):
    prime = tmp_path / "prime"
    head = "path\texample.com/{0}\nmod\texample.com/{0}\tv1.0.0\t\n"
    write_program(prime, "a", head.format("a") + f"dep\tx.example/m\tv1.0.0\t{SUM}\n")
    write_program(prime, "b", head.format("b") + "dep\tx.example/m\tv1.0.0\n")  # vendored
    inputs = PrimeInputs(prime, {"app": frozenset({"a", "b"})}, {}, {"app": {}}, DEBIAN, DEBIAN)
    (module,) = [c for c in prime_inventory(inputs).components if c.name == "x.example/m"]
    assert (module.dependency_of, module.comment) == (
        ("a", "b"),
        f"Go module checksum (go.sum) {SUM}.",
    )
