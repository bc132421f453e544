"""A pack with nothing changed starts light: what it imports is checked, not timed.

Issue #20: a no-op `rockpack pack` must take well under 0.5 s, interpreter included.
craft-parts, requests and the pydantic models cost most of that to import, so the
no-op path must not import them; these tests run it in a fresh interpreter and read
``sys.modules``, so that a module-level import added anywhere on the path fails here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from rockpack.build import lifecycle, steps
from rockpack.project import layer_budget, layering
from tests.conftest import MINIMAL, REPO, write_project

# Never imported by a no-op pack: the parts machinery, the network stack, the project's
# pydantic models, and the modules of the pack itself (SBOM, attestations, LXD, layers).
FORBIDDEN = (
    "craft_parts",
    "craft_archives",
    "requests",
    "urllib3",
    "pydantic",
    "apt",
    "rockpack.project.model",
    "rockpack.project.parts",
    "rockpack.build.lifecycle",
    "rockpack.pack",
    "rockpack.base.resolve",
    "rockpack.oci.registry",
    "rockpack.image.attestations",
    "rockpack.image.sbom",
    "rockpack.lxd",
    "rockpack.layer",
)

REPORT = """
import json, sys
forbidden = {forbidden!r}
print("FORBIDDEN-LOADED", json.dumps(sorted(
    m for m in sys.modules if any(m == f or m.startswith(f + ".") for f in forbidden)
)))
"""

# The recording pack: the real command line, with the lifecycle and packing replaced by
# a stand-in that writes a small OCI archive (the fingerprint is the real one).
RECORD = """
import io, json, sys, tarfile
import rockpack.pack
from rockpack.build.fingerprint import skip_when_unchanged

def pack(loaded, options, output):
    (loaded.project_dir / ".rockpack").mkdir(exist_ok=True)
    rock = loaded.project_dir / "hello_1.0_amd64.rock"
    index = json.dumps({"manifests": [{"digest": "sha256:" + "ab" * 32}]}).encode()
    with tarfile.open(rock, "w") as archive:
        info = tarfile.TarInfo("index.json")
        info.size = len(index)
        archive.addfile(info, io.BytesIO(index))
    return [rock]

rockpack.pack.pack = skip_when_unchanged(pack)
from rockpack.cli import main
sys.exit(main(sys.argv[1:]))
"""

NOOP = (
    """
import sys
from rockpack.cli import main
code = main(sys.argv[1:])
"""
    + REPORT.format(forbidden=FORBIDDEN)
    + "sys.exit(code)\n"
)


def python(code: str, *args: str, cwd: Path, env: dict[str, str] | None = None):
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def forbidden_loaded(stdout: str) -> list[str]:
    line = next(x for x in stdout.splitlines() if x.startswith("FORBIDDEN-LOADED "))
    return json.loads(line.removeprefix("FORBIDDEN-LOADED "))


def test_importing_the_command_line_and_the_noop_check_loads_nothing_heavy():
    code = (
        "import rockpack.cli, rockpack.build.noop_request, rockpack.build.fingerprint\n"
        "import rockpack.project.project_file, rockpack.project.layer_budget\n"
        + REPORT.format(forbidden=FORBIDDEN)
    )
    result = python(code, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert forbidden_loaded(result.stdout) == []


def test_a_real_noop_pack_loads_nothing_heavy(tmp_path):
    project = tmp_path / "project"
    write_project(project, MINIMAL)
    env = {
        **{k: v for k, v in os.environ.items() if k != "ROCKPACK_MANAGED"},
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "SOURCE_DATE_EPOCH": "1700000000",
    }
    args = ("pack", "--destructive-mode", "--project-dir", str(project))
    recorded = python(RECORD, *args, cwd=tmp_path, env=env)
    assert recorded.returncode == 0, recorded.stderr[-4000:]
    noop = python(NOOP, *args, cwd=tmp_path, env=env)
    assert noop.returncode == 0, noop.stderr[-4000:]
    assert "nothing changed since the last pack" in noop.stdout + noop.stderr
    assert forbidden_loaded(noop.stdout) == []


def test_the_light_modules_agree_with_the_heavy_ones():
    assert tuple(lifecycle.STEPS) == steps.STEP_NAMES
    assert lifecycle.ShellOptions is steps.ShellOptions
    assert layer_budget.DEFAULT_BUDGET == layering.DEFAULT_BUDGET
