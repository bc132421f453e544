"""Real Go programs with dependency modules, built offline with ``go build``, and what
``go version -m`` says about them: for the SBOM's unit and integration tests.

No network: dependency modules come from a ``GOPROXY=file://`` directory made here
(so ``go build`` records their go.sum hash), and one from a local directory through a
``replace`` directive.
"""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from pathlib import Path

QUOTE = 'package quote\n\nfunc Quote() string { return "q" }\n'
NEWER = 'package old\n\nfunc Old() string { return "n" }\n'  # stands in for example.com/old
HELLO_GO_MOD = """\
module example.com/hello

go 1.19

require (
\texample.com/greet v0.1.0
\texample.com/old v1.0.0
\texample.com/quote v1.5.2
)

replace example.com/greet => ./greet

replace example.com/old v1.0.0 => example.com/newer v1.1.0
"""
HELLO_MAIN = """\
package main

import (
\t"example.com/greet"
\t"example.com/old"
\t"example.com/quote"
)

func main() { println(greet.Hello(), old.Old(), quote.Quote()) }
"""
BYE_GO_MOD = "module example.com/bye\n\ngo 1.19\n\nrequire example.com/quote v1.5.2\n"
BYE_MAIN = 'package main\n\nimport "example.com/quote"\n\nfunc main() { println(quote.Quote()) }\n'
# what the SBOM lists for hello's and bye's dependency modules: (name, version)
EXPECTED_DEPS = {
    ("example.com/greet", ""),  # a local directory: the required path, no version
    ("example.com/newer", "v1.1.0"),  # a module replacement: what was built
    ("example.com/quote", "v1.5.2"),  # used by both programs
}


def file_proxy(root: Path, modules: dict[tuple[str, str], str]) -> str:
    """A ``GOPROXY=file://`` URL serving each (module, version) with one Go file."""
    for (module, version), source in modules.items():
        directory = root / module / "@v"
        directory.mkdir(parents=True, exist_ok=True)
        mod = f"module {module}\n\ngo 1.19\n"
        (directory / f"{version}.mod").write_text(mod)
        (directory / f"{version}.info").write_text(json.dumps({"Version": version}))
        (directory / "list").write_text(f"{version}\n")
        with zipfile.ZipFile(directory / f"{version}.zip", "w") as archive:
            archive.writestr(f"{module}@{version}/go.mod", mod)
            archive.writestr(f"{module}@{version}/lib.go", source)
    return root.as_uri()


def go_env(work: Path) -> dict[str, str]:
    """An environment in which ``go build`` works offline, its caches under ``work``."""
    modules = {("example.com/quote", "v1.5.2"): QUOTE, ("example.com/newer", "v1.1.0"): NEWER}
    return {
        **os.environ,
        "GOFLAGS": "-mod=mod -modcacherw -buildvcs=false",
        "GOPROXY": file_proxy(work / "proxy", modules),
        "GOSUMDB": "off",
        "GOTOOLCHAIN": "local",
        "GOCACHE": str(work / "gocache"),
        "GOMODCACHE": str(work / "gomodcache"),
        "GOPATH": str(work / "gopath"),
        "GOWORK": "off",
    }


def build_programs(go: str, work: Path, bin_dir: Path) -> dict[str, str]:
    """``hello`` (a local, a replaced and a proxied module) and ``bye`` (the proxied one)
    built into ``bin_dir``; their environment for ``go version -m``."""
    env = go_env(work)
    hello = work / "hello"
    (hello / "greet").mkdir(parents=True)
    (hello / "greet/go.mod").write_text("module example.com/greet\n\ngo 1.19\n")
    (hello / "greet/greet.go").write_text('package greet\n\nfunc Hello() string { return "hi" }\n')
    (hello / "go.mod").write_text(HELLO_GO_MOD)
    (hello / "main.go").write_text(HELLO_MAIN)
    bye = work / "bye"
    bye.mkdir()
    (bye / "go.mod").write_text(BYE_GO_MOD)
    (bye / "main.go").write_text(BYE_MAIN)
    bin_dir.mkdir(parents=True, exist_ok=True)
    for source in (hello, bye):
        result = subprocess.run(
            [go, "build", "-trimpath", "-o", str(bin_dir / source.name), "."],
            cwd=source,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
    return env


def go_version_deps(
    go: str, binary: Path, env: dict[str, str]
) -> list[tuple[list[str], list[str]]]:
    """``go version -m``'s dep lines' fields, each with its => line's fields (or [])."""
    shown = subprocess.run(
        [go, "version", "-m", str(binary)], env=env, capture_output=True, text=True, check=True
    ).stdout
    deps: list[tuple[list[str], list[str]]] = []
    for line in shown.splitlines():
        word, *fields = line.lstrip("\t").split("\t")
        if word == "dep":
            deps.append((fields, []))
        elif word == "=>" and deps:
            deps[-1] = (deps[-1][0], fields)
    return deps


def expected_package(dep: list[str], replacement: list[str]) -> tuple[str, str, str]:
    """The SBOM's (name, version, go.sum hash) for what ``go version -m`` printed, by the
    rule in docs/sbom.md: a module replacement is named; a directory keeps the required
    path and has no version."""
    if replacement and replacement[0].startswith(("./", "../", "/")):
        return dep[0], "", ""
    built = replacement or dep
    return built[0], built[1], built[2] if len(built) == 3 else ""


def expected_from_go_version(
    go: str, bin_dir: Path, env: dict[str, str], mains: dict[str, str]
) -> tuple[dict[tuple[str, str], str], set[tuple[str, str]]]:
    """From ``go version -m`` of each program (file name: main module): the dependency
    packages as (name, version): go.sum hash, and (main module, package name) pairs."""
    expected: dict[tuple[str, str], str] = {}
    uses: set[tuple[str, str]] = set()
    for binary, main in mains.items():
        for dep, replacement in go_version_deps(go, bin_dir / binary, env):
            name, version, go_sum = expected_package(dep, replacement)
            expected[name, version] = go_sum
            uses.add((main, name))
    return expected, uses
