"""SLSA provenance: an in-toto v1 statement with the SLSA v1 predicate, byte-stable, with
sources named by digest or commit and never by a host path or a secret."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from rockpack import __version__
from rockpack.image.part_sources import git_head, git_tree, part_sources, source_uri
from rockpack.image.provenance import BuildFacts, Dependency, provenance_statement
from tests.conftest import require_tool


def facts(**changes) -> BuildFacts:
    values = {
        "project_file": "rockpack.yaml",
        "project_sha256": "a" * 64,
        "platform": "amd64",
        "build_for": "amd64",
        "compression": "gzip:1",
        "layering": "part:16",
        "build_mode": "destructive",
        "source_date_epoch": 1700000000,
        "layers": [("base", "sha256:" + "1" * 64), ("part:app", "sha256:" + "2" * 64)],
        "dependencies": [
            Dependency("base:debian@12", "pkg:oci/debian@sha256:abc", {"sha256": "b" * 64}),
        ],
    }
    return BuildFacts(**{**values, **changes})


def test_the_statement_is_in_toto_v1_with_the_slsa_v1_predicate():
    statement = json.loads(provenance_statement(facts()))
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    assert statement["subject"][1] == {
        "name": "layer 2: part:app",
        "digest": {"sha256": "2" * 64},
        "mediaType": "application/vnd.oci.image.layer.v1.tar",
    }
    definition = statement["predicate"]["buildDefinition"]
    assert definition["buildType"].startswith("https://")
    assert definition["externalParameters"]["project"] == {
        "path": "rockpack.yaml",
        "digest": {"sha256": "a" * 64},
    }
    assert definition["externalParameters"]["compression"] == "gzip:1"
    assert definition["internalParameters"] == {
        "buildMode": "destructive",
        "rockpackVersion": __version__,
        "sourceDateEpoch": 1700000000,
    }
    assert definition["resolvedDependencies"] == [
        {
            "name": "base:debian@12",
            "uri": "pkg:oci/debian@sha256:abc",
            "digest": {"sha256": "b" * 64},
        }
    ]
    builder = statement["predicate"]["runDetails"]["builder"]
    assert builder["id"].endswith("/destructive") and builder["version"] == {
        "rockpack": __version__
    }
    assert "startedOn" not in json.dumps(statement)  # the clock is never read


def test_the_same_facts_give_the_same_bytes():
    assert provenance_statement(facts()) == provenance_statement(facts())
    assert provenance_statement(facts()) != provenance_statement(facts(build_mode="lxd"))


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "https://user:token@example.com/a/b.tar.gz?sig=secret#x",
            "https://example.com/a/b.tar.gz",
        ),
        ("https://example.com:8443/repo.git", "https://example.com:8443/repo.git"),
        ("git@github.com:canonical/pebble.git", "github.com:canonical/pebble.git"),
        ("src/app", "src/app"),
        (".", "."),
    ],
)
def test_source_uris_carry_no_secret(source, expected):
    assert source_uri(source, Path("/home/me/project")) == expected


def test_local_paths_are_relative_to_the_project_and_never_absolute(tmp_path):
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    assert source_uri(str(project / "src"), project) == "src"
    assert source_uri(str(tmp_path / "elsewhere" / "thing.tar"), project) == "thing.tar"


def make_tree(root: Path) -> None:
    (root / "sub/empty").mkdir(parents=True)
    (root / "a.txt").write_text("hello\n")
    (root / "sub/run.sh").write_text("#!/bin/sh\n")
    (root / "sub/run.sh").chmod(0o755)
    (root / "link").symlink_to("a.txt")
    (root / "sub-file").write_text("sorts after the sub directory in git's order\n")


def test_git_tree_is_what_git_write_tree_gives(tmp_path):
    git = require_tool("git")
    make_tree(tmp_path / "tree")
    env = {
        **os.environ,
        "GIT_DIR": str(tmp_path / "repo.git"),
        "GIT_WORK_TREE": str(tmp_path / "tree"),
    }
    subprocess.run([git, "init", "-q"], env=env, check=True)
    subprocess.run([git, "add", "-A"], env=env, check=True, cwd=tmp_path / "tree")
    expected = subprocess.run(
        [git, "write-tree"], env=env, check=True, capture_output=True, text=True
    )
    assert git_tree(tmp_path / "tree") == expected.stdout.strip()


def test_git_head_reads_loose_packed_and_detached_refs(tmp_path):
    git_dir = tmp_path / ".git"
    (git_dir / "refs/heads").mkdir(parents=True)
    commit = "c" * 40
    (git_dir / "HEAD").write_text("ref: refs/heads/main\n")
    (git_dir / "refs/heads/main").write_text(commit + "\n")
    assert git_head(git_dir) == commit
    (git_dir / "refs/heads/main").unlink()
    (git_dir / "packed-refs").write_text(f"# pack-refs\n{'d' * 40} refs/heads/main\n")
    assert git_head(git_dir) == "d" * 40
    (git_dir / "HEAD").write_text("e" * 40 + "\n")
    assert git_head(git_dir) == "e" * 40
    (git_dir / "HEAD").write_text("garbage\n")
    assert git_head(git_dir) == ""
    assert git_head(tmp_path / "missing") == ""


def test_part_sources_give_a_digest_or_a_commit(tmp_path):
    parts_dir = tmp_path / "parts"
    make_tree(parts_dir / "app/src")
    (parts_dir / "repo/src/.git/refs/heads").mkdir(parents=True)
    (parts_dir / "repo/src/.git/HEAD").write_text("ref: refs/heads/main\n")
    (parts_dir / "repo/src/.git/refs/heads/main").write_text("f" * 40)
    parts = {
        "app": {"plugin": "dump", "source": "app"},
        "repo": {"plugin": "nil", "source": "https://example.com/repo.git"},
        "pinned": {
            "plugin": "nil",
            "source": "https://example.com/x.tar",
            "source-checksum": "sha256/ABC",
        },
        "tagged": {
            "plugin": "nil",
            "source": "https://example.com/y",
            "source-type": "git",
            "source-commit": "1" * 40,
        },
        "none": {"plugin": "nil"},
    }
    found = {s.part: s for s in part_sources(parts, parts_dir, tmp_path)}
    assert set(found) == {"app", "repo", "pinned", "tagged"}
    assert found["app"].digest == {"gitTree": git_tree(parts_dir / "app/src")}
    assert found["repo"].digest == {"gitCommit": "f" * 40}
    assert found["pinned"].digest == {"sha256": "abc"}
    assert found["tagged"].digest == {"gitCommit": "1" * 40}
    moved = tmp_path / "elsewhere/parts"
    shutil.copytree(parts_dir, moved, symlinks=True)
    assert part_sources(parts, moved, tmp_path / "elsewhere") == list(found.values())
