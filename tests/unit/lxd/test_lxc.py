"""The lxc wrapper and the clean-build steps, against a fake lxc on PATH."""

from __future__ import annotations

import json

import pytest

from rockpack.lxd.clean_build import _fresh_instance, _instance_name
from rockpack.lxd.lxc import Lxc, LxdUnusableError


def test_lxd_not_installed(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LxdUnusableError, match="not installed") as info:
        Lxc().check_usable()
    assert "apt install lxd" in info.value.resolution


def test_without_lxd_the_default_build_says_each_fix_once(tmp_path, monkeypatch):
    from rockpack.errors import ProviderError
    from rockpack.lxd.provider import use_clean_instance

    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("ROCKPACK_MANAGED", raising=False)
    with pytest.raises(ProviderError) as info:
        use_clean_instance(destructive_mode=False, use_lxd=False)
    assert info.value.resolution.count("--destructive-mode") == 1
    assert "apt install lxd" in info.value.resolution


@pytest.mark.parametrize(
    ("snap", "systemd", "expected"),
    [
        (True, True, "snap start lxd"),
        (False, True, "systemctl start lxd"),
        (False, False, "lxd --group"),
    ],
)
def test_the_start_command_fits_the_machine(monkeypatch, snap, systemd, expected):
    from rockpack.lxd import lxc

    real = lxc.Path

    class FakePath(type(real())):
        def exists(self):
            return snap if str(self) == "/snap/bin/lxd" else real(self).exists()

        def is_dir(self):
            return systemd if str(self) == "/run/systemd/system" else real(self).is_dir()

    monkeypatch.setattr(lxc, "Path", FakePath)
    command = lxc.lxd_start_command()
    assert expected in command
    if not systemd:
        assert "systemctl" not in command


@pytest.mark.parametrize(
    ("spec", "message", "fix"),
    [
        (
            {
                "info": {
                    "code": 1,
                    "stderr": 'Error: Get "http://unix.socket/1.0": dial unix '
                    "/var/lib/lxd/unix.socket: connect: no such file or directory",
                }
            },
            "daemon is not running",
            "Start it",
        ),
        (
            {"info": {"code": 1, "stderr": "Error: ... connect: permission denied"}},
            "permission denied",
            "'lxd' group",
        ),
        (
            {"storage show default": {"code": 1, "stderr": "Error: Storage pool not found"}},
            "no 'default' storage pool",
            "lxd init",
        ),
    ],
)
def test_unusable_lxd_says_why_and_what_to_do(fake_lxc, spec, message, fix):
    fake_lxc(spec)
    with pytest.raises(LxdUnusableError, match=message) as info:
        Lxc().check_usable()
    assert fix in info.value.resolution


def test_exec_command_line(fake_lxc):
    handle = fake_lxc({})
    Lxc().exec("inst", ["rockpack", "pack"], env={"B": "2", "A": "1"}, cwd="/root/project")
    assert handle.calls == [
        [
            "--project",
            "rockpack",
            "exec",
            "-T",
            "inst",
            "--env",
            "A=1",
            "--env",
            "B=2",
            "--cwd",
            "/root/project",
            "--",
            "rockpack",
            "pack",
        ]
    ]


def test_stops_are_always_forced(fake_lxc):
    handle = fake_lxc({})
    Lxc().stop("inst")
    assert handle.calls == [["--project", "rockpack", "stop", "--force", "inst"]]


def test_failed_call_is_a_clear_error(fake_lxc):
    fake_lxc(
        {
            "start": {
                "code": 1,
                "stderr": "Error: boom\nThe instance you are starting "
                "doesn't have any network attached to it.\n",
            }
        }
    )
    with pytest.raises(Exception, match=r"'lxc start inst' failed: Error: boom$"):
        Lxc().start("inst")


def test_dir_pool_first_copy_then_snapshot_then_restore(fake_lxc):
    listing = {
        "list": {"stdout": "[]"},
        "query /1.0/storage-pools/default": {"stdout": '{"driver": "dir"}'},
    }
    handle = fake_lxc(listing)
    _fresh_instance(Lxc(), "rockpack-base-x", "rockpack-p-1")
    commands = [c[2:] for c in handle.calls if c[:2] == ["--project", "rockpack"]]
    assert ["copy", "rockpack-base-x", "rockpack-p-1"] in commands
    assert ["snapshot", "rockpack-p-1", "clean"] in commands
    existing = {"name": "rockpack-p-1", "config": {"user.rockpack.base": "rockpack-base-x"}}
    handle = fake_lxc({**listing, "list": {"stdout": json.dumps([existing])}})
    _fresh_instance(Lxc(), "rockpack-base-x", "rockpack-p-1")
    commands = [c[2:] for c in handle.calls if c[:2] == ["--project", "rockpack"]]
    assert ["restore", "rockpack-p-1", "clean"] in commands
    assert not any(c[0] == "copy" for c in commands)


def test_copy_on_write_pool_copies_every_time(fake_lxc):
    existing = {"name": "rockpack-p-1", "config": {"user.rockpack.base": "rockpack-base-x"}}
    handle = fake_lxc(
        {
            "list": {"stdout": json.dumps([existing])},
            "query /1.0/storage-pools/default": {"stdout": '{"driver": "btrfs"}'},
        }
    )
    _fresh_instance(Lxc(), "rockpack-base-x", "rockpack-p-1")
    commands = [c[2:] for c in handle.calls if c[:2] == ["--project", "rockpack"]]
    assert ["delete", "--force", "rockpack-p-1"] in commands
    assert ["copy", "rockpack-base-x", "rockpack-p-1"] in commands
    assert not any(c[0] == "snapshot" for c in commands)


def test_instance_names_differ_per_project_directory(tmp_path):
    one, two = _instance_name("app", tmp_path / "a"), _instance_name("app", tmp_path / "b")
    assert one != two and one.startswith("rockpack-app-") and len(one) <= 63
