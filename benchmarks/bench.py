"""Packing benchmark: rockpack against the Rockcraft pipeline and the physical baseline.

    sudo .venv/bin/python benchmarks/bench.py [--quick] [--rounds N] [--work DIR]

Trees (generated reproducibly, or extracted from a cached mmdebstrap base):
  debian  a Debian 12 minbase root filesystem as a prime dir (~170 MB, ~9k entries)
  small   20,000 small files
  big     three 500 MB files (one with --quick)
Per tree, interleaved (A B C ...) for --rounds rounds, reporting medians:
  rockpack          `rockpack pack` as a whole on an already-primed project, layer cache
                    dropped (on bare, and on a Debian base for "debian")
  prime->rock       the same runs, the time from the prime dir to the written .rock, as
                    rockpack logs it (lifecycle and interpreter start-up excluded)
  rockpack-cached   `rockpack pack` with nothing changed (the layer cache hits)
  rockcraft-pipe    what Rockcraft runs: umoci unpack of the base, copy into the bundle,
                    umoci repack, umoci config, skopeo copy to an oci-archive
  tar+igzip-1       tar -cf - | igzip -1 | sha256sum  (rockpack's default: ISA-L, level 1)
  tar+gzip-1        tar -cf - | gzip -1 | sha256sum   (zlib, one core)
  tar+pigz-1        tar -cf - | pigz -1 | sha256sum   (zlib, every core)
Figures are wall seconds (median), the ratio to rockpack, peak RSS and output size.

  pipeline  `rockpack pack` as a whole, interpreter start-up included: a no-op of
          examples/ (nothing changed: decided from stat data), and a dump part of 100,000
          small files from clean and with nothing changed; with the interpreter's floor.
  push    layers by part against one layer: a 150 MB dependency part and a small app
          part, packed and pushed to a local registry; then one line of the app changes
          and the rock is packed and pushed again. Reports the layer digests that changed
          and the bytes each push stored in the registry.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ROCKPACK = [str(REPO / ".venv/bin/python"), "-m", "rockpack"]
BASE_TAR = Path.home() / ".cache/rockpack-tests/bookworm-minbase-1700000000.tar"
EPOCH = "1700000000"


def sh(command: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command],
        check=True,
        text=True,  # type: ignore[call-overload]
        capture_output=True,
        **kwargs,
    )


def timed(command: str, env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """(wall seconds, peak RSS in MB, stderr) of a shell command, measured by GNU time."""
    result = subprocess.run(
        ["/usr/bin/time", "-f", "%e %M", "bash", "-c", command],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"failed: {command}\n{result.stderr[-3000:]}")
    seconds, rss_kb = result.stderr.strip().splitlines()[-1].split()
    return float(seconds), int(rss_kb) // 1024, result.stderr


# -- input trees ---------------------------------------------------------------------


def debian_tree(target: Path) -> None:
    if not BASE_TAR.exists():
        BASE_TAR.parent.mkdir(parents=True, exist_ok=True)
        sh(
            f"SOURCE_DATE_EPOCH={EPOCH} mmdebstrap --variant=minbase --mode=unshare "
            f"--skip=output/dev -q bookworm {BASE_TAR}"
        )
    target.mkdir(parents=True)
    sh(f"tar -C {target} -xf {BASE_TAR}")


def small_tree(target: Path) -> None:
    rng = random.Random(20000)
    words = [b"rock", b"pack", b"layer", b"digest", b"prime", b"stage"]
    for index in range(20000):
        directory = target / f"d{index % 200:03d}"
        directory.mkdir(parents=True, exist_ok=True)
        size = rng.randint(100, 4000)
        body = b" ".join(rng.choice(words) for _ in range(size // 5))[:size]
        (directory / f"f{index:05d}.txt").write_bytes(body)


def big_tree(target: Path, count: int) -> None:
    target.mkdir(parents=True)
    for index in range(count):
        rng = random.Random(index)
        with (target / f"big{index}.bin").open("wb") as handle:
            for _ in range(500):  # 500 MiB: half random, half repetitive
                handle.write(rng.randbytes(512 * 1024) + bytes(512 * 1024))


# -- a registry with the Debian base, for the rock on a base -------------------------


class Registry:
    def __init__(self, work: Path, *, with_base: bool = True) -> None:
        work.mkdir(parents=True, exist_ok=True)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        config = work / "registry.yml"
        config.write_text(
            f"version: 0.1\nstorage: {{filesystem: {{rootdirectory: {work}/data}}}}\n"
            f"http: {{addr: 127.0.0.1:{self.port}}}\nlog: {{level: error}}\n"
        )
        self.process = subprocess.Popen(
            ["docker-registry", "serve", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1)
        self.data = work / "data"
        layout = work / "base-layout"
        self.layout = layout
        if not with_base:
            return
        sh(
            f"umoci init --layout {layout} && umoci new --image {layout}:bookworm && "
            f"umoci raw add-layer --image {layout}:bookworm {BASE_TAR} && "
            f"skopeo copy -q --dest-tls-verify=false oci:{layout}:bookworm "
            f"docker://127.0.0.1:{self.port}/library/debian:bookworm"
        )

    def stored_bytes(self) -> int:
        """Bytes of every blob the registry holds (each stored once, whatever pushed it)."""
        return sum(p.stat().st_size for p in self.data.rglob("data") if p.is_file())

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()


# -- the contenders ------------------------------------------------------------------


def make_project(directory: Path, tree: Path, base: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    if tree != directory / "tree":
        shutil.move(str(tree), directory / "tree")
    build_base = "" if base != "bare" else "build-base: debian@12\n"
    (directory / "rockpack.yaml").write_text(
        f"name: bench\nversion: '1'\nsummary: benchmark\ndescription: benchmark\n"
        f"base: {base}\n{build_base}platforms:\n  amd64:\n"
        f"entrypoint-command: /bin/true\nparts:\n  tree:\n    plugin: dump\n    source: tree\n"
    )
    return directory


def rockcraft_pipeline(work: Path, prime: Path, base_layout: Path | None) -> str:
    """Rockcraft's own steps after prime (umoci unpack/repack/config, skopeo copy)."""
    image = work / "rc-image"
    bundle = work / "rc-bundle"
    setup = f"rm -rf {image} {bundle} {work}/rc.rock && "
    if base_layout:
        setup += f"cp -a {base_layout} {image} && "
    else:
        setup += f"umoci init --layout {image} && umoci new --image {image}:bookworm && "
    return (
        setup + f"umoci unpack --image {image}:bookworm {bundle} >/dev/null && "
        f"cp -a {prime}/. {bundle}/rootfs/ && "
        f"umoci repack --image {image}:rock {bundle} && "
        f"umoci config --image {image}:rock --config.entrypoint /bin/true && "
        f"skopeo copy -q oci:{image}:rock oci-archive:{work}/rc.rock"
    )


