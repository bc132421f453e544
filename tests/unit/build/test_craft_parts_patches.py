"""craft-parts patches: the same results, byte for byte, only faster."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from craft_parts.state_manager import step_state
from craft_parts.state_manager.stage_state import StageState

from rockpack.build import craft_parts_patches
from rockpack.build.craft_parts_patches import _LibyamlStateDumper

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


def test_a_patched_state_file_is_byte_identical_and_reads_back(tmp_path: Path, monkeypatch):
    original = step_state.yaml
    written = state(AWKWARD)
    written.write(tmp_path / "plain")
    monkeypatch.setattr(craft_parts_patches, "_applied", False)
    monkeypatch.setattr(step_state, "yaml", original)
    craft_parts_patches.apply()
    assert isinstance(step_state.yaml, _LibyamlStateDumper)
    written.write(tmp_path / "patched")
    assert (tmp_path / "patched").read_bytes() == (tmp_path / "plain").read_bytes()
    loaded = yaml.load((tmp_path / "patched").read_text(), Loader=yaml.CSafeLoader)
    assert StageState.unmarshal(loaded) == written


def test_apply_is_idempotent(monkeypatch):
    monkeypatch.setattr(craft_parts_patches, "_applied", False)
    monkeypatch.setattr(step_state, "yaml", step_state.yaml)
    craft_parts_patches.apply()
    first = step_state.yaml
    craft_parts_patches.apply()
    assert step_state.yaml is first


def test_a_non_utf8_file_name_falls_back_to_the_pure_python_emitter():
    """libyaml cannot encode a surrogate-escaped name; PyYAML's own emitter escapes it."""
    import yaml

    from rockpack.build.craft_parts_patches import _LibyamlStateDumper

    state = {"files": ["caf\udce9-latin1", "plain"]}
    assert _LibyamlStateDumper.safe_dump(state) == yaml.safe_dump(state)
