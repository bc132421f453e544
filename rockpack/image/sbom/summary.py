"""``rockpack sbom ROCK`` and ``rockpack inspect --sbom``: a rock's SBOM, whole or in brief.

The SBOM is ``/.rock/sbom.spdx.json`` in the rock's attestation layer, read without
unpacking the rock.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from rockpack.errors import RockpackError
from rockpack.oci.artifacts import SPDX_JSON, rock_attachments
from rockpack.oci.documents import parse_object
from rockpack.oci.inspect_report import check_format
from rockpack.oci.rock_archive import read_rock
from rockpack.oci.tempfiles import locked_temp_file

MAX_SBOM_BYTES = 64 * 1024 * 1024
SHOWN = 50  # packages listed in text, besides the base's


class NoSbomError(RockpackError):
    def __init__(self, rock: Path) -> None:
        super().__init__(
            f"{rock} holds no SBOM.",
            details="It was packed with 'attestations: {sbom: false}' or --no-attestations, "
            "by a rockpack without SBOMs, or by another tool.",
            resolution="Pack it again with this rockpack, with the SBOM on (the default).",
        )


def sbom_bytes(rock: Path) -> bytes:
    """The rock's SPDX document, exactly as packed."""
    if not rock.is_file():
        raise RockpackError(
            f"{rock} is not a file.", resolution="Pass a .rock written by 'rockpack pack'."
        )
    for attachment in rock_attachments(read_rock(rock)):
        if attachment.media_type == SPDX_JSON:
            return attachment.content
    raise NoSbomError(rock)


def write_sbom(rock: Path, output: Path | None) -> str:
    """The SBOM written to ``output`` (a file, or a directory to hold
    ``<rock>.spdx.json``), atomically; without ``output``, the document itself."""
    document = sbom_bytes(rock)
    if output is None:
        return document.decode("utf-8", "replace").rstrip("\n")
    destination = output / f"{rock.stem}.spdx.json" if output.is_dir() else output
    try:
        with locked_temp_file(destination.parent, f".{destination.name}.") as temp:
            temp.handle.write(document)
            temp.handle.flush()
            temp.path.replace(destination)
    except OSError as err:
        raise RockpackError(
            f"Cannot write {destination}: {err.strerror}.",
            resolution="Choose a writable file or directory with --output.",
        ) from err
    return f"Wrote the SBOM of {rock.name} to {destination}."


def render_sbom_summary(rock: Path, fmt: str = "text") -> str:
    """What the rock's SBOM lists, in brief: as text, or as JSON."""
    check_format(fmt)
    document = parse_object(sbom_bytes(rock), f"{rock}: its SBOM", limit=MAX_SBOM_BYTES)
    summary = sbom_summary(document)
    if fmt == "json":
        return json.dumps(summary, indent=2, sort_keys=True)
    return "\n".join(_text(rock, summary))


def sbom_summary(document: dict[str, Any]) -> dict[str, Any]:
    """Counts by origin (the base, each part) and ecosystem, licence coverage, and the
    packages the parts added."""
    packages = {
        str(p.get("SPDXID")): p for p in document.get("packages") or [] if isinstance(p, dict)
    }
    container: dict[str, str] = {}
    for relation in document.get("relationships") or []:
        if isinstance(relation, dict) and relation.get("relationshipType") == "CONTAINS":
            container[str(relation.get("relatedSpdxElement"))] = str(relation.get("spdxElementId"))
    listed = []
    for spdx_id, package in sorted(packages.items()):
        purl = _purl(package)
        if not purl or package.get("primaryPackagePurpose") == "CONTAINER":
            continue
        owner = container.get(spdx_id, "")
        listed.append(
            {
                "from": "base" if owner == "SPDXRef-Base" else _part_name(packages.get(owner)),
                "ecosystem": purl.removeprefix("pkg:").split("/", 1)[0],
                "name": str(package.get("name", "")),
                "version": str(package.get("versionInfo", "")),
                "license": str(package.get("licenseDeclared", "NOASSERTION")),
                "purl": purl,
            }
        )
    counts = Counter((p["from"], p["ecosystem"]) for p in listed)
    return {
        "name": document.get("name"),
        "spdxVersion": document.get("spdxVersion"),
        "created": (document.get("creationInfo") or {}).get("created"),
        "documentNamespace": document.get("documentNamespace"),
        "packages": len(listed),
        "licensed": sum(1 for p in listed if p["license"] != "NOASSERTION"),
        "counts": [
            {"from": origin, "ecosystem": ecosystem, "packages": count}
            for (origin, ecosystem), count in sorted(counts.items())
        ],
        "added_by_parts": [p for p in listed if p["from"] != "base"],
    }


def _part_name(package: dict[str, Any] | None) -> str:
    if package is None or package.get("primaryPackagePurpose") != "OTHER":
        return ""
    return f"part:{package.get('name', '')}"


def _text(rock: Path, summary: dict[str, Any]) -> list[str]:
    total = summary["packages"]
    lines = [
        f"sbom      {summary['name']} ({summary['spdxVersion']}, created {summary['created']})",
        f"          {total} package{'' if total == 1 else 's'}, {summary['licensed']} with "
        "a declared licence",
    ]
    by_origin: dict[str, list[str]] = {}
    for item in summary["counts"]:
        origin = item["from"].replace("part:", "part ") or "no part"
        by_origin.setdefault(origin, []).append(f"{item['packages']} {item['ecosystem']}")
    for origin, counts in by_origin.items():
        lines.append(f"          {origin}: {', '.join(counts)}")
    added = summary["added_by_parts"]
    if added:
        lines += ["", "added by the parts:"]
        for package in added[:SHOWN]:
            lines.append(
                f"  {package['name']} {package['version']}  {package['purl']}  "
                f"({package['license']})"
            )
        if len(added) > SHOWN:
            lines.append(f"  ... and {len(added) - SHOWN} more (rockpack sbom {rock.name})")
    return lines


def _purl(package: dict[str, Any]) -> str:
    for ref in package.get("externalRefs") or []:
        if isinstance(ref, dict) and ref.get("referenceType") == "purl":
            return str(ref.get("referenceLocator", ""))
    return ""
