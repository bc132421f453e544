"""The SBOM as an SPDX 2.3 JSON document, byte-stable.

The document describes the rock (a CONTAINER package). The rock CONTAINS its base
image (a package of its own, with the base's layers) and a package per part (with the
layers holding its files, and a summary of the files no package claims); the base and
each part CONTAIN the packages they brought. A program DEPENDS_ON the packages built
into it (a Go program's main module on its dependency modules and the standard
library). Packages carry a purl, a licence where the metadata states one (NOASSERTION
otherwise) and, where a package is one file, its SHA256.

Nothing in it depends on where or when it was made: the creation time is the rock's,
identifiers are derived from the packages, the namespace from the content, and keys
and lists are sorted.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from rockpack import __version__
from rockpack.image.sbom.collect import Inventory
from rockpack.image.sbom.licenses import spdx_expression
from rockpack.image.sbom.model import BASE, UNATTRIBUTED, Component
from rockpack.image.sbom.purl import oci_purl

NAMESPACE_PREFIX = "https://rockpack.invalid/spdxdocs/"
NOASSERTION = "NOASSERTION"
DOCUMENT_ID = "SPDXRef-DOCUMENT"
ROCK_ID = "SPDXRef-Rock"
BASE_ID = "SPDXRef-Base"
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9.-]+")


@dataclass(frozen=True)
class BaseDescription:
    name: str  # debian@12
    repository: str  # docker.io/library/debian
    tag: str  # bookworm
    digest: str  # the manifest's
    diff_ids: tuple[str, ...]


@dataclass(frozen=True)
class RockDescription:
    name: str
    version: str
    architecture: str  # the Debian name (amd64)
    created: str  # RFC 3339
    license: str | None = None  # the project's 'license'
    base: BaseDescription | None = None
    part_layers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # diff_ids


def spdx_document(rock: RockDescription, inventory: Inventory) -> bytes:
    """The SBOM of ``rock`` holding ``inventory`` (and its base's packages)."""
    packages = [_rock_package(rock, inventory)]
    relationships = [_relation(DOCUMENT_ID, "DESCRIBES", ROCK_ID)]
    if rock.base is not None:
        packages.append(_base_package(rock.base, rock.architecture))
        relationships.append(
            _relation(ROCK_ID, "CONTAINS", BASE_ID, _layers_comment(rock.base.diff_ids))
        )
    owners = sorted(
        {c.owner for c in inventory.components if c.owner not in (BASE, UNATTRIBUTED)}
        | set(rock.part_layers)
        | {o for o in inventory.unclaimed if o != UNATTRIBUTED}
    )
    for part in owners:
        packages.append(_part_package(part, rock, inventory))
        layers = rock.part_layers.get(part, ())
        relationships.append(_relation(ROCK_ID, "CONTAINS", part_id(part), _layers_comment(layers)))
    for component in inventory.components:
        spdx_id = component_id(component)
        packages.append(_component_package(spdx_id, component))
        container = {BASE: BASE_ID, UNATTRIBUTED: ROCK_ID}.get(component.owner) or part_id(
            component.owner
        )
        relationships.append(_relation(container, "CONTAINS", spdx_id))
    relationships += _dependencies(inventory.components)
    document: dict[str, Any] = {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": DOCUMENT_ID,
        "name": f"{rock.name}_{rock.version}_{rock.architecture}",
        "documentNamespace": "",
        "creationInfo": {"created": rock.created, "creators": [f"Tool: rockpack-{__version__}"]},
        "packages": sorted(packages, key=lambda p: p["SPDXID"]),
        "relationships": sorted(relationships, key=_relation_key),
    }
    content_hash = hashlib.sha256(_serialise(document)).hexdigest()
    name = quote(f"{rock.name}-{rock.version}-{rock.architecture}", safe="")
    document["documentNamespace"] = f"{NAMESPACE_PREFIX}{name}-{uuid.UUID(hex=content_hash[:32])}"
    return _serialise(document)


def component_id(component: Component) -> str:
    """A stable SPDX id: the ecosystem and name, and a hash of everything that tells two
    packages of one name apart."""
    key = "\0".join(
        (
            component.owner,
            component.ecosystem,
            component.name,
            component.version,
            component.location,
            component.purl,
        )
    )
    if component.comment:  # only then, so the ids of packages without one stay as they were
        key += "\0" + component.comment
    digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    slug = _UNSAFE_ID.sub("-", component.name).strip("-")[:60] or "package"
    return f"SPDXRef-{component.ecosystem}-{slug}-{digest}"


def part_id(part: str) -> str:
    digest = hashlib.sha256(part.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return f"SPDXRef-Part-{_UNSAFE_ID.sub('-', part).strip('-')[:60] or 'part'}-{digest}"


def _dependencies(components: list[Component]) -> list[dict[str, str]]:
    """A program DEPENDS_ON each component naming its path in ``dependency_of``; the
    program is the one APPLICATION component of the same owner at that path."""
    programs: dict[tuple[str, str], str] = {}
    for component in sorted(components):
        if component.purpose == "APPLICATION" and component.location:
            programs.setdefault((component.owner, component.location), component_id(component))
    relationships = []
    for component in components:
        for path in component.dependency_of:
            program = programs.get((component.owner, path))
            if program is not None:
                relationships.append(_relation(program, "DEPENDS_ON", component_id(component)))
    return relationships


def _rock_package(rock: RockDescription, inventory: Inventory) -> dict[str, Any]:
    package = _package(ROCK_ID, rock.name, rock.version, purpose="CONTAINER")
    licence = spdx_expression(rock.license)
    if licence:
        package["licenseDeclared"] = licence
    package["builtDate"] = rock.created
    comment = f"A rock for {rock.architecture}, packed by rockpack {__version__}."
    loose = inventory.unclaimed.get(UNATTRIBUTED)
    if loose is not None:
        comment += f" Files no part's prime state lists: {loose.describe()}."
    package["comment"] = comment
    return package


def _base_package(base: BaseDescription, architecture: str) -> dict[str, Any]:
    package = _package(BASE_ID, base.repository.rpartition("/")[2], base.tag, purpose="CONTAINER")
    package["checksums"] = [_sha256(base.digest.removeprefix("sha256:"))]
    package["externalRefs"] = [
        _purl_ref(oci_purl(base.repository, base.digest, base.tag, architecture))
    ]
    package["comment"] = (
        f"The base image '{base.name}' ({base.repository}:{base.tag}@{base.digest})."
    )
    return package


def _part_package(part: str, rock: RockDescription, inventory: Inventory) -> dict[str, Any]:
    package = _package(part_id(part), part, "", purpose="OTHER")
    comment = f"The files the part '{part}' put in the rock."
    unclaimed = inventory.unclaimed.get(part)
    comment += f" {unclaimed.describe()}." if unclaimed else " Every one is claimed by a package."
    package["comment"] = comment
    return package


def _component_package(spdx_id: str, component: Component) -> dict[str, Any]:
    package = _package(spdx_id, component.name, component.version, purpose=component.purpose)
    if component.license:
        package["licenseDeclared"] = component.license
    if component.purl:
        package["externalRefs"] = [_purl_ref(component.purl)]
    if component.sha256:
        package["checksums"] = [_sha256(component.sha256)]
    if component.source:
        package["sourceInfo"] = f"built from the source package {component.source}"
    found = f"Found at /{component.location}." if component.location else ""
    comment = f"{found} {component.comment}".strip()
    if comment:
        package["comment"] = comment
    return package


def _package(spdx_id: str, name: str, version: str, *, purpose: str) -> dict[str, Any]:
    package: dict[str, Any] = {
        "SPDXID": spdx_id,
        "name": name,
        "downloadLocation": NOASSERTION,
        "filesAnalyzed": False,
        "licenseConcluded": NOASSERTION,
        "licenseDeclared": NOASSERTION,
        "copyrightText": NOASSERTION,
        "primaryPackagePurpose": purpose,
    }
    if version:
        package["versionInfo"] = version
    return package


def _purl_ref(purl: str) -> dict[str, str]:
    return {
        "referenceCategory": "PACKAGE-MANAGER",
        "referenceType": "purl",
        "referenceLocator": purl,
    }


def _sha256(value: str) -> dict[str, str]:
    return {"algorithm": "SHA256", "checksumValue": value}


def _relation(element: str, kind: str, related: str, comment: str = "") -> dict[str, str]:
    relation = {"spdxElementId": element, "relationshipType": kind, "relatedSpdxElement": related}
    if comment:
        relation["comment"] = comment
    return relation


def _relation_key(relation: dict[str, str]) -> tuple[str, str, str]:
    return relation["spdxElementId"], relation["relationshipType"], relation["relatedSpdxElement"]


def _layers_comment(diff_ids: tuple[str, ...]) -> str:
    if not diff_ids:
        return ""
    noun = "layer" if len(diff_ids) == 1 else "layers"
    return f"In the rock's {noun} with diff_id {', '.join(diff_ids)}."


def _serialise(document: dict[str, Any]) -> bytes:
    """Indented JSON, keys sorted; a name that is not UTF-8 (a lone surrogate from the
    file system) gets U+FFFD, so the document stays valid UTF-8."""
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace").encode()
