"""The pipeline's direction, kept by reading every module's imports.

project -> build -> base -> layer -> image -> pack; oci/ is the shared core; only named
modules touch the network; only oci/ reads or writes OCI layers; cli.py holds no logic.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "rockpack"
LATER_THAN_PROJECT = ("build", "base", "layer", "image", "pebble", "oci", "lxd", "pack", "publish")
NETWORK_IMPORTS = {
    "requests",
    "requests_unixsocket",
    "urllib3",
    "socket",
    "http.client",
    "urllib.request",
    "ssl",
    "httpx",
}
# The only modules allowed to open connections: the registry client, the LXD host proxy,
# the downloader of releases (Pebble, chisel) and the snapd client.
NETWORK_MODULES = {
    "rockpack.oci.registry",
    "rockpack.lxd.proxy",
    "rockpack.pebble.download",
    "rockpack.build.snaps",  # snapd's local socket: is there a snapd, does the store answer
}
LAYER_FORMAT_MODULES = (
    "rockpack.oci.layer",
    "rockpack.oci.layer_reader",
    "rockpack.oci.tar_stream",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-level imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


MODULES = {module_name(p): imports_of(p) for p in sorted(PACKAGE.rglob("*.py"))}


def importers_of(
    prefixes: tuple[str, ...] | set[str], modules: dict[str, set[str]] = MODULES
) -> dict[str, set[str]]:
    hits = {}
    for module, imported in modules.items():
        matched = {i for i in imported for p in prefixes if i == p or i.startswith(p + ".")}
        if matched:
            hits[module] = matched
    return hits


def in_stage(module: str, stage: str) -> bool:
    return module == f"rockpack.{stage}" or module.startswith(f"rockpack.{stage}.")


def test_the_stage_folders_exist():
    for stage in ("project", "build", "base", "layer", "image", "pebble", "oci", "lxd"):
        assert (PACKAGE / stage / "__init__.py").is_file(), stage
        assert ast.get_docstring(ast.parse((PACKAGE / stage / "__init__.py").read_text()))


def project_offenders(modules: dict[str, set[str]]) -> dict[str, set[str]]:
    later = tuple(f"rockpack.{stage}" for stage in LATER_THAN_PROJECT)
    return {m: i for m, i in importers_of(later, modules).items() if in_stage(m, "project")}


def test_project_imports_no_later_stage():
    assert project_offenders(MODULES) == {}


@pytest.mark.parametrize("stage", ["layer", "image", "project", "base"])
def test_stage_opens_no_connection(stage):
    offenders = {m: i for m, i in importers_of(NETWORK_IMPORTS).items() if in_stage(m, stage)}
    assert offenders == {}


def test_only_named_modules_open_connections():
    assert set(importers_of(NETWORK_IMPORTS)) <= NETWORK_MODULES
    assert "rockpack.oci.registry" in importers_of(NETWORK_IMPORTS)


def test_layers_are_written_and_read_only_in_oci():
    offenders = {m for m in importers_of(LAYER_FORMAT_MODULES) if not in_stage(m, "oci")}
    # pack and base reach layers only through oci's functions, never tar themselves
    users_of_tar = {m for m in importers_of({"tarfile"}) if in_stage(m, "layer")}
    assert users_of_tar == set()
    allowed = {"rockpack.pack", "rockpack.base.index", "rockpack.base.rootfs"}
    assert offenders <= allowed, offenders - allowed


def test_oci_core_knows_no_pipeline_stage():
    stages = tuple(f"rockpack.{s}" for s in (*LATER_THAN_PROJECT, "project", "cli"))
    offenders = {
        m: {i for i in imported if not i.startswith("rockpack.oci") and i != "rockpack.errors"}
        for m, imported in importers_of(stages).items()
        if in_stage(m, "oci")
    }
    assert {m: i for m, i in offenders.items() if i} == {}


CLI_MAY_IMPORT = {
    "rockpack",  # __version__
    "rockpack.errors",
    "rockpack.pack",
    "rockpack.publish",
    "rockpack.project.model",
    "rockpack.project.extensions",  # list-extensions
    "rockpack.project.layer_budget",  # --layers' help, without pydantic
    "rockpack.build.steps",  # the step commands and shell flags, without craft-parts
    "rockpack.build.noop_request",  # a pack with nothing changed, answered before loading
    "rockpack.build.source_date",
    "rockpack.build.clean",
    "rockpack.build.starter",
    "rockpack.lxd.provider",
    "rockpack.lxd.clean_build",
    "rockpack.oci.compress",
    "rockpack.oci.inspect_report",
    "rockpack.image.sbom.summary",
    "rockpack.project.attestations",
    "rockpack.project.layering",
}


def test_cli_holds_no_logic():
    """cli.py declares commands and calls one entry function of a stage for each."""
    imported = {i.rsplit(".", 1)[0] if i not in MODULES else i for i in MODULES["rockpack.cli"]}
    ours = {i for i in imported if i == "rockpack" or i.startswith("rockpack.")}
    assert ours <= CLI_MAY_IMPORT, ours - CLI_MAY_IMPORT
    tree = ast.parse((PACKAGE / "cli.py").read_text())
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name != "main"]
    long_ones = [f.name for f in functions if len(f.body) > 12]
    assert long_ones == [], "move these bodies into a stage"


# What cli.py imports when it is imported (not in a function, not for type checking): a
# pack with nothing changed imports little more (tests/unit/test_noop_start_up.py).
CLI_START_UP_IMPORTS = {"rockpack", "rockpack.errors", "rockpack.build.steps"}


def module_level_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.parse(path.read_text(), str(path)).body:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_the_cli_imports_little_at_start_up():
    ours = {i for i in module_level_imports(PACKAGE / "cli.py") if i.startswith("rockpack")}
    assert ours <= CLI_START_UP_IMPORTS, "import these in the commands that use them"


def test_the_boundary_check_sees_a_violation(tmp_path):
    """project/model.py importing rockpack.layer would be caught."""
    bad = tmp_path / "model.py"
    bad.write_text("def f():\n    from rockpack.layer.scan import scan_tree\n")
    modules = {**MODULES, "rockpack.project.model": imports_of(bad)}
    assert "rockpack.layer.scan" in project_offenders(modules)["rockpack.project.model"]
