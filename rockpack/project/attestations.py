"""The project's ``attestations`` key: what rockpack attests about a rock.

By default every rock carries an SPDX SBOM and SLSA provenance, in ``/.rock/`` and as
OCI artifacts referring to its manifest (pushed as referrers; in the ``.rock``'s own index
too with ``in-index: true``). A project that must not publish them turns them off here;
``pack --no-attestations`` turns both off for one run.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from pydantic import Field

from rockpack.project.model_base import RockpackModel

if TYPE_CHECKING:  # model.py imports this module for its 'attestations' field
    from rockpack.project.model import LoadedProject


class Attestations(RockpackModel):
    """What rockpack attests about the rock: an SPDX 2.3 SBOM and SLSA v1 provenance,
    in /.rock/ and as OCI artifacts referring to the image (both on by default)."""

    sbom: bool = Field(
        default=True,
        description="An SPDX 2.3 JSON SBOM: the base's and the parts' packages, with "
        "versions, licences and purls (/.rock/sbom.spdx.json).",
    )
    provenance: bool = Field(
        default=True,
        description="SLSA v1 provenance as an in-toto statement: the project file, "
        "sources, base and build parameters (/.rock/provenance.intoto.json).",
    )
    in_index: bool = Field(
        default=False,
        description="Also list them in the .rock's own index.json, as artifacts beside the "
        "image (BuildKit's layout: an image index, the artifacts under platform "
        "unknown/unknown). Off by default: umoci and tools that expect index.json to name "
        "one image manifest need such a rock copied to a layout first.",
    )


NONE = Attestations(sbom=False, provenance=False)


def without_attestations(loaded: LoadedProject) -> LoadedProject:
    """The loaded project with both attestations off (``pack --no-attestations``)."""
    project = loaded.project.model_copy(update={"attestations": NONE})
    return replace(loaded, project=project)
