"""rockpack and its dependencies as wheels, for a venv inside the build instance.

Built on the host for the instance's Python and machine, cached by a hash of rockpack's
own source and that target, and installed inside without network. When the instance's
Python is the host's, pip builds every wheel here; otherwise rockpack's own wheel is
built here and pip fetches binary wheels of the rest for the instance's Python.
"""

from __future__ import annotations

import hashlib
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
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


# glibc baselines a Debian 12+ or Ubuntu 22.04+ instance can load.
MANYLINUX = (
    "manylinux2014",
    "manylinux_2_17",
    "manylinux_2_24",
    "manylinux_2_28",
    "manylinux_2_34",
)


@dataclass(frozen=True)
class Target:
    """The instance's interpreter: Python 'major.minor' and machine (x86_64, aarch64, ...)."""

    python: str
    machine: str

    @classmethod
    def host(cls) -> Target:
        return cls(f"{sys.version_info[0]}.{sys.version_info[1]}", platform.machine())


def source_key(root: Path) -> str:
    """A hash of rockpack's own source: what the wheels and a base instance depend on."""
    digest = hashlib.sha256()
    for path in sorted([root / "pyproject.toml", *(root / "rockpack").rglob("*.py")]):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def ensure_wheels(cache: Path, target: Target) -> Path:
    """A directory of wheels of rockpack and everything it needs, for ``target``."""
    root = source_tree()
    key = f"{source_key(root)}-py{target.python}-{target.machine}"
    directory = cache / key
    if (directory / ".complete").exists():
        return directory
    partial = cache / f"{key}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        if target == Target.host():
            _pip("wheel", "--wheel-dir", str(partial), str(root))
        else:
            _pip("wheel", "--no-deps", "--wheel-dir", str(partial), str(root))
            (own,) = partial.glob("rockpack-*.whl")
            _pip("download", *_binary_for(target), "--dest", str(partial), str(own))
    except ProviderError:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    (partial / ".complete").touch()
    shutil.rmtree(directory, ignore_errors=True)
    partial.rename(directory)
    return directory


def _binary_for(target: Target) -> list[str]:
    abi = "cp" + target.python.replace(".", "")
    arguments = ["--only-binary=:all:", "--python-version", target.python]
    arguments += ["--implementation", "cp", "--abi", abi, "--abi", "abi3", "--abi", "none"]
    for tag in MANYLINUX:
        arguments += ["--platform", f"{tag}_{target.machine}"]
    return arguments


def _pip(*arguments: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", *arguments, "--quiet", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise ProviderError(
            "Getting wheels of rockpack for the build instance failed.",
            details=result.stderr[-4000:],
            resolution="Check that PyPI (or your pip index) is reachable from this host; "
            "a dependency without a binary wheel for the instance's Python needs an "
            "instance with this host's Python version.",
        )