def run_case(
    name: str, project: Path, env: dict[str, str], base_layout: Path | None, rounds: int, work: Path
) -> list[tuple[str, str, list[float], int, int]]:
    subprocess.run(
        [*ROCKPACK, "prime", "--destructive-mode", "--project-dir", str(project)],
        check=True,
        env={**os.environ, **env},
        capture_output=True,
    )
    prime = project / ".rockpack/work/amd64/prime"
    rock = project / "bench_1_amd64.rock"
    pack = " ".join([*ROCKPACK, "pack", "--destructive-mode", "--verbosity", "debug"])
    pack += f" --project-dir {project}"
    contenders = {
        "rockpack": f"rm -f {project}/.rockpack/layer-cache-*.json && {pack}",
        "rockpack-cached": pack,
        "rockcraft-pipe": rockcraft_pipeline(work, prime, base_layout),
        "tar+igzip-1": f"tar -C {prime} -cf - . | igzip -1 -c | sha256sum >/dev/null",
        "tar+gzip-1": f"tar -C {prime} -cf - . | gzip -1 | sha256sum >/dev/null",
        "tar+pigz-1": f"tar -C {prime} -cf - . | pigz -1 | sha256sum >/dev/null",
    }
    times: dict[str, list[float]] = {k: [] for k in [*contenders, "prime->rock"]}
    rss: dict[str, int] = dict.fromkeys(times, 0)
    for _ in range(rounds):
        for label, command in contenders.items():  # interleaved: A B C D E, A B C D E
            # Write back what the last contender left dirty, so that no one pays for another.
            subprocess.run(["sync"], check=True)
            seconds, peak, stderr = timed(command, env)
            times[label].append(seconds)
            rss[label] = max(rss[label], peak)
            if label == "rockpack":
                times["prime->rock"].append(prime_to_rock(stderr))
                rss["prime->rock"] = rss[label]
    sizes = {
        "rockpack": rock.stat().st_size,
        "prime->rock": rock.stat().st_size,
        "rockpack-cached": rock.stat().st_size,
        "rockcraft-pipe": (work / "rc.rock").stat().st_size,
    }
    order = ["rockpack", "prime->rock", *list(contenders)[1:]]
    return [(name, label, times[label], rss[label], sizes.get(label, 0)) for label in order]


