"""Java archives in the prime dir: the Maven coordinates their ``pom.properties`` give
(one per artifact a jar holds: a shaded jar holds several), and those of the jars a
Spring Boot or web archive nests (``BOOT-INF/lib/*.jar``, ``WEB-INF/lib/*.jar``).

A jar without ``pom.properties`` has no reliable group, so no Maven purl: it is listed
only when its ``MANIFEST.MF`` gives a title and a version.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from rockpack.image.sbom.dpkg import parse_stanzas
from rockpack.image.sbom.licenses import spdx_expression

MAX_ENTRY = 1024 * 1024  # a manifest or pom.properties
MAX_NESTED_JAR = 64 * 1024 * 1024
NESTED_DIRS = ("BOOT-INF/lib/", "WEB-INF/lib/")
MAX_MEMBERS = 100_000


@dataclass(frozen=True)
class JavaArtifact:
    path: str  # the jar, prime-relative; 'outer.jar!/BOOT-INF/lib/x.jar' when nested
    group: str  # '' when only the manifest names it
    artifact: str
    version: str
    license: str | None = None


def read_jar(prime_dir: Path, path: str) -> list[JavaArtifact]:
    """The artifacts of the jar at ``path`` and of the jars it nests; [] if unreadable."""
    try:
        with zipfile.ZipFile(prime_dir / path) as archive:
            return _artifacts(archive, path, nested=True)
    except (OSError, zipfile.BadZipFile, ValueError, EOFError, NotImplementedError):
        return []


def _artifacts(archive: zipfile.ZipFile, path: str, *, nested: bool) -> list[JavaArtifact]:
    names = archive.namelist()[:MAX_MEMBERS]
    manifest = _manifest(archive) if "META-INF/MANIFEST.MF" in names else {}
    licence = spdx_expression(manifest.get("bundle-license"))
    found = []
    for name in sorted(n for n in names if _is_pom_properties(n)):
        values = _properties(_member(archive, name))
        group, artifact = values.get("groupId", ""), values.get("artifactId", "")
        version = values.get("version", "")
        if group and artifact and version:
            found.append(JavaArtifact(path, group, artifact, version, licence))
    if not found:
        title = manifest.get("implementation-title") or manifest.get("bundle-symbolicname", "")
        version = manifest.get("implementation-version") or manifest.get("bundle-version", "")
        if title and version:
            found.append(JavaArtifact(path, "", title.split(";")[0].strip(), version, licence))
    if nested:
        for name in sorted(n for n in names if n.startswith(NESTED_DIRS) and n.endswith(".jar")):
            info = archive.getinfo(name)
            if info.file_size > MAX_NESTED_JAR:
                continue
            try:
                with zipfile.ZipFile(io.BytesIO(archive.read(info))) as inner:
                    found += _artifacts(inner, f"{path}!/{name}", nested=False)
            except (zipfile.BadZipFile, ValueError, EOFError, NotImplementedError):
                continue
    return found


def _is_pom_properties(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 5 and parts[:2] == ["META-INF", "maven"] and parts[4] == "pom.properties"


def _member(archive: zipfile.ZipFile, name: str) -> str:
    info = archive.getinfo(name)
    if info.file_size > MAX_ENTRY:
        return ""
    return archive.read(info).decode("utf-8", "replace")


def _manifest(archive: zipfile.ZipFile) -> dict[str, str]:
    """The main section of MANIFEST.MF (its continuation lines start with one space)."""
    text = _member(archive, "META-INF/MANIFEST.MF").replace("\r\n", "\n").replace("\n ", "")
    stanzas = parse_stanzas(text)
    return stanzas[0] if stanzas else {}


def _properties(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "!")) and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values
