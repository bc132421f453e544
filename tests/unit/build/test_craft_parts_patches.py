"""craft-parts patches: the same results, byte for byte, only faster."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

import craft_parts
import pytest
import yaml
from craft_parts.state_manager import step_state
from craft_parts.state_manager.stage_state import StageState

from rockpack.build import craft_parts_patches, patch_filesets, patch_migration
from rockpack.build.craft_parts_patches import _LibyamlStateDumper

# What each patched attribute was before any patch (the patch modules keep upstream's).
UPSTREAM: dict[tuple[str, str], object] = {
    ("craft_parts.state_manager.step_state", "yaml"): yaml,
    ("craft_parts.executor.filesets", "migratable_filesets"): (
        patch_filesets.upstream_migratable_filesets
    ),
    ("craft_parts.executor.migration", "migrate_files"): patch_migration.upstream_migrate_files,
    ("craft_parts.executor.step_handler", "migrate_files"): patch_migration.upstream_migrate_files,
    ("craft_parts.utils.file_utils", "link_or_copy_tree"): (
        patch_migration.upstream_link_or_copy_tree
    ),
}

pytestmark = pytest.mark.skipif(
    not craft_parts_patches.libyaml_available(), reason="PyYAML without libyaml"
)

# Names that exercise the emitter: quoting, escapes, unicode, YAML keywords, long lines.
AWKWARD = [
    "usr/bin/plain",
    "a b/with spaces",
    "colon: inside",
    "- leading dash",
    "#hash",
    "'single'",
    '"double"',
    "back\\slash",
    "tab\there",
    "new\nline",
    "yes",
    "null",
    "~",
    "0755",
    "1e3",
    "ünïcödé/файл/文件",
    "emoji/🙂",
    "trailing space ",
    " leading space",
    "x" * 300,
    "deep/" * 60 + "file",
    "%percent",
    "@at",
    "`backtick",
    "{brace}",
    "[bracket]",
    "*star",
    "&amp",
    "!bang",
    "|pipe",
    ">gt",
    "?question",
    "control\x07bell",
]


def state(files: list[str]) -> StageState:
    return StageState(
        part_properties={"plugin": "dump", "source": "tree", "stage": ["*"], "x": {"y": 1}},
        files=set(files),
        directories={f.rsplit("/", 1)[0] for f in files if "/" in f},
        project_options={"target_arch": "amd64"},
    )


@pytest.mark.parametrize(
    "files",
    [AWKWARD, [f"d{i // 1000:03d}/f{i % 1000:04d}.txt" for i in range(5000)], []],
    ids=["awkward-names", "many-files", "empty"],
)
def test_the_c_emitter_writes_the_same_bytes(files):
    data = state(files).model_dump()
    assert _LibyamlStateDumper.safe_dump(data) == yaml.safe_dump(data)


@pytest.fixture
def unpatched(monkeypatch):
    """craft-parts as released, whatever an earlier test applied; restored afterwards."""
    for module_name, attribute in craft_parts_patches.PATCHED_ATTRIBUTES:
        module = importlib.import_module(module_name)
        monkeypatch.setattr(module, attribute, UPSTREAM[(module_name, attribute)])
    monkeypatch.setattr(craft_parts_patches, "_applied", False)
    monkeypatch.delenv(craft_parts_patches.UNPATCHED_ENV, raising=False)


def _current() -> dict[tuple[str, str], object]:
    return {
        (module, attribute): getattr(importlib.import_module(module), attribute)
        for module, attribute in craft_parts_patches.PATCHED_ATTRIBUTES
    }


def test_a_patched_state_file_is_byte_identical_and_reads_back(tmp_path: Path, unpatched):
    written = state(AWKWARD)
    written.write(tmp_path / "plain")
    craft_parts_patches.apply()
    assert isinstance(step_state.yaml, _LibyamlStateDumper)
    written.write(tmp_path / "patched")
    assert (tmp_path / "patched").read_bytes() == (tmp_path / "plain").read_bytes()
    loaded = yaml.load((tmp_path / "patched").read_text(), Loader=yaml.CSafeLoader)
    assert StageState.unmarshal(loaded) == written


def test_apply_is_idempotent(unpatched):
    craft_parts_patches.apply()
    first = _current()
    craft_parts_patches.apply()
    assert _current() == first


def test_apply_patches_every_attribute_it_names(unpatched):
    craft_parts_patches.apply()
    patched = _current()
    assert all(patched[key] is not UPSTREAM[key] for key in patched)
    assert patched[("craft_parts.executor.filesets", "migratable_filesets")] is (
        patch_filesets.migratable_filesets
    )
    for key in [
        ("craft_parts.executor.migration", "migrate_files"),
        ("craft_parts.executor.step_handler", "migrate_files"),
    ]:
        assert patched[key] is patch_migration.migrate_files


@pytest.mark.parametrize("version", ["2.38.0", "3.0.0", "2.3.7", "dev"])
def test_another_craft_parts_release_is_left_alone(unpatched, monkeypatch, caplog, version):
    monkeypatch.setattr(craft_parts, "__version__", version)
    with caplog.at_level(logging.DEBUG, logger=craft_parts_patches.__name__):
        craft_parts_patches.apply()
    assert _current() == UPSTREAM
    assert f"craft-parts {version} is not 2.37.x: running it unpatched" in caplog.text


def test_the_release_the_patches_are_for():
    assert craft_parts_patches.supported("2.37.2")
    assert craft_parts_patches.supported("2.37.0")
    assert not craft_parts_patches.supported("2.370.0")
    assert craft_parts_patches.supported(craft_parts.__version__), "re-check the patches"


def test_the_environment_can_turn_the_patches_off(unpatched, monkeypatch, caplog):
    monkeypatch.setenv(craft_parts_patches.UNPATCHED_ENV, "1")
    with caplog.at_level(logging.DEBUG, logger=craft_parts_patches.__name__):
        craft_parts_patches.apply()
    assert _current() == UPSTREAM
    assert "running craft-parts unpatched" in caplog.text


def test_the_set_representer_makes_pyyamls_nodes():
    import yaml as pyyaml

    for data in ({"b", "a", "null", "1"}, set(), {"x", 1}, {("t",)}):
        for kwargs in (
            {},
            {"default_style": '"'},
            {"sort_keys": False},
            {"default_flow_style": True},
        ):
            if not kwargs.get("sort_keys", True) and len(data) > 1:
                continue  # unsorted: set order, which is not the point here
            ours = pyyaml.dump_all(
                [{"s": data}], None, Dumper=craft_parts_patches._STATE_DUMPER, **kwargs
            )
            assert ours == pyyaml.dump_all([{"s": data}], None, Dumper=pyyaml.CSafeDumper, **kwargs)


def test_a_non_utf8_file_name_falls_back_to_the_pure_python_emitter():
    """libyaml cannot encode a surrogate-escaped name; PyYAML's own emitter escapes it."""
    import yaml

    from rockpack.build.craft_parts_patches import _LibyamlStateDumper

    state = {"files": ["caf\udce9-latin1", "plain"]}
    assert _LibyamlStateDumper.safe_dump(state) == yaml.safe_dump(state)
