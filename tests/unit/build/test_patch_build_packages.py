"""apt's build-packages answer, asked once while apt's state stays the same."""

from __future__ import annotations

import os
import subprocess

import pytest

from rockpack.build import patch_build_packages as patch


@pytest.fixture
def apt(tmp_path, monkeypatch):
    """A stand-in for apt's state files and for apt-get, counting its calls."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    status = tmp_path / "status"
    status.write_text("Package: tar\n")
    lists = tmp_path / "lists"
    lists.mkdir()
    monkeypatch.setattr(patch, "APT_STATE", (str(status), str(lists)))
    calls = []

    def simulate(names, *, include_recommends=False):
        calls.append((tuple(names), include_recommends))
        if "missing" in names:
            raise subprocess.CalledProcessError(100, ["apt-get"])
        return [(name, "1.0") for name in names]

    monkeypatch.setattr(patch, "upstream_marked", simulate)
    return status, lists, calls


def test_the_same_question_over_the_same_state_is_asked_once(apt):
    _, _, calls = apt
    assert patch.marked_for_installation(["tar"]) == [("tar", "1.0")]
    assert patch.marked_for_installation(["tar"]) == [("tar", "1.0")]
    assert len(calls) == 1
    patch.marked_for_installation(["tar"], include_recommends=True)
    patch.marked_for_installation(["tar", "git"])
    assert len(calls) == 3  # another question is asked


def test_any_change_to_apts_state_asks_again(apt):
    status, lists, calls = apt
    patch.marked_for_installation(["tar"])
    status.write_text("Package: tar\nVersion: 2\n")
    patch.marked_for_installation(["tar"])
    (lists / "deb.debian.org_Packages").write_text("new lists")
    patch.marked_for_installation(["tar"])
    os.environ["APT_CONFIG"] = "/elsewhere"
    try:
        patch.marked_for_installation(["tar"])
    finally:
        del os.environ["APT_CONFIG"]
    assert len(calls) == 4


def test_a_failure_is_never_kept(apt):
    _, _, calls = apt
    for _ in range(2):
        with pytest.raises(subprocess.CalledProcessError):
            patch.marked_for_installation(["missing"])
    assert len(calls) == 2


def test_a_damaged_cache_entry_asks_again(apt, tmp_path):
    _, _, calls = apt
    patch.marked_for_installation(["tar"])
    (entry,) = (tmp_path / "cache/rockpack/apt-simulations").iterdir()
    entry.write_text('{"marked": [["tar"]]}')
    assert patch.marked_for_installation(["tar"]) == [("tar", "1.0")]
    assert len(calls) == 2


def test_inside_a_chroot_nothing_is_kept(apt, tmp_path, monkeypatch):
    """The overlay step installs its packages in a chroot: a cache written there would
    land in the rock's overlay layer."""
    _, _, calls = apt
    monkeypatch.setattr(patch, "_root", lambda: (0, 0))  # not the root apply() saw
    patch.marked_for_installation(["tar"])
    patch.marked_for_installation(["tar"])
    assert len(calls) == 2
    assert not (tmp_path / "cache").exists()