# -- layers by part: what a push sends after a one-line change ---------------------------

LAYERED_PROJECT = """name: bench
version: '1'
summary: layers by part
description: a 150 MB dependency part and a small app part
base: bare
build-base: debian@12
platforms:
  amd64:
entrypoint-command: /opt/app/main.py
parts:
  deps:
    plugin: dump
    source: deps
  app:
    plugin: dump
    source: app
    after: [deps]
"""


def layered_project(directory: Path, deps_mb: int = 150) -> None:
    """150 MB of incompressible libraries, and a 200-line app whose line 100 will change."""
    libs = directory / "deps/opt/deps/lib"
    libs.mkdir(parents=True)
    for number in range(deps_mb):
        (libs / f"lib{number:03d}.so").write_bytes(random.Random(number).randbytes(1 << 20))
    app = directory / "app/opt/app"
    app.mkdir(parents=True)
    lines = [f"print('line {n}')" for n in range(200)]
    lines[100] = "VERSION = 1"
    (app / "main.py").write_text("#!/usr/bin/python3\n" + "\n".join(lines) + "\n")
    (directory / "rockpack.yaml").write_text(LAYERED_PROJECT)


def pack_and_push(
    project: Path, layers: str, registry: Registry, tag: str, env: dict[str, str]
) -> tuple[dict[str, str], float, int]:
    """(layer digest -> origin, pack seconds, bytes the push added to the registry)."""
    pack = [*ROCKPACK, "pack", "--destructive-mode", "--project-dir", str(project)]
    seconds, _, _ = timed(" ".join([*pack, "--layers", layers]), env)
    rock = project / "bench_1_amd64.rock"
    manifest = json.loads(sh(f"skopeo inspect --raw oci-archive:{rock}").stdout)
    before = registry.stored_bytes()
    subprocess.run(
        [*ROCKPACK, "push", str(rock), f"127.0.0.1:{registry.port}/bench/layers:{tag}"],
        check=True,
        capture_output=True,
        env={**os.environ, **env},
    )
    origins = {
        layer["digest"]: (layer.get("annotations") or {}).get("io.rockpack.layer.origin", "base")
        for layer in manifest["layers"]
    }
    return origins, seconds, registry.stored_bytes() - before


def push_case(work: Path, env: dict[str, str]) -> str:
    """Layers by part against one layer, after a one-line change to the app."""
    lines = [
        "| layering | layers | layers changed by the edit | first push MB | second push "
        "bytes | second pack s |",
        "| --- | ---: | --- | ---: | ---: | ---: |",
    ]
    second_push = {}
    for layers in ("part", "single"):
        project = work / f"push-{layers}"
        layered_project(project)
        registry = Registry(work / f"push-registry-{layers}", with_base=False)
        try:
            digests, _, first = pack_and_push(project, layers, registry, "1", env)
            main = project / "app/opt/app/main.py"
            main.write_text(main.read_text().replace("VERSION = 1", "VERSION = 2"))
            changed, seconds, second = pack_and_push(project, layers, registry, "2", env)
        finally:
            registry.stop()
        moved = ", ".join(origin for digest, origin in changed.items() if digest not in digests)
        second_push[layers] = second
        lines.append(
            f"| {layers} | {len(changed)} | {moved} | {first / 1e6:.1f} | {second:,} | "
            f"{seconds:.2f} |"
        )
    share = second_push["part"] / second_push["single"]
    lines.append(f"\nlayers by part push {share:.3%} of what one layer pushes after the edit")
    return "\n".join(lines)


def prime_to_rock(stderr: str) -> float:
    """The packing time rockpack logs at debug verbosity."""
    found = re.search(r"Prime dir to \.rock: ([0-9.]+) s", stderr)
    if not found:
        raise SystemExit(f"rockpack did not log its packing time:\n{stderr[-2000:]}")
    return float(found.group(1))


