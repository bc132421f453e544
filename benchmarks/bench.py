"""Packing benchmark: rockpack against the Rockcraft pipeline and the physical baseline.

    sudo .venv/bin/python benchmarks/bench.py [--quick] [--rounds N] [--work DIR]
        [--trees debian,small,big,push,pipeline] [--cases CASE,...]
        [--rockpack CMD] [--rockcraft CMD]

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

  pipeline  issue #20's whole-pipeline cases (benchmarks/bench_pipeline.py): `rockpack
          pack --destructive-mode` as a whole command, interpreter included: a 170 MB Debian
          tar as a `dump` part from clean (bare, and on a registry base), stage-packages
          python3 from clean, one file of a 170 MB directory source changed, nothing
          changed (bare, registry base), 100,000 small files from clean and unchanged, and
          examples/ unchanged. Wall median/min/max, CPU (user+sys) and peak RSS per case,
          then each target PASS/MISS. With --rockcraft CMD (or ROCKPACK_BENCH_ROCKCRAFT), a
          locally prepared Rockcraft runs the same cases, interleaved, and the ratios print.
  push    layers by part against one layer: a 150 MB dependency part and a small app
          part, packed and pushed to a local registry; then one line of the app changes
          and the rock is packed and pushed again. Reports the layer digests that changed
          and the bytes each push stored in the registry.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import bench_pipeline
from bench_common import EPOCH, ROCKPACK, Registry, debian_tar, sh


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
    target.mkdir(parents=True)
    sh(f"tar -C {target} -xf {debian_tar()}")


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
        registry = Registry(work / f"push-registry-{layers}", names=())
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


PIPELINE_REGISTRY_NAMES = ("library/debian:bookworm", "ubuntu/ubuntu:24.04")


def pipeline(args: argparse.Namespace, rounds: int) -> str:
    """Issue #20's whole-pipeline cases, with the real Rockcraft when one is given."""
    work = args.work / "pipeline"
    registry = Registry(work / "registry", names=PIPELINE_REGISTRY_NAMES)
    try:
        contenders = [bench_pipeline.rockpack(work, registry, args.rockpack)]
        if args.rockcraft:
            skip = frozenset(args.rockcraft_skip.split(",")) - {""}
            contenders.append(bench_pipeline.rockcraft(work, registry, args.rockcraft, skip))
        results = bench_pipeline.run_pipeline(work, contenders, args.cases.split(","), rounds)
    finally:
        registry.stop()
    floor = [
        ("python -c pass (interpreter floor)", [ROCKPACK[0], "-c", "pass"]),
        ("import rockpack.cli", [ROCKPACK[0], "-c", "import rockpack.cli"]),
    ]
    lines = [bench_pipeline.table(results), ""]
    for label, command in floor:
        runs = [
            bench_pipeline.measure(command, work, dict(os.environ), work / "logs/floor.log")
            for _ in range(max(rounds, 5))
        ]
        lines.append(f"{label}: {statistics.median(r.wall for r in runs):.3f} s median")
    lines += ["", "targets (issue #20), on the medians:", bench_pipeline.targets(results)]
    summary = [
        {
            "case": r.case.key,
            "contender": r.contender,
            "failure": r.failure,
            "runs": [vars(run) for run in r.runs],
        }
        for r in results
    ]
    (args.work / "pipeline.json").write_text(json.dumps(summary, indent=1))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one big file, two rounds")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    parser.add_argument("--work", type=Path, default=Path("/var/tmp/rockpack-bench"))
    parser.add_argument("--trees", default="debian,small,big,push,pipeline")
    parser.add_argument(
        "--cases",
        default="all",
        help="pipeline cases, comma-separated: tar-clean, base-clean, python3-clean, "
        "dir-changed, tar-noop, base-noop, 100k-clean, 100k-noop, example-noop (or all)",
    )
    parser.add_argument(
        "--rockcraft",
        default=os.environ.get("ROCKPACK_BENCH_ROCKCRAFT", ""),
        metavar="CMD",
        help="command of a locally prepared Rockcraft, run on the pipeline cases too",
    )
    parser.add_argument(
        "--rockpack",
        default=os.environ.get("ROCKPACK_BENCH_ROCKPACK", ""),
        metavar="CMD",
        help="rockpack command for the pipeline cases (default: .venv/bin/rockpack)",
    )
    parser.add_argument(
        "--rockcraft-skip",
        default="100k-clean,100k-noop",
        help="pipeline cases Rockcraft does not run (default: the 100k ones, minutes each)",
    )
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
    whole = pipeline(args, rounds) if "pipeline" in wanted else ""
    wanted = [name for name in wanted if name not in ("push", "pipeline")]
    registry = Registry(args.work / "registry") if "debian" in wanted else None
    try:
        for name in wanted:
            tree = args.work / f"{name}-tree"
            makers: dict[str, Callable[[Path], None]] = {
                "debian": debian_tree,
                "small": small_tree,
                "big": functools.partial(big_tree, count=1 if args.quick else 3),
            }
            makers[name](tree)
            project = make_project(args.work / f"{name}-bare", tree, "bare")
            rows += run_case(name, project, env, None, rounds, args.work)
            if name == "debian" and registry:
                on_base = args.work / "debian-on-debian"
                shutil.copytree(project / "tree", on_base / "tree", symlinks=True)
                make_project(on_base, on_base / "tree", "debian@12")
                base_env = {**env, "ROCKPACK_REGISTRY_MIRROR": registry.host}
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
    if whole:
        print(f"\nthe whole pipeline (whole commands, interpreter included):\n{whole}")
    results = {"rows": rows, "push": pushed, "pipeline": whole}
    (args.work / "results.json").write_text(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
