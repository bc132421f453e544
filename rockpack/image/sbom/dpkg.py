"""dpkg's metadata: control stanzas (``/var/lib/dpkg/status``, ``status.d/*``, a .deb's
``control``) and ``/etc/os-release``.

A stanza is ``Field: value`` lines, continued by lines that start with a space or a
tab, and stanzas are separated by blank lines; field names are case-insensitive. A
package in a status file counts as installed when its ``Status`` ends in ``installed``
(``install ok installed``); stanzas without a ``Status`` (distroless ``status.d``
files, a .deb's control) describe a package that is there.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_STATUS_BYTES = 64 * 1024 * 1024  # dpkg status files of big images are a few MB


@dataclass(frozen=True)
class DebPackage:
    name: str
    version: str
    architecture: str
    source: str = ""  # the source package, when it differs from the name
    source_version: str = ""  # when it differs from the version (binNMUs)
    homepage: str = ""


@dataclass(frozen=True)
class Distro:
    vendor: str  # purl namespace: debian, ubuntu
    release: str  # purl distro qualifier: debian-12, ubuntu-22.04


def parse_stanzas(text: str) -> list[dict[str, str]]:
    """Every stanza of ``text`` as {lowercased field: value (continuations joined by \\n)}."""
    stanzas: list[dict[str, str]] = []
    current: dict[str, str] = {}
    field = ""
    for line in text.splitlines():
        if not line.strip():
            if current:
                stanzas.append(current)
            current, field = {}, ""
        elif line[0] in " \t":
            if field:
                current[field] += "\n" + line.strip()
        elif ":" in line:
            name, _, value = line.partition(":")
            field = name.strip().lower()
            current[field] = value.strip()
    if current:
        stanzas.append(current)
    return stanzas


def installed_packages(text: str) -> list[DebPackage]:
    """The installed packages a status file (or control file) lists, in its order."""
    found = []
    for stanza in parse_stanzas(text):
        status = stanza.get("status")
        if status is not None and status.split()[-1:] != ["installed"]:
            continue  # removed with its configuration kept, half-installed, ...
        package = deb_package(stanza)
        if package is not None:
            found.append(package)
    return found


def deb_package(stanza: dict[str, str]) -> DebPackage | None:
    name, version = stanza.get("package", ""), stanza.get("version", "")
    if not name or not version:
        return None
    source, _, rest = stanza.get("source", "").partition(" ")
    source_version = rest.strip().strip("()")
    return DebPackage(
        name=name,
        version=version,
        architecture=stanza.get("architecture", ""),
        source=source if source != name else "",
        source_version=source_version if source_version != version else "",
        homepage=stanza.get("homepage", ""),
    )


def os_release(text: str) -> dict[str, str]:
    """``KEY=value`` lines of os-release, quotes removed."""
    values = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key and not key.startswith("#"):
            values[key] = value.strip().strip("'\"")
    return values


def distro_from_os_release(values: dict[str, str]) -> Distro | None:
    """``debian-12`` from ID and VERSION_ID (or the codename of a release without one)."""
    vendor = values.get("ID", "").lower()
    release = values.get("VERSION_ID") or values.get("VERSION_CODENAME") or ""
    if not vendor or not release:
        return None
    return Distro(vendor, f"{vendor}-{release}")


def distro_from_base_name(base: str) -> Distro | None:
    """``debian@12`` -> debian-12; ``ubuntu@22.04`` -> ubuntu-22.04; ``devel`` (Ubuntu's
    development release) has no release number; None for others."""
    if base == "devel":
        return Distro("ubuntu", "")
    vendor, sep, release = base.partition("@")
    if not sep or vendor not in ("debian", "ubuntu"):
        return None
    return Distro(vendor, f"{vendor}-{release}")
