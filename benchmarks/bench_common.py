"""What the benchmarks share: the rockpack command, the Debian tree, a local registry."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ROCKPACK = [str(REPO / ".venv/bin/python"), "-m", "rockpack"]
EPOCH = "1700000000"
# The integration tests' cache (tests/integration/conftest.py, cached_rootfs).
CACHE = Path(os.environ.get("ROCKPACK_TEST_CACHE", Path.home() / ".cache/rockpack-tests"))
BASE_TAR = CACHE / f"bookworm-minbase-{EPOCH}.tar"


def sh(command: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # type: ignore[no-any-return]
        ["bash", "-c", command],
        check=True,
        text=True,  # type: ignore[call-overload]
        capture_output=True,
        **kwargs,
    )


def debian_tar() -> Path:
    """The 170 MB Debian bookworm minbase rootfs tar, built once by mmdebstrap from this
    machine's Debian mirror, the way the integration tests build (and cache) it."""
    if not BASE_TAR.is_file():
        BASE_TAR.parent.mkdir(parents=True, exist_ok=True)
        partial = BASE_TAR.with_name(BASE_TAR.name + ".partial")
        sh(
            f"SOURCE_DATE_EPOCH={EPOCH} mmdebstrap --variant=minbase --mode=unshare "
            f"--format=tar --skip=output/dev -q bookworm {partial}"
        )
        partial.replace(BASE_TAR)
    return BASE_TAR


def many_files_tree(target: Path, count: int = 100_000) -> None:
    """``count`` files of a dozen bytes each, a thousand to a directory."""
    for index in range(count):
        directory = target / f"d{index // 1000:03d}"
        if index % 1000 == 0:
            directory.mkdir(parents=True)
        (directory / f"f{index % 1000:04d}.txt").write_text(f"file {index}\n")


class Registry:
    """docker-registry on a free loopback port; with the Debian tree as a one-layer image
    (made by umoci, not by rockpack) under each of ``names``."""

    def __init__(self, work: Path, names: tuple[str, ...] = ("library/debian:bookworm",)) -> None:
        work.mkdir(parents=True, exist_ok=True)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.host = f"127.0.0.1:{self.port}"
        config = work / "registry.yml"
        config.write_text(
            f"version: 0.1\nstorage: {{filesystem: {{rootdirectory: {work}/data}}}}\n"
            f"http: {{addr: {self.host}}}\nlog: {{level: error}}\n"
        )
        self.process = subprocess.Popen(
            ["docker-registry", "serve", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise SystemExit("docker-registry did not start") from None
                time.sleep(0.1)
        self.data = work / "data"
        self.layout = work / "base-layout"
        if not names:
            return
        layout = self.layout
        sh(
            f"umoci init --layout {layout} && umoci new --image {layout}:bookworm && "
            f"umoci raw add-layer --image {layout}:bookworm {debian_tar()} && "
            f"umoci config --image {layout}:bookworm "
            "--config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        )
        for name in names:
            sh(
                f"skopeo copy -q --dest-tls-verify=false oci:{layout}:bookworm "
                f"docker://{self.host}/{name}"
            )

    def stored_bytes(self) -> int:
        """Bytes of every blob the registry holds (each stored once, whatever pushed it)."""
        return sum(p.stat().st_size for p in self.data.rglob("data") if p.is_file())

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()
