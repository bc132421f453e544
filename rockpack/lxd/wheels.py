"""rockpack and its dependencies as wheels, for a venv inside the build instance.

Built on the host (for the same Python as the instance's), cached by a hash of
rockpack's own source, and installed inside without network.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import rockpack
from rockpack.errors import ProviderError


def source_tree() -> Path:
    """The rockpack source tree this process runs from (an editable install)."""
    root = Path(rockpack.__file__).resolve().parent.parent
    if not (root / "pyproject.toml").is_file():
        raise ProviderError(
            "Clean builds need rockpack's source tree to build wheels from, and this "
            "rockpack was not installed from one.",
            resolution="Install rockpack from its repository (scripts/install-deps), or use "
            "--destructive-mode.",
        )
    return root


def source_key(root: Path) -> str:
    digest = hashlib.sha256(sys.version.encode())
    for path in sorted([root / "pyproject.toml", *(root / "rockpack").rglob("*.py")]):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def ensure_wheels(cache: Path) -> tuple[Path, str]:
    """(a directory of wheels for rockpack and everything it needs, their key)."""
    root = source_tree()
    key = source_key(root)
    target = cache / key
    if (target / ".complete").exists():
        return target, key
    partial = cache / f"{key}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--disable-pip-version-check",
            "--wheel-dir",
            str(partial),
            str(root),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        raise ProviderError(
            "Building wheels of rockpack for the build instance failed.",
            details=result.stderr[-4000:],
            resolution="Check that PyPI (or your pip index) is reachable from this host.",
        )
    (partial / ".complete").touch()
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target, key