def report(rows: list[tuple[str, str, list[float], int, int]]) -> str:
    lines = [
        "| tree | contender | median s | x rockpack | peak RSS MB | .rock MB |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    reference = {row[0]: statistics.median(row[2]) for row in rows if row[1] == "rockpack"}
    for tree, label, samples, rss, size in rows:
        median = statistics.median(samples)
        ratio = median / reference[tree] if reference[tree] else 0
        lines.append(
            f"| {tree} | {label} | {median:.2f} | {ratio:.2f} | {rss} | {size / 1e6:.1f} |"
            if size
            else f"| {tree} | {label} | {median:.2f} | {ratio:.2f} | {rss} | |"
        )
    return "\n".join(lines)


# -- the whole pipeline: no-op packs and 100,000 small files ----------------------------


def many_files_tree(target: Path, count: int = 100_000) -> None:
    """``count`` files of a dozen bytes each, a thousand to a directory."""
    for index in range(count):
        directory = target / f"d{index // 1000:03d}"
        if index % 1000 == 0:
            directory.mkdir(parents=True)
        (directory / f"f{index % 1000:04d}.txt").write_text(f"file {index}\n")


def pipeline_case(work: Path, env: dict[str, str], rounds: int) -> str:
    """`rockpack pack` as a whole: the interpreter floor, a no-op of examples/, and a
    100,000-file dump part from clean and with nothing changed (medians, min-max)."""
    example = work / "pipeline-example"
    shutil.copytree(REPO / "examples", example)
    many_files_tree(work / "pipeline-100k-tree")
    files = make_project(work / "pipeline-100k", work / "pipeline-100k-tree", "bare")
    pack = " ".join([*ROCKPACK, "pack", "--destructive-mode", "--project-dir"])
    cases = {
        "python -c pass (interpreter floor)": f"{ROCKPACK[0]} -c pass",
        "import rockpack.cli": f"{ROCKPACK[0]} -c 'import rockpack.cli'",
        "examples/: nothing changed": f"{pack} {example}",
        "100k files: from clean": f"rm -rf {files}/.rockpack {files}/*.rock && {pack} {files}",
        "100k files: nothing changed": f"{pack} {files}",
    }
    # a first pack, so that the no-op rounds find its fingerprint (same environment)
    subprocess.run(
        ["bash", "-c", f"{pack} {example}"],
        check=True,
        capture_output=True,
        env={**os.environ, **env},
    )
    times: dict[str, list[float]] = {label: [] for label in cases}
    rss: dict[str, int] = dict.fromkeys(cases, 0)
    for _ in range(rounds):
        for label, command in cases.items():
            subprocess.run(["sync"], check=True)
            seconds, peak, _ = timed(command, env)
            times[label].append(seconds)
            rss[label] = max(rss[label], peak)
    lines = ["| case | median s | min-max s | peak RSS MB |", "| --- | ---: | ---: | ---: |"]
    for label, samples in times.items():
        lines.append(
            f"| {label} | {statistics.median(samples):.2f} | "
            f"{min(samples):.2f}-{max(samples):.2f} | {rss[label]} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one big file, two rounds")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("/var/tmp/rockpack-bench"))
    parser.add_argument("--trees", default="debian,small,big,push,pipeline")
    args = parser.parse_args()
    rounds = 2 if args.quick else args.rounds
    for tool in ("umoci", "skopeo", "pigz", "igzip", "docker-registry"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: run scripts/install-deps --test")
    if args.work.exists():
        shutil.rmtree(args.work)
    args.work.mkdir(parents=True)
    env = {"SOURCE_DATE_EPOCH": EPOCH, "XDG_CACHE_HOME": str(args.work / "cache")}
    rows = []
    wanted = args.trees.split(",")
    pushed = push_case(args.work, env) if "push" in wanted else ""
    pipeline = pipeline_case(args.work, env, rounds) if "pipeline" in wanted else ""
    wanted = [name for name in wanted if name not in ("push", "pipeline")]
    registry = Registry(args.work) if "debian" in wanted else None
    try:
        for name in wanted:
            tree = args.work / f"{name}-tree"
            {
                "debian": debian_tree,
                "small": small_tree,
                "big": lambda t: big_tree(t, 1 if args.quick else 3),
            }[name](tree)
            project = make_project(args.work / f"{name}-bare", tree, "bare")
            rows += run_case(name, project, env, None, rounds, args.work)
            if name == "debian" and registry:
                on_base = args.work / "debian-on-debian"
                shutil.copytree(project / "tree", on_base / "tree", symlinks=True)
                make_project(on_base, on_base / "tree", "debian@12")
                base_env = {**env, "ROCKPACK_REGISTRY_MIRROR": f"127.0.0.1:{registry.port}"}
                rows += run_case(
                    "debian on debian@12", on_base, base_env, registry.layout, rounds, args.work
                )
    finally:
        if registry:
            registry.stop()
    print(f"\nrounds: {rounds}, machine: {os.cpu_count()} cores, python {sys.version.split()[0]}")
    if rows:
        print(report(rows))
    if pushed:
        print(f"\npush after a one-line change to the app:\n{pushed}")
    if pipeline:
        print(f"\nthe whole pipeline (rockpack pack as a whole):\n{pipeline}")
    results = {"rows": rows, "push": pushed, "pipeline": pipeline}
    (args.work / "results.json").write_text(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
