"""Package URLs (purl), built as the purl specification says.

Every component is percent-encoded except ASCII letters, digits, ``.-_~`` and ``:``;
qualifiers are sorted by key and empty ones dropped. Type-specific rules: deb names and
vendors are lowercased; PyPI names are lowercased with ``_`` as ``-``; an npm scope
(``@scope``) is the namespace, its ``@`` encoded; a Go module path splits into a
namespace and a name, case kept (module paths are case-sensitive); Maven has the group
as namespace.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote


def encode(text: str) -> str:
    """``text`` percent-encoded for a purl component (``:`` stays as it is)."""
    return quote(text, safe=":")


def purl(
    kind: str,
    name: str,
    version: str = "",
    namespace: str = "",
    qualifiers: Mapping[str, str] | None = None,
) -> str:
    """``pkg:kind/namespace/name@version?qualifiers`` from its components."""
    path = "/".join(encode(segment) for segment in namespace.strip("/").split("/") if segment)
    text = f"pkg:{kind}/" + (f"{path}/" if path else "") + encode(name.strip("/"))
    if version:
        text += "@" + encode(version)
    pairs = sorted(
        f"{key.lower()}={encode(value)}" for key, value in (qualifiers or {}).items() if value
    )
    return text + ("?" + "&".join(pairs) if pairs else "")


def deb_purl(vendor: str, name: str, version: str, arch: str, distro: str) -> str:
    """``pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12``."""
    qualifiers = {"arch": arch, "distro": distro}
    return purl("deb", name.lower(), version, vendor.lower(), qualifiers)


def pypi_purl(name: str, version: str) -> str:
    return purl("pypi", name.lower().replace("_", "-"), version)


def npm_purl(name: str, version: str) -> str:
    """``@scope/name`` has ``@scope`` as its namespace (encoded as ``%40scope``)."""
    scope, _, bare = name.rpartition("/") if name.startswith("@") else ("", "", name)
    return purl("npm", bare, version, scope)


def golang_purl(module: str, version: str) -> str:
    """``github.com/canonical/pebble`` -> namespace ``github.com/canonical``, name ``pebble``;
    ``(devel)`` (a build from a checkout) is no version."""
    namespace, _, name = module.rpartition("/")
    return purl("golang", name, "" if version == "(devel)" else version, namespace)


def maven_purl(group: str, artifact: str, version: str) -> str:
    return purl("maven", artifact, version, group)


def generic_purl(name: str, version: str, sha256: str = "") -> str:
    return purl(
        "generic", name, version, qualifiers={"checksum": f"sha256:{sha256}" if sha256 else ""}
    )


def oci_purl(repository: str, digest: str, tag: str = "", arch: str = "") -> str:
    """An OCI image by digest: its name is the repository's last part, the repository
    (without a tag) goes in ``repository_url``."""
    name = repository.rpartition("/")[2].lower()
    qualifiers = {"repository_url": repository, "tag": tag, "arch": arch}
    return purl("oci", name, digest, qualifiers=qualifiers)
