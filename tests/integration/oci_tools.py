"""Real consumers of a .rock (skopeo, umoci, runc) and an independent validator."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from rockpack.oci.rock_archive import open_blob, read_rock
from tests.conftest import require_tool

OCI_MEDIA_TYPES = {
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.oci.image.layer.v1.tar+gzip",
}


def validate_rock(rock: Path) -> dict:
    """Check a .rock by the OCI spec, independently of rockpack; return its config."""
    with tarfile.open(rock) as archive:
        files = {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}
    assert json.loads(files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads(files["index.json"])
    assert index["schemaVersion"] == 2 and len(index["manifests"]) == 1

    def blob(descriptor: dict) -> bytes:
        assert descriptor["mediaType"] in OCI_MEDIA_TYPES, descriptor["mediaType"]
        data = files["blobs/sha256/" + descriptor["digest"].removeprefix("sha256:")]
        assert len(data) == descriptor["size"]
        assert "sha256:" + hashlib.sha256(data).hexdigest() == descriptor["digest"]
        return data

    manifest = json.loads(blob(index["manifests"][0]))
    config = json.loads(blob(manifest["config"]))
    diff_ids = [
        "sha256:" + hashlib.sha256(gzip.decompress(blob(layer))).hexdigest()
        for layer in manifest["layers"]
    ]
    assert config["rootfs"] == {"type": "layers", "diff_ids": diff_ids}
    referenced = {
        "blobs/sha256/" + d["digest"][7:]
        for d in [index["manifests"][0], manifest["config"], *manifest["layers"]]
    }
    assert {f for f in files if f.startswith("blobs/")} == referenced  # nothing stray
    return config


def layer_tar(rock: Path, number: int) -> tarfile.TarFile:
    """Layer ``number`` of the rock (negative counts from the top), uncompressed in memory."""
    image = read_rock(rock)
    with open_blob(image, image.layers[number]) as blob:
        data = blob.read()
    return tarfile.open(fileobj=io.BytesIO(gzip.decompress(data)))


def part_members(rock: Path) -> dict[str, tarfile.TarInfo]:
    """Every entry of the layers the parts made (origin ``part:NAME``), a later layer winning."""
    image = read_rock(rock)
    members: dict[str, tarfile.TarInfo] = {}
    for number, descriptor in enumerate(image.layers):
        origins = dict(descriptor.annotations).get("io.rockpack.layer.origin", "")
        if any(origin.startswith("part:") for origin in origins.split(",")):
            members.update({m.name: m for m in layer_tar(rock, number).getmembers()})
    return members


def rock_config(rock: Path) -> dict:
    image = read_rock(rock)
    with open_blob(image, image.config) as blob:
        return json.loads(blob.read())


def skopeo_inspect(rock: Path) -> dict:
    skopeo = require_tool("skopeo")
    out = subprocess.run(
        [skopeo, "inspect", f"oci-archive:{rock}"], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def umoci_unpack(rock: Path, work: Path) -> Path:
    """The bundle umoci unpacks from ``rock`` (its rootfs is ``bundle/rootfs``)."""
    skopeo, umoci = require_tool("skopeo"), require_tool("umoci")
    layout, bundle = work / "layout", work / "bundle"
    work.mkdir(parents=True, exist_ok=True)
    subprocess.run([skopeo, "copy", "-q", f"oci-archive:{rock}", f"oci:{layout}:rock"], check=True)
    subprocess.run(
        [umoci, "unpack", "--image", f"{layout}:rock", str(bundle)], check=True, capture_output=True
    )
    return bundle


@dataclass(frozen=True)
class RunResult:
    returncode: int
    stdout: str
    stderr: str


def runc_run(
    bundle: Path, args: list[str] | None = None, user: tuple[int, int] | None = None
) -> RunResult:
    """Run the bundle's process (or ``args``) under runc and collect its output."""
    runc = require_tool("runc")
    config_path = bundle / "config.json"
    config = json.loads(config_path.read_text())
    config["process"]["terminal"] = False
    if args is not None:
        config["process"]["args"] = args
    if user is not None:
        config["process"]["user"] = {"uid": user[0], "gid": user[1]}
    config_path.write_text(json.dumps(config))
    container = f"rockpack-test-{uuid.uuid4().hex[:12]}"
    result = subprocess.run(
        [runc, "run", "--bundle", str(bundle), container],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    subprocess.run([runc, "delete", "--force", container], capture_output=True, check=False)
    return RunResult(result.returncode, result.stdout, result.stderr)


@dataclass(frozen=True)
class FileFacts:
    kind: str
    mode: int
    uid: int
    gid: int
    size: int
    link: str


def tree_facts(root: Path) -> dict[str, FileFacts]:
    """Type, mode, owner, size and link target of every path below ``root``."""
    facts = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            st = path.lstat()
            kind = (
                "dir"
                if path.is_dir() and not path.is_symlink()
                else "symlink"
                if path.is_symlink()
                else "file"
            )
            facts[path.relative_to(root).as_posix()] = FileFacts(
                kind,
                st.st_mode & 0o7777,
                st.st_uid,
                st.st_gid,
                st.st_size if kind == "file" else 0,
                os.readlink(path) if kind == "symlink" else "",
            )
    return facts


def inode_groups(root: Path) -> set[frozenset[str]]:
    """Sets of paths that share an inode (only groups of two or more)."""
    by_inode: dict[int, set[str]] = {}
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            path = Path(dirpath, name)
            if not path.is_symlink():
                by_inode.setdefault(path.lstat().st_ino, set()).add(
                    path.relative_to(root).as_posix()
                )
    return {frozenset(paths) for paths in by_inode.values() if len(paths) > 1}


def registry_put_blob(host: str, repository: str, data: bytes) -> str:
    """Upload ``data`` as a blob to a registry on loopback; return its digest."""
    import urllib.request

    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    start = urllib.request.Request(f"http://{host}/v2/{repository}/blobs/uploads/", method="POST")
    with urllib.request.urlopen(start, timeout=30) as response:
        location = response.headers["Location"]
    if location.startswith("/"):
        location = f"http://{host}{location}"
    separator = "&" if "?" in location else "?"
    put = urllib.request.Request(
        f"{location}{separator}digest={digest}",
        data=data,
        method="PUT",
        headers={"Content-Type": "application/octet-stream"},
    )
    with urllib.request.urlopen(put, timeout=30):
        pass
    return digest


def registry_put_manifest(host: str, repository: str, tag: str, document: dict) -> str:
    """Store ``document`` as the manifest ``repository:tag``; return its digest."""
    import urllib.request

    raw = json.dumps(document).encode()
    put = urllib.request.Request(
        f"http://{host}/v2/{repository}/manifests/{tag}",
        data=raw,
        method="PUT",
        headers={"Content-Type": document["mediaType"]},
    )
    with urllib.request.urlopen(put, timeout=30):
        pass
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def registry_delete_manifest(host: str, repository: str, digest: str) -> None:
    import urllib.request

    request = urllib.request.Request(
        f"http://{host}/v2/{repository}/manifests/{digest}", method="DELETE"
    )
    with urllib.request.urlopen(request, timeout=30):
        pass


def flip_byte(path: Path, offset: int = -1) -> None:
    """Flip one bit of one byte of ``path`` in place (a bad sector, a cosmic ray)."""
    data = bytearray(path.read_bytes())
    data[offset] ^= 1
    path.write_bytes(bytes(data))


def flip_blob_in_rock(rock: Path, digest: str) -> None:
    """Flip a byte in the middle of blob ``digest`` inside the archive ``rock``."""
    with tarfile.open(rock) as archive:
        member = archive.getmember("blobs/sha256/" + digest.removeprefix("sha256:"))
        offset = member.offset_data + member.size // 2
    with rock.open("r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 1]))
