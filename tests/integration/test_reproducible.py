"""Same inputs, same bytes; interrupted packs leave nothing behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rockpack.oci.rock_archive import read_rock
from tests.conftest import MINIMAL, REPO, report_summary, run_rockpack, write_project
from tests.integration.oci_tools import rock_config

pytestmark = pytest.mark.integration

REPORT: dict[str, str] = {}


def rock_facts(rock: Path) -> tuple[str, list[str]]:
    """(manifest digest, layer diff_ids)."""
    return read_rock(rock).manifest.digest, rock_config(rock)["rootfs"]["diff_ids"]


def pack_copy(tmp_path: Path, name: str, env: dict[str, str]) -> Path:
    project = tmp_path / name
    shutil.copytree(REPO / "examples", project)
    result = run_rockpack("pack", "--destructive-mode", "--project-dir", project, env=env)
    assert result.returncode == 0, result.stderr
    return project / "hello-busybox_1.0_amd64.rock"


@pytest.mark.parametrize("epoch", ["1700000000", None], ids=["with-epoch", "without-epoch"])
def test_two_directories_two_times_same_bytes(tmp_path, epoch):
    env = {"SOURCE_DATE_EPOCH": epoch} if epoch else {"SOURCE_DATE_EPOCH": ""}
    first = pack_copy(tmp_path, "first", env)
    time.sleep(1.1)  # a later second: nothing may depend on the clock
    second = pack_copy(tmp_path, "second", env)
    assert rock_facts(first) == rock_facts(second)
    assert first.read_bytes() == second.read_bytes()
    REPORT[f"reproducible {'with' if epoch else 'without'} SOURCE_DATE_EPOCH"] = "passed"


def big_project(tmp_path: Path) -> Path:
    project = tmp_path / "big"
    write_project(project, MINIMAL.replace("plugin: nil", "plugin: dump\n        source: data"))
    (project / "data").mkdir()
    (project / "data/blob").write_bytes(os.urandom(150 * 1024 * 1024))
    return project


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_pack_keeps_the_earlier_rock_and_leaves_no_temporaries(tmp_path, sig):
    project = big_project(tmp_path)
    (project / "data/blob").rename(project / "blob.later")
    (project / "data/small").write_text("first version")
    assert run_rockpack("pack", "--destructive-mode", "--project-dir", project).returncode == 0
    rock = project / "hello_1.0_amd64.rock"
    earlier = rock.read_bytes()
    (project / "blob.later").rename(project / "data/blob")
    os.utime(project / "data/blob")  # craft-parts sees a changed source by its mtime
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rockpack",
            "pack",
            "--destructive-mode",
            "--project-dir",
            str(project),
        ],
        stderr=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    blobs = project / ".rockpack/oci/blobs/sha256"
    deadline = time.monotonic() + 120
    while not any(blobs.glob(".ingest-*")):  # the 150 MB layer is being written now
        assert process.poll() is None, "pack ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.3)
    process.send_signal(sig)
    process.wait(timeout=60)
    assert process.returncode == (130 if sig == signal.SIGINT else 143)
    assert rock.read_bytes() == earlier
    leftovers = [p for p in project.rglob("*") if p.name.startswith((".ingest-", ".hello_"))]
    assert leftovers == []
    REPORT[f"interrupted by {sig.name}"] = "clean"


def test_zz_report():
    """Print the group's summary line (runs last in this module)."""
    report_summary(f"reproducibility: {len(REPORT)} checks passed: " + ", ".join(sorted(REPORT)))
