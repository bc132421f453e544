"""The primed paths a prime step leaves in memory are those its state file lists."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from craft_parts import ProjectDirs, Step
from craft_parts.parts import Part
from craft_parts.state_manager import states
from craft_parts.state_manager.prime_state import PrimeState

from rockpack.build import lifecycle
from rockpack.build.lifecycle import primed_paths

NAMES = [
    "usr/bin/tool",
    "a b/with spaces",
    "caf\udce9/caf\udce9.txt",  # a name that is not UTF-8, as os.fsdecode gives it
    "ünïcödé/файл",
    "colon: inside",
    "yes",
    "null",
    "0755",
    "new\nline",
    "-leading",
]


def test_the_same_paths_in_memory_as_in_the_state_file(tmp_path: Path):
    dirs = ProjectDirs(work_dir=tmp_path)
    state = PrimeState(
        files={Path(name) for name in NAMES},
        directories={Path(name).parent for name in NAMES if "/" in name},
        part_properties={},
        project_options={"target_arch": "amd64"},
    )
    part = Part("p", {}, project_dirs=dirs)
    state.write(states.get_step_state_path(part, Step.PRIME))
    from_file = primed_paths(dirs, ["p"])

    step_info = SimpleNamespace(state=state, prime_dir=dirs.prime_dir, part_name="p")
    assert lifecycle._remember_primed(step_info)  # type: ignore[arg-type]
    known = lifecycle._just_primed(str(dirs.prime_dir))
    lifecycle._forget_primed(str(dirs.prime_dir))
    assert known["p"] == from_file["p"]
    assert primed_paths(dirs, ["p"], known) == from_file
    assert lifecycle._just_primed(str(dirs.prime_dir)) == {}


def test_a_part_not_primed_in_this_process_is_read_from_its_state(tmp_path: Path):
    dirs = ProjectDirs(work_dir=tmp_path)
    state = PrimeState(files={Path("f")}, part_properties={}, project_options={})
    state.write(states.get_step_state_path(Part("old", {}, project_dirs=dirs), Step.PRIME))
    primed = primed_paths(dirs, ["old", "new"], {"new": frozenset({"g"})})
    assert primed == {"old": frozenset({"f"}), "new": frozenset({"g"})}
