"""A clean build's instance has no network: the host sends its Pebble in."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import textwrap
from pathlib import Path

from rockpack.lxd.clean_build import CleanBuild
from rockpack.lxd.transfer import push_pebble_source as _push_pebble_source
from rockpack.pebble.seed import seed_home
from rockpack.project.model import load_project
from tests.conftest import MINIMAL
from tests.unit.pebble.fakes import asset_path, make_elf, write_file

SERVICES = "services:\n  web:\n    override: replace\n    command: /bin/web\n"
ASSET = "/v1.32.1/pebble_v1.32.1_linux_amd64.tar.gz"
TWO_PLATFORMS = "platforms:\n  amd64:\n  arm64:\n    build-on: [amd64]\n    build-for: [arm64]\n"


class FakeLxc:
    """Records exec calls; keeps what was sent on stdin."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], bytes]] = []

    def exec(self, name: str, command: list[str], *, stdin=None, **_: object) -> None:
        self.calls.append((list(command), stdin.read() if stdin is not None else b""))

    def sent_tree(self) -> dict[str, bytes]:
        [(_, data)] = [c for c in self.calls if c[0][:3] == ["tar", "-C", "/root"]]
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            return {
                m.name.removeprefix("./"): tar.extractfile(m).read()
                for m in tar.getmembers()
                if m.isfile()
            }


def clean_build(tmp_path: Path, extra: str, arguments: list[str] | None = None) -> CleanBuild:
    """A clean build of MINIMAL plus ``extra``; with services it has no entrypoint-command."""
    text = textwrap.dedent(MINIMAL).lstrip()
    if "services:" in extra:
        text = text.replace("entrypoint-command: /bin/hello [ world ]\n", "")
    if "platforms:" in extra:
        text = text.replace("platforms:\n  amd64:\n", "")
    path = write_file(tmp_path / "project/rockpack.yaml", (text + extra).encode(), 0o644)
    loaded = load_project(path.parent)
    return CleanBuild(loaded, "pack", arguments or [], None, False, 1700000000)


def test_the_release_and_its_trust_entry_are_seeded_for_the_inner_run(
    mirror, tmp_path, monkeypatch
):
    monkeypatch.setenv("ROCKPACK_PEBBLE_MIRROR", mirror.url)
    lxc = FakeLxc()
    env = _push_pebble_source(lxc, "inst", clean_build(tmp_path, SERVICES))  # type: ignore[arg-type]
    assert env == {}
    archive = asset_path(mirror.root, "amd64").read_bytes()
    digest = hashlib.sha256(archive).hexdigest()
    tree = lxc.sent_tree()
    assert tree[f".cache/rockpack/pebble/archives/sha256/{digest}"] == archive
    assert json.loads(tree[".config/rockpack/pebble-trust.json"]) == {
        "v1.32.1": {"amd64": {"sha256": digest, "url": f"{mirror.url}{ASSET}"}}
    }
    assert len(tree) == 2


def test_only_the_selected_platforms_are_seeded(mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("ROCKPACK_PEBBLE_MIRROR", mirror.url)
    both = clean_build(tmp_path / "a", TWO_PLATFORMS + SERVICES)
    lxc = FakeLxc()
    _push_pebble_source(lxc, "inst", both)  # type: ignore[arg-type]
    assert len([n for n in lxc.sent_tree() if "/archives/" in n]) == 2
    one = clean_build(tmp_path / "b", TWO_PLATFORMS + SERVICES, ["--platform", "arm64"])
    lxc = FakeLxc()
    _push_pebble_source(lxc, "inst", one)  # type: ignore[arg-type]
    trust = json.loads(lxc.sent_tree()[".config/rockpack/pebble-trust.json"])
    assert set(trust["v1.32.1"]) == {"arm64"}


def test_a_rock_without_pebble_sends_nothing(mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("ROCKPACK_PEBBLE_MIRROR", mirror.url)
    lxc = FakeLxc()
    assert _push_pebble_source(lxc, "inst", clean_build(tmp_path, "")) == {}  # type: ignore[arg-type]
    assert lxc.calls == [] and mirror.requests == []


def test_an_explicit_source_is_sent_and_pointed_at(mirror, tmp_path, monkeypatch):
    binary = write_file(tmp_path / "my-pebble", make_elf())
    monkeypatch.setenv("ROCKPACK_PEBBLE_SOURCE", str(binary))
    lxc = FakeLxc()
    env = _push_pebble_source(lxc, "inst", clean_build(tmp_path, SERVICES))  # type: ignore[arg-type]
    assert env == {"ROCKPACK_PEBBLE_SOURCE": "/root/pebble-source"}
    assert lxc.calls == [(["sh", "-c", 'cat > "$0"', "/root/pebble-source"], make_elf())]


def test_an_explicit_url_is_fetched_on_the_host(mirror, tmp_path, monkeypatch):
    url = f"{mirror.url}{ASSET}"
    monkeypatch.setenv("ROCKPACK_PEBBLE_SOURCE", url)
    lxc = FakeLxc()
    _push_pebble_source(lxc, "inst", clean_build(tmp_path, SERVICES))  # type: ignore[arg-type]
    assert lxc.calls[0][1] == asset_path(mirror.root, "amd64").read_bytes()
    assert mirror.requests == [ASSET]


def test_seed_home_writes_nothing_for_official_digests(mirror, tmp_path, monkeypatch):
    from rockpack.pebble import release

    served = hashlib.sha256(asset_path(mirror.root, "amd64").read_bytes()).hexdigest()
    monkeypatch.setitem(release.OFFICIAL_DIGESTS, ("v1.32.1", "amd64"), served)
    written = seed_home(["amd64"], tmp_path / "home", {"ROCKPACK_PEBBLE_MIRROR": mirror.url})
    assert written == [tmp_path / f"home/.cache/rockpack/pebble/archives/sha256/{served}"]
