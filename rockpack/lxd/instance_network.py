"""What a build instance reaches over the network.

An instance may have no network of its own: the package archives are then reached
through a proxy on the host, and services on this host's loopback (a registry mirror,
package repositories) are forwarded in, so that the build inside sees what the host sees.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from craft_cli import emit

from rockpack.lxd.lxc import Lxc, lxc_error
from rockpack.lxd.proxy import HostProxy

PROXY_PORT = 3142
# Brings up loopback in an instance whose init is not systemd (python3 is in the image).
LOOPBACK_UP = (
    "import fcntl, socket, struct\n"
    "s = socket.socket()\n"
    "req = struct.pack('16sH14x', b'lo', 0)\n"
    "flags = struct.unpack('16sH14x', fcntl.ioctl(s, 0x8913, req))[1]\n"
    "fcntl.ioctl(s, 0x8914, struct.pack('16sH14x', b'lo', flags | 1))\n"
)


@contextmanager
def package_access(
    lxc: Lxc, instance: str, archive_host: str, *, snapd: bool = False
) -> Iterator[dict[str, str]]:
    """Package archives inside: the instance's own network, or the host's through a proxy
    (for apt, for pip and chisel by the environment, and for snapd's store)."""
    probe = lxc.exec(instance, ["getent", "hosts", archive_host], check=False)
    if probe.returncode == 0:
        yield {}
        return
    with HostProxy() as proxy:
        device = "rockpack-proxy"
        lxc.run("config", "device", "remove", instance, device, check=False)
        lxc.add_proxy(
            instance, device, f"tcp:127.0.0.1:{PROXY_PORT}", f"tcp:127.0.0.1:{proxy.port}"
        )
        address = f"http://127.0.0.1:{PROXY_PORT}"
        conf = f'Acquire::http::Proxy "{address}";\n'.encode()
        with tempfile.TemporaryFile() as handle:
            handle.write(conf)
            handle.seek(0)
            lxc.exec(instance, ["tee", "/etc/apt/apt.conf.d/01rockpack-proxy"], stdin=handle)
        if snapd:
            _proxy_snapd(lxc, instance, address)
        yield {"http_proxy": address, "https_proxy": address}


def _proxy_snapd(lxc: Lxc, instance: str, address: str) -> None:
    proxies = [f"proxy.http={address}", f"proxy.https={address}"]
    result = lxc.exec(instance, ["snap", "set", "system", *proxies], check=False)
    if result.returncode != 0:
        emit.debug(f"snapd keeps no proxy, so it reaches no store: {lxc_error(result)}")


def forward_registry(lxc: Lxc, instance: str) -> None:
    """A registry on the host's loopback (a test or local mirror) is reachable inside too."""
    mirror = os.environ.get("ROCKPACK_REGISTRY_MIRROR", "")
    host, _, port = mirror.rpartition(":")
    if host in ("127.0.0.1", "localhost") and port.isdigit():
        device = "rockpack-registry"
        lxc.run("config", "device", "remove", instance, device, check=False)
        lxc.add_proxy(instance, device, f"tcp:127.0.0.1:{port}", f"tcp:127.0.0.1:{port}")


def forward_ports(lxc: Lxc, instance: str, ports: tuple[int, ...], *, proxied: bool) -> None:
    """Package repositories on this host's loopback answer on the instance's loopback too."""
    for port in ports:
        if proxied and port == PROXY_PORT:
            continue  # that port is the proxy's inside; through it apt reaches this one
        device = f"rockpack-port-{port}"
        lxc.run("config", "device", "remove", instance, device, check=False)
        lxc.add_proxy(instance, device, f"tcp:127.0.0.1:{port}", f"tcp:127.0.0.1:{port}")
