"""What a clean build gives the project's instance: snapd with systemd as init, chisel,
and this host's loopback repositories; decided on the host before any image is made."""

from __future__ import annotations

import hashlib
import http.server
import io
import stat
import tarfile
import textwrap
import threading
from pathlib import Path

import pytest

from rockpack.errors import ProviderError
from rockpack.lxd import base_instance, clean_build, instance_network
from rockpack.lxd.chisel import CHISEL_RELEASES_ENV, chisel_for_instance, release_chisel
from rockpack.lxd.image import PACKAGES, SNAPD_PACKAGES, ImageRecipe, RemoteImage, image_source
from rockpack.lxd.lxc import Lxc
from rockpack.project.model import validate_project
from rockpack.project.yaml_source import parse_yaml

SLICES = {"hello": {"plugin": "nil", "stage-packages": ["libc6_libs"]}}


def loaded(extra: str = "", build_base: str = "debian@12", part: str = ""):
    text = textwrap.dedent(f"""\
        name: needs
        version: "1.0"
        summary: s
        description: s
        base: bare
        build-base: {build_base}
        platforms:
          amd64:
        entrypoint-command: /bin/true
        parts:
          hello:
            plugin: nil
        """)
    text = text.replace("    plugin: nil\n", "    plugin: nil\n" + part) + extra
    return validate_project(parse_yaml(Path("rockpack.yaml"), text))


def test_the_build_image_has_gpg_for_package_repositories():
    assert {"gpg", "gpg-agent", "dirmngr"} <= set(PACKAGES)


def test_snaps_get_an_image_of_their_own_with_snapd_and_systemd():
    plain, snapd = (image_source("debian@12", "amd64", {}, snapd=s) for s in (False, True))
    assert isinstance(snapd, ImageRecipe) and snapd.snapd
    assert set(SNAPD_PACKAGES) <= set(snapd.packages)
    assert {"snapd", "systemd-sysv", "squashfuse"} <= set(SNAPD_PACKAGES)
    assert not set(SNAPD_PACKAGES) & set(plain.packages)
    assert plain.alias != snapd.alias  # keyed by contents
    include = next(a for a in snapd.mmdebstrap_arguments(Path("/r.tar")) if "include" in a)
    assert "snapd" in include and "systemd-sysv" in include
    remote = image_source("ubuntu@24.04", "amd64", {}, snapd=True)
    assert remote == RemoteImage("ubuntu@24.04", "ubuntu", "24.04", snapd=True)
    assert "snapd" in remote.packages


def test_a_snapd_base_instance_boots_systemd_and_gets_a_fuse_device(fake_lxc, monkeypatch):
    fake_lxc({})
    source = image_source("debian@12", "amd64", {}, snapd=True)
    base_instance._init_base(Lxc(), "img", "base1", source)
    init, *devices = fake_lxc.calls
    assert init[:5] == ["--project", "rockpack", "init", "img", "base1"]
    assert not any(arg.startswith("raw.lxc=") for arg in init)  # the image's own init
    if Path("/dev/fuse").exists():
        assert devices == [
            ["--project", "rockpack", "config", "device", "add", "base1", "fuse", "unix-char",
             "mode=0666", "path=/dev/fuse", "source=/dev/fuse"]
        ]  # fmt: skip


def test_other_base_instances_keep_sleep_as_init(fake_lxc):
    fake_lxc({})
    base_instance._init_base(Lxc(), "img", "base1", image_source("debian@12", "amd64", {}))
    (init,) = fake_lxc.calls
    assert f"raw.lxc={base_instance.INIT}" in init


def test_loopback_repositories_are_forwarded_but_never_over_the_proxys_port(fake_lxc):
    fake_lxc({})
    instance_network.forward_ports(Lxc(), "i1", (8000, instance_network.PROXY_PORT), proxied=True)
    added = [c for c in fake_lxc.calls if c[2:5] == ["config", "device", "add"]]
    assert added == [
        ["--project", "rockpack", "config", "device", "add", "i1", "rockpack-port-8000",
         "proxy", "listen=tcp:127.0.0.1:8000", "connect=tcp:127.0.0.1:8000", "bind=instance"]
    ]  # fmt: skip


def test_snapd_in_the_instance_uses_the_host_proxy(fake_lxc):
    fake_lxc({"~getent": {"code": 2}})
    with instance_network.package_access(Lxc(), "i1", "deb.debian.org", snapd=True) as env:
        assert env["https_proxy"] == "http://127.0.0.1:3142"
    address = "http://127.0.0.1:3142"
    assert [
        "--project", "rockpack", "exec", "-T", "i1", "--", "snap", "set", "system",
        f"proxy.http={address}", f"proxy.https={address}",
    ] in fake_lxc.calls  # fmt: skip


