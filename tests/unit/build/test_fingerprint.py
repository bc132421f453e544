"""The no-op check: a pack is skipped only when nothing it depends on changed."""

from __future__ import annotations

import io
import json
import os
import tarfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from rockpack.build import fingerprint
from rockpack.build.fingerprint import skip_when_unchanged
from rockpack.build.steps import ShellOptions


@dataclass(frozen=True)
class Options:  # the fields of rockpack.pack.BuildOptions the check reads, and one more
    refresh_base: bool = False
    shell: ShellOptions = field(default_factory=ShellOptions)
    compression: str = "gzip:1"


@dataclass
class FakeProject:
    parts: dict[str, dict[str, Any]]
    layering: str = "part"

    def model_dump(self, **_: object) -> dict[str, Any]:
        return {"parts": self.parts, "layering": self.layering}


@dataclass
class FakeLoaded:
    project: FakeProject
    path: Path
    warnings: list[str] = field(default_factory=list)

    @property
    def project_dir(self) -> Path:
        return self.path.parent


def write_rock(path: Path, content: bytes) -> None:
    """A tiny OCI archive: an index.json naming one manifest, and some content."""
    index = json.dumps({"manifests": [{"digest": "sha256:" + "ab" * 32}]}).encode()
    with tarfile.open(path, "w") as archive:
        for name, data in (("index.json", index), ("blob", content)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


class Packer:
    """A stand-in for rockpack.pack.pack: writes a prime file, a state file and the rock."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, loaded: FakeLoaded, options: Options, output: Path | None) -> list[Path]:
        self.calls += 1
        work = loaded.project_dir / ".rockpack/work/amd64"
        (work / "prime").mkdir(parents=True, exist_ok=True)
        (work / "parts/app/state").mkdir(parents=True, exist_ok=True)
        source = (loaded.project_dir / "src/app.txt").read_bytes()
        (work / "prime/app.txt").unlink(missing_ok=True)
        (work / "prime/app.txt").hardlink_to(loaded.project_dir / "src/app.txt")  # as dump does
        (work / "parts/app/state/prime").write_text("files: [app.txt]\n")
        rock = (output or loaded.project_dir) / "app_1.0_amd64.rock"
        write_rock(rock, source + repr(options).encode())
        return [rock]


@pytest.fixture
def packer() -> Packer:
    return Packer()


def pack_twice(
    packer: Packer, project: FakeLoaded, options: Options | None = None
) -> tuple[list[Path], list[Path]]:
    pack = skip_when_unchanged(packer)
    options = options or Options()
    return pack(project, options, None), pack(project, options, None)


def test_nothing_changed_packs_once_and_returns_the_same_rock(packer, project):
    first, second = pack_twice(packer, project)
    assert packer.calls == 1
    assert second == first == [project.project_dir.resolve() / "app_1.0_amd64.rock"]


def test_the_skip_says_which_rock_and_that_nothing_changed(packer, project, monkeypatch):
    said: list[str] = []
    monkeypatch.setattr(fingerprint, "report_unchanged", lambda rocks: said.append(str(rocks)))
    pack_twice(packer, project)
    assert len(said) == 1
    assert "app_1.0_amd64.rock" in said[0]
    assert "sha256:" + "ab" * 32 in said[0]


def again(packer: Packer, project: FakeLoaded, options: Options | None = None) -> int:
    skip_when_unchanged(packer)(project, options or Options(), None)
    return packer.calls


def test_a_changed_source_file_rebuilds(packer, project):
    pack_twice(packer, project)
    (project.project_dir / "src/app.txt").write_text("hello, again\n")
    assert again(packer, project) == 2
    assert again(packer, project) == 2  # and then it is the new no-op


def test_hardlinking_a_source_into_the_work_dir_is_not_a_change(packer, project):
    """craft-parts links local sources' files into its work dirs: their link count and
    ctime move during the first pack, and that pack is still recorded."""
    pack_twice(packer, project)
    assert (project.project_dir / "src/app.txt").stat().st_nlink == 2
    assert packer.calls == 1


def test_a_touched_source_file_with_the_same_bytes_rebuilds(packer, project):
    pack_twice(packer, project)
    os.utime(project.project_dir / "src/app.txt", ns=(1, 1))
    assert again(packer, project) == 2


def test_a_new_or_deleted_source_file_rebuilds(packer, project):
    pack_twice(packer, project)
    (project.project_dir / "src/new.txt").write_text("new\n")
    assert again(packer, project) == 2
    (project.project_dir / "src/new.txt").unlink()
    assert again(packer, project) == 3


def test_a_chmod_of_a_source_directory_rebuilds(packer, project):
    pack_twice(packer, project)
    (project.project_dir / "src").chmod(0o700)
    assert again(packer, project) == 2


def test_a_changed_project_file_rebuilds(packer, project):
    pack_twice(packer, project)
    project.path.write_text("name: app\n# a comment\n")
    assert again(packer, project) == 2


def test_a_changed_project_model_rebuilds(packer, project):
    """--layers and --no-attestations reach the check as a changed project model."""
    pack_twice(packer, project)
    project.project.layering = "single"
    assert again(packer, project) == 2


@pytest.mark.parametrize(
    "name",
    [
        "SOURCE_DATE_EPOCH",
        "ROCKPACK_PEBBLE_SOURCE",
        "ROCKPACK_REGISTRY_MIRROR",
        "CRAFT_PARTS_PACKAGE_REFRESH",
        "XDG_CACHE_HOME",
        "PYTHONPATH",
        "PATH",
        "https_proxy",
    ],
)
def test_a_changed_env_var_that_matters_rebuilds(packer, project, monkeypatch, name):
    pack_twice(packer, project)
    monkeypatch.setenv(name, "1700000000")
    assert again(packer, project) == 2


@pytest.mark.parametrize("name", ["OLDPWD", "CI_JOB_ID", "PYTEST_CURRENT_TEST"])
def test_a_variable_that_changes_on_every_run_does_not_rebuild(packer, project, monkeypatch, name):
    pack_twice(packer, project)
    monkeypatch.setenv(name, "something else")
    assert again(packer, project) == 1


def test_a_deleted_rock_rebuilds(packer, project):
    (rock,), _ = pack_twice(packer, project)
    rock.unlink()
    assert again(packer, project) == 2
    assert rock.is_file()


def test_a_modified_rock_rebuilds(packer, project):
    (rock,), _ = pack_twice(packer, project)
    write_rock(rock, b"something else")
    assert again(packer, project) == 2


def test_a_rock_with_its_old_times_put_back_still_rebuilds(packer, project):
    (rock,), _ = pack_twice(packer, project)
    st = rock.stat()
    data = bytearray(rock.read_bytes())
    data[-1024] ^= 1
    rock.write_bytes(bytes(data))
    os.utime(rock, ns=(st.st_atime_ns, st.st_mtime_ns))  # ctime moves regardless
    assert again(packer, project) == 2


def test_refresh_base_always_rebuilds(packer, project):
    pack_twice(packer, project)
    assert again(packer, project, Options(refresh_base=True)) == 2
    assert again(packer, project, Options(refresh_base=True)) == 3


def test_a_shell_option_always_rebuilds(packer, project):
    options = Options(shell=ShellOptions(debug=True))
    pack_twice(packer, project, options)
    assert packer.calls == 2


def test_a_different_compression_rebuilds(packer, project):
    pack_twice(packer, project)
    assert again(packer, project, Options(compression="gzip:6")) == 2
    assert again(packer, project, Options(compression="gzip:6")) == 2
    assert again(packer, project) == 3


def test_a_different_output_rebuilds(packer, project, tmp_path):
    pack_twice(packer, project)
    out = tmp_path / "out"
    out.mkdir()
    skip_when_unchanged(packer)(project, Options(), out)
    assert packer.calls == 2


def test_a_changed_prime_or_state_file_rebuilds(packer, project):
    pack_twice(packer, project)
    work = project.project_dir / ".rockpack/work/amd64"
    (work / "prime/app.txt").chmod(0o600)
    assert again(packer, project) == 2
    (work / "parts/app/state/prime").write_text("files: []\n")
    assert again(packer, project) == 3


def test_a_changed_file_in_the_state_dir_rebuilds(packer, project):
    """E.g. a damaged blob in the project's blob store: the pack must find it."""
    pack_twice(packer, project)
    blob = project.project_dir / ".rockpack/oci/blobs/sha256/00"
    blob.parent.mkdir(parents=True)
    blob.write_text("x")
    assert again(packer, project) == 2


def test_a_changed_user_config_rebuilds(packer, project, tmp_path):
    pack_twice(packer, project)
    (tmp_path / "config/rockpack").mkdir(parents=True)
    (tmp_path / "config/rockpack/bases.yaml").write_text("debian@12: example.com/debian:12\n")
    assert again(packer, project) == 2


def test_a_changed_local_source_outside_the_project_rebuilds(packer, project, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "lib.txt").write_text("one\n")
    project.project.parts["lib"] = {"plugin": "dump", "source": "../outside"}
    pack_twice(packer, project)
    assert packer.calls == 1
    (outside / "lib.txt").write_text("two\n")
    assert again(packer, project) == 2


def test_a_source_changed_while_packing_is_not_recorded(project):
    calls = 0

    def pack(loaded: FakeLoaded, options: Options, output: Path | None) -> list[Path]:
        nonlocal calls
        calls += 1
        result = Packer()(loaded, options, output)
        if calls == 1:
            (loaded.project_dir / "src/app.txt").write_text("edited during the pack\n")
        return result

    wrapped = skip_when_unchanged(pack)
    wrapped(project, Options(), None)
    assert not fingerprint.fingerprint_path(project.project_dir).exists()
    wrapped(project, Options(), None)
    assert calls == 2


def test_a_failed_pack_leaves_no_fingerprint(packer, project):
    pack_twice(packer, project)
    (project.project_dir / "src/app.txt").write_text("changed\n")

    def failing(loaded: FakeLoaded, options: Options, output: Path | None) -> list[Path]:
        raise RuntimeError("the build failed")

    with pytest.raises(RuntimeError):
        skip_when_unchanged(failing)(project, Options(), None)
    assert not fingerprint.fingerprint_path(project.project_dir).exists()
    (project.project_dir / "src/app.txt").write_text("hello\n")
    assert again(packer, project) == 2


def test_a_damaged_fingerprint_means_the_normal_path(packer, project):
    pack_twice(packer, project)
    fingerprint.fingerprint_path(project.project_dir).write_text("{not json")
    assert again(packer, project) == 2


def test_a_symlinked_state_dir_is_never_written_through(packer, project, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (project.project_dir / ".rockpack").symlink_to(elsewhere)
    pack_twice(packer, project)
    assert packer.calls == 2
    assert not (elsewhere / fingerprint.FINGERPRINT_NAME).exists()


def test_inside_a_clean_build_instance_it_never_skips(packer, project, monkeypatch):
    monkeypatch.setenv("ROCKPACK_MANAGED", "1")
    pack_twice(packer, project)
    assert packer.calls == 2


def test_tree_lines_are_sorted_and_skip_what_they_are_told(tmp_path):
    for name in ("b", "a", "c"):
        (tmp_path / name).write_text(name)
    lines = list(fingerprint.tree_lines(tmp_path, skip=frozenset({str(tmp_path / "c")})))
    names = [path for path, _ in lines]
    assert names == [str(tmp_path), str(tmp_path / "a"), str(tmp_path / "b")]


def test_options_are_compared_whole_except_refresh_base(project):
    environ = {"PATH": "/usr/bin"}
    plain = fingerprint.input_digest(project, Options(), None, environ)
    assert plain is not None
    assert plain == fingerprint.input_digest(project, Options(), None, dict(environ))
    assert plain != fingerprint.input_digest(project, Options(compression="zstd:3"), None, environ)
    assert (
        fingerprint.input_digest(project, replace(Options(), refresh_base=True), None, {}) is None
    )


def test_an_installed_or_removed_library_rebuilds(packer, project, tmp_path, monkeypatch):
    site_packages = tmp_path / "venv/lib/site-packages"
    site_packages.mkdir(parents=True)
    monkeypatch.syspath_prepend(str(site_packages))
    pack_twice(packer, project)
    (site_packages / "craft_parts-9.9.dist-info").mkdir()  # what pip install does
    assert again(packer, project) == 2


def test_a_variable_rockcraft_reads_rebuilds(packer, project, monkeypatch):
    pack_twice(packer, project)
    monkeypatch.setenv("ROCKCRAFT_ENABLE_EXPERIMENTAL_EXTENSIONS", "1")
    assert again(packer, project) == 2


@pytest.mark.parametrize("content", ["[]", "null", '{"format": 2, "rocks": 1}'])
def test_a_fingerprint_of_the_wrong_shape_means_the_normal_path(packer, project, content):
    pack_twice(packer, project)
    fingerprint.fingerprint_path(project.project_dir).write_text(content)
    assert again(packer, project) == 2


def test_the_message_names_the_image_of_a_rock_whose_index_lists_attestations(tmp_path):
    from rockpack.oci.rock_archive import read_rock
    from tests.unit.oci.rock_fixtures import make_rock
    from tests.unit.oci.test_attested_index import attested_rock

    rock, image = attested_rock(tmp_path / "attested")
    assert fingerprint._manifest_digest(rock) == image.digest
    plain = make_rock(tmp_path / "plain")
    assert fingerprint._manifest_digest(plain) == read_rock(plain).manifest.digest
    (tmp_path / "junk.rock").write_bytes(b"not a tar")
    assert fingerprint._manifest_digest(tmp_path / "junk.rock") is None


def test_a_local_pebble_source_is_an_input(tmp_path):
    """ROCKPACK_PEBBLE_SOURCE's file is staged by a part rockpack adds, not by the
    project's: a changed Pebble must still mean a pack, not a no-op."""
    project = tmp_path / "p"
    (project / ".rockpack").mkdir(parents=True)
    pebble = tmp_path / "pebble"
    pebble.write_bytes(b"one")
    environ = {"ROCKPACK_PEBBLE_SOURCE": str(pebble), "XDG_CONFIG_HOME": str(tmp_path / "c")}
    before = list(fingerprint.state_listing(project, environ))
    assert any(line[0] == str(pebble) for line in before)
    pebble.write_bytes(b"two, longer")
    assert list(fingerprint.state_listing(project, environ)) != before
    remote = {**environ, "ROCKPACK_PEBBLE_SOURCE": "https://example.com/pebble"}
    assert all("example.com" not in line[0] for line in fingerprint.state_listing(project, remote))
