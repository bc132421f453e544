"""Stage-packages unpacked side by side: ``Ubuntu._unpack_stage_debs`` of craft-parts 2.37.

Upstream runs ``dpkg-deb --extract`` for one package after another, each into a scratch
directory that is then linked into the part's install dir. The extractions are separate
processes that spend their time decompressing, so this runs them at once, one per core,
then links the packages into the install dir one by one, in upstream's order, so a file
two packages ship ends as upstream leaves it, and a package that fails to extract
raises upstream's error after the packages before it were linked. The same install dir,
only sooner; it could go upstream as it is.
"""

from __future__ import annotations

import logging
import os
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from craft_parts.packages import deb
from craft_parts.packages.base import mark_origin_stage_package
from craft_parts.packages.normalize import normalize
from craft_parts.utils import deb_utils, file_utils

logger = logging.getLogger(__name__)
upstream_unpack_stage_debs = deb.Ubuntu.__dict__["_unpack_stage_debs"]  # before apply()


def unpack_stage_debs(
    cls: Any, *, stage_packages_path: Path, install_path: Path, track_stage_packages: bool
) -> None:
    """``Ubuntu._unpack_stage_debs``, the extractions run in parallel."""
    packages = list(stage_packages_path.glob("*.deb"))  # upstream's order
    if not packages:
        return
    workers = min(len(packages), os.cpu_count() or 1)
    with ExitStack() as scratch, ThreadPoolExecutor(max_workers=workers) as pool:
        extracted: list[tuple[Path, Path, Future[None]]] = []
        for package in packages:
            directory = Path(
                scratch.enter_context(
                    tempfile.TemporaryDirectory(suffix="deb-extract", dir=install_path.parent)
                )
            )
            job = pool.submit(deb_utils.extract_deb, package, directory, logger.debug)
            extracted.append((package, directory, job))
        for package, directory, job in extracted:
            job.result()  # upstream's DebError, for the first package that failed
            if track_stage_packages:
                mark_origin_stage_package(directory, cls._extract_deb_name_version(package))
            file_utils.link_or_copy_tree(directory, install_path)
    normalize(install_path, repository=cls)


def apply() -> None:
    deb.Ubuntu._unpack_stage_debs = classmethod(unpack_stage_debs)  # type: ignore[method-assign,assignment]
