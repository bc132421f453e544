"""Reading a project file: bounded, and every bad input a located ProjectFileError."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rockpack.errors import ProjectFileError, ProjectFileErrors
from rockpack.project.model import find_project_file, load_project, validate_project
from rockpack.project.yaml_bounds import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES
from rockpack.project.yaml_source import load_yaml, parse_yaml
from tests.conftest import REPO

PATH = Path("/p/rockpack.yaml")
MEMORY_LIMIT = 1 << 30  # 1 GiB of address space for the whole rockpack process
TIME_LIMIT = 30  # seconds; each bounded case takes about one


def parse_error(text: str) -> ProjectFileError:
    with pytest.raises(ProjectFileError) as info:
        parse_yaml(PATH, text)
    return info.value


def billion_laughs(levels: int = 10) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def run_bounded(
    project_dir: Path, tmp_path: Path
) -> tuple[subprocess.CompletedProcess[str], float]:
    """`rockpack expand-extensions` in a child limited to 1 GiB and TIME_LIMIT seconds."""

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    env = {**os.environ, "HOME": str(tmp_path / "home"), "XDG_STATE_HOME": str(tmp_path)}
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "rockpack", "expand-extensions", "--project-dir", project_dir],
        cwd=REPO,
        env=env,
        preexec_fn=limit_memory,  # only sets an rlimit; nothing else runs before exec
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT,
        check=False,
    )
    return result, time.monotonic() - start


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (billion_laughs, f"has more than {MAX_NODES} values once its aliases are expanded"),
        (
            lambda: "a: " + "[" * 100_000 + "]" * 100_000 + "\n",
            f"more than {MAX_DEPTH} levels deep",
        ),
        (
            lambda: "".join("  " * i + f"k{i}:\n" for i in range(200)),
            f"more than {MAX_DEPTH} levels deep",
        ),
        (lambda: "a: &a [*a]\n", "uses the alias '*a' inside the value it names"),
        (
            lambda: "name: x\ndescription: |\n" + ("  " + "x" * 98 + "\n") * 500_000,
            f"is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB",
        ),
    ],
    ids=["billion-laughs", "deep-flow", "deep-block", "recursive-alias", "50MB"],
)
def test_bounded_reads_finish_quickly_in_little_memory(tmp_path, make, message):
    project = tmp_path / "project"
    project.mkdir()
    (project / "rockpack.yaml").write_text(make(), encoding="utf-8")
    result, elapsed = run_bounded(project, tmp_path)
    assert result.returncode == 1, result.stderr
    assert message in result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    assert elapsed < TIME_LIMIT


def test_largest_allowed_file_is_read_quickly(tmp_path):
    text = "name: x\ndescription: |\n" + ("  " + "x" * 98 + "\n") * (MAX_FILE_BYTES // 101)
    assert len(text) <= MAX_FILE_BYTES
    start = time.monotonic()
    source = parse_yaml(PATH, text)
    assert time.monotonic() - start < 10
    assert len(source.data["description"]) > MAX_FILE_BYTES // 2


def test_aliases_within_the_bound_are_read():
    source = parse_yaml(PATH, billion_laughs(levels=3))
    assert len(source.data["a2"]) == 9 and source.data["a2"][0][0][0] == "lol"


def test_merge_keys_are_read_and_located():
    source = parse_yaml(PATH, "d: &d {x: 1}\ne:\n  <<: *d\n  y: 2\n")
    assert source.data["e"] == {"x": 1, "y": 2}
    assert source.lines[("e", "y")] == 4


def test_non_utf8_file(tmp_path):
    path = tmp_path / "rockpack.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ProjectFileError) as info:
        load_yaml(path)
    assert "is not UTF-8 text" in info.value.brief
    assert info.value.resolution == "Save the file as UTF-8."


def test_utf8_byte_order_mark_is_dropped(tmp_path):
    path = tmp_path / "rockpack.yaml"
    path.write_bytes(b"\xef\xbb\xbfname: x\n")
    assert load_yaml(path).data == {"name": "x"}


def test_project_file_that_is_a_directory(tmp_path):
    (tmp_path / "rockpack.yaml").mkdir()
    with pytest.raises(ProjectFileError) as info:
        load_project(tmp_path)
    assert "is a directory, not a file" in info.value.brief


def test_project_file_that_is_a_pipe_does_not_hang(tmp_path):
    os.mkfifo(tmp_path / "rockpack.yaml")
    with pytest.raises(ProjectFileError) as info:
        load_yaml(tmp_path / "rockpack.yaml")
    assert "is not a regular file" in info.value.brief


def test_unreadable_project_file(tmp_path, monkeypatch):
    path = tmp_path / "rockpack.yaml"
    path.write_text("name: x\n")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(ProjectFileError) as info:
        load_yaml(path)
    assert "cannot be read: Permission denied" in info.value.brief
    assert "permissions" in info.value.resolution


def test_a_directory_named_like_the_project_file_is_reported(tmp_path):
    (tmp_path / "rockpack.yaml").mkdir()
    (tmp_path / "rockcraft.yaml").write_text("name: x\n")
    assert find_project_file(tmp_path).name == "rockpack.yaml"
    with pytest.raises(ProjectFileError, match="is a directory"):
        load_project(tmp_path)


def test_dangling_symlink_project_file(tmp_path):
    (tmp_path / "rockpack.yaml").symlink_to(tmp_path / "gone.yaml")
    with pytest.raises(ProjectFileError, match="cannot be read: No such file"):
        load_project(tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n- b\n", "must be a mapping of keys"),
        ("hello\n", "not a single value ('hello')"),
        ("42\n", "must be a mapping of keys"),
    ],
)
def test_a_document_that_is_not_a_mapping(text, message):
    with pytest.raises(ProjectFileError) as info:
        validate_project(parse_yaml(PATH, text))
    assert message in info.value.brief
    assert info.value.resolution


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("8000: x\n", 1, 'keys must be text: write it quoted: "8000":'),
        ("a:\n  true: x\n", 2, "reads as a boolean"),
        ("a:\n  ~: x\n", 2, "reads as a null"),
        ("? [a]\n: b\n", 1, "has a mapping or list as a key"),
    ],
)
def test_keys_that_are_not_text(text, line, message):
    err = parse_error(text)
    assert message in err.brief
    assert err.line == line


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 2024-13-45\n", "month must be in 1..12"),
        ("a: " + "9" * 5000 + "\n", "Exceeds the limit"),
        ("a: !!int abc\n", "invalid literal for int()"),
    ],
)
def test_values_yaml_cannot_build_are_located(text, message):
    err = parse_error(text)
    assert message in err.brief
    assert err.line == 1
    assert "write it quoted" in err.brief
    assert len(err.brief) < 400


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: \x01\n", "character YAML does not allow"),
        ("a: !!python/object:os.system x\n", "could not determine a constructor"),
        ("a: 1\n---\nb: 2\n", "expected a single document"),
        ("a: *nope\n", "undefined alias"),
        ("a: [\n", "is not valid YAML"),
    ],
)
def test_invalid_yaml_is_a_located_error(text, message):
    err = parse_error(text)
    assert message in err.brief
    assert err.line is not None


def test_scalar_text_is_kept_for_messages():
    source = parse_yaml(PATH, "version: 1.10\nlist: [0755, x]\nname: x\n")
    assert source.scalars[("version",)] == "1.10"
    assert source.scalars[("list", 0)] == "0755"
    assert ("name",) not in source.scalars and ("list", 1) not in source.scalars


def test_nothing_a_project_file_does_is_an_internal_error(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "rockpack.yaml").write_bytes(b"name: \xff\xfe\n")
    result, _ = run_bounded(project, tmp_path)
    assert result.returncode == 1
    assert "is not UTF-8 text" in result.stderr
    assert "internal error" not in result.stderr


def test_every_error_in_one_pass_is_listed():
    with pytest.raises(ProjectFileErrors):
        validate_project(parse_yaml(PATH, "name: X\nversion: 1.10\n"))