def test_needs_are_decided_before_any_image(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    repo = (
        "package-repositories:\n  - type: apt\n    url: http://127.0.0.1:8000\n"
        "    suites: [stable]\n    components: [main]\n"
        "    key-id: 9F45B010BED421F60398A67A2D9D64175F7DFA1C\n"
    )
    needs = clean_build.instance_needs(loaded(repo), tmp_path)
    assert needs == clean_build.InstanceNeeds(False, None, (8000,))
    snaps = clean_build.instance_needs(loaded(part="    build-snaps: [go]\n"), tmp_path)
    assert snaps.snapd
    with pytest.raises(ProviderError, match="is a PPA, which only an Ubuntu build-base"):
        ppa = "package-repositories:\n  - type: apt\n    ppa: owner/name\n"
        clean_build.instance_needs(loaded(ppa), tmp_path)
    with pytest.raises(ProviderError, match="cuts from an Ubuntu release"):
        clean_build.instance_needs(loaded(part="    stage-packages: [libc6_libs]\n"), tmp_path)


# chisel: this host's, else its release archive (checked against the published checksum)


def archive_with(binary: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in (("chisel", binary), ("LICENSE", b"license")):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def releases(tmp_path):
    """A release mirror on 127.0.0.1: files by path, and the paths asked for."""
    files: dict[str, bytes] = {}
    asked: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            data = files.get(self.path)
            self.send_response(200 if data is not None else 404)
            self.send_header("Content-Length", str(len(data or b"")))
            self.end_headers()
            self.wfile.write(data or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", files, asked
    server.shutdown()
    server.server_close()


def publish(files: dict[str, bytes], archive: bytes, checksum: str | None = None) -> None:
    name = "chisel_v1.4.1_linux_amd64.tar.gz"
    files[f"/v1.4.1/{name}"] = archive
    digest = checksum or hashlib.sha384(archive).hexdigest()
    files[f"/v1.4.1/{name}.sha384"] = f"{digest}  {name}\n".encode()


def test_the_release_archive_is_verified_extracted_and_cached(releases, tmp_path):
    url, files, asked = releases
    publish(files, archive_with(b"\x7fELF chisel"))
    environ = {CHISEL_RELEASES_ENV: url}
    binary = release_chisel("amd64", tmp_path / "cache", environ)
    assert binary.read_bytes() == b"\x7fELF chisel" and binary.stat().st_mode & stat.S_IXUSR
    count = len(asked)
    assert release_chisel("amd64", tmp_path / "cache", environ) == binary
    assert len(asked) == count  # cached


def test_an_archive_that_does_not_match_its_checksum_is_refused(releases, tmp_path):
    url, files, _ = releases
    publish(files, archive_with(b"chisel"), checksum="0" * 96)
    with pytest.raises(ProviderError, match="does not match its published checksum"):
        release_chisel("amd64", tmp_path / "cache", {CHISEL_RELEASES_ENV: url})
    assert not (tmp_path / "cache/v1.4.1/amd64/chisel").exists()


def test_this_hosts_chisel_comes_first(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "chisel").write_text("#!/bin/sh\n")
    (bin_dir / "chisel").chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    found = chisel_for_instance(SLICES, arch="amd64", cache=tmp_path, instance_has_snapd=False)
    assert found == bin_dir / "chisel"


def test_no_chisel_anywhere_is_one_error_before_any_image(releases, tmp_path, monkeypatch):
    url, _, _ = releases  # serves nothing
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    environ = {CHISEL_RELEASES_ENV: url}
    with pytest.raises(ProviderError) as info:
        chisel_for_instance(
            SLICES, arch="amd64", cache=tmp_path, instance_has_snapd=False, environ=environ
        )
    assert info.value.brief == (
        "The parts use chisel slices (part 'hello': libc6_libs), and there is no chisel to "
        "put in the build instance: no 'chisel' on this host's PATH, and its release archive "
        "could not be had."
    )
    assert "HTTP 404" in info.value.details
    assert CHISEL_RELEASES_ENV in info.value.resolution
    # With snapd in the instance, the chisel snap is the fallback, as in Rockcraft.
    assert (
        chisel_for_instance(
            SLICES, arch="amd64", cache=tmp_path, instance_has_snapd=True, environ=environ
        )
        is None
    )
    assert chisel_for_instance({"a": {"plugin": "nil"}}, arch="amd64", cache=tmp_path,
                               instance_has_snapd=False) is None  # fmt: skip
