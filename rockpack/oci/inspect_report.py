"""``rockpack inspect``: a rock's report as text for people, or JSON for machines."""

from __future__ import annotations

import json
from pathlib import Path

from rockpack.errors import EXIT_USAGE, RockpackError
from rockpack.oci.inspect_rock import BASE, RockReport, Waste, inspect_rock

FORMATS = ("text", "json")
SHOWN_WASTE = 20  # the largest wasted files listed in text; JSON lists them all


def check_format(fmt: str) -> None:
    """Refuse an ``inspect --format`` (of the report or of ``--sbom``) that is not one."""
    if fmt not in FORMATS:
        raise RockpackError(
            f"--format {fmt!r} is not a format inspect writes.",
            resolution="Use --format text or --format json.",
            retcode=EXIT_USAGE,
        )


def render_inspection(rock: Path, fmt: str = "text") -> str:
    """The report on ``rock`` in ``fmt`` ('text' or 'json')."""
    check_format(fmt)
    if not rock.is_file():
        raise RockpackError(
            f"{rock} is not a file.", resolution="Pass a .rock written by 'rockpack pack'."
        )
    report = inspect_rock(rock)
    if fmt == "json":
        return json.dumps(report.to_json(), indent=2, sort_keys=True)
    return "\n".join(text_report(report))


def text_report(report: RockReport) -> list[str]:
    config, layers = report.config, report.layers
    own = [layer for layer in layers if layer.origin != BASE]
    lines = [
        f"rock      {report.rock} ({report.ref_name or 'no tag'}, {report.manifest_digest})",
        f"config    {config.os}/{config.architecture}, created {config.created or '-'}, "
        f"user {config.user or 'root'}",
        f"          entrypoint {_command(config.entrypoint)}, cmd {_command(config.cmd)}",
        f"          env {'; '.join(config.env) or '-'}; {len(config.labels)} labels",
        f"layers    {len(layers)} ({len(layers) - len(own)} base, {len(own)} rockpack): "
        f"{size_text(sum(la.compressed_size for la in layers))} compressed, "
        f"{size_text(sum(la.size for la in layers))} of files",
        *(
            f"{'index' if n == 0 else '':10}{kind} {digest[:19]} (refers to the image)"
            for n, (kind, digest) in enumerate(report.index_artifacts)
        ),
        "",
    ]
    rows = [("#", "holds", "files", "size", "compressed", "wasted", "digest")]
    for layer in layers:
        rows.append(
            (
                str(layer.number),
                describe_origin(layer.origin),
                str(layer.files),
                size_text(layer.size),
                size_text(layer.compressed_size),
                size_text(layer.wasted_bytes) if layer.wasted_bytes else "-",
                layer.digest[:19],
            )
        )
    widths = [max(len(row[n]) for row in rows) for n in range(len(rows[0]))]
    for row in rows:
        cells = [
            cell.ljust(widths[n]) if n in (1, 6) else cell.rjust(widths[n])
            for n, cell in enumerate(row)
        ]
        lines.append("  " + "  ".join(cells).rstrip())
    lines += ["", *_waste_lines(report), *_pruning_lines(report)]
    return lines


def describe_origin(origin: str) -> str:
    """'part:deps,part:app,generated:accounts' -> 'parts: deps, app; generated: accounts'."""
    groups: dict[str, list[str]] = {}
    for item in origin.split(","):
        kind, _, name = item.partition(":")
        groups.setdefault(kind, [])
        if name:
            groups[kind].append(name)
    pieces = []
    for kind, names in groups.items():
        label = f"{kind}s" if kind == "part" and len(names) > 1 else kind
        pieces.append(f"{label}: {', '.join(names)}" if names else label)
    return "; ".join(pieces)


def size_text(size: int) -> str:
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def counted(number: int, one: str, many: str = "") -> str:
    return f"{number} {one if number == 1 else many or one + 's'}"


def _command(args: list[str]) -> str:
    return " ".join(args) if args else "-"


def _waste_lines(report: RockReport) -> list[str]:
    if not report.wasted:
        return ["wasted    0 B: no later layer overwrites, duplicates or removes a file"]
    lines = [
        f"wasted    {size_text(report.wasted_bytes)} in {counted(len(report.wasted), 'file')} "
        "a later layer overwrites, duplicates or removes:"
    ]
    lines += [f"          {_waste_text(waste)}" for waste in report.wasted[:SHOWN_WASTE]]
    if len(report.wasted) > SHOWN_WASTE:
        lines.append(f"          ... and {len(report.wasted) - SHOWN_WASTE} more (--format json)")
    return lines


def _waste_text(waste: Waste) -> str:
    return (
        f"{size_text(waste.size):>9}  {waste.path}  (layer {waste.layer}, "
        f"{waste.how} by layer {waste.hidden_by})"
    )


def _pruning_lines(report: RockReport) -> list[str]:
    pruned = report.pruned
    if pruned is None:
        return ["pruned    not recorded in this rock"]
    return [
        f"pruned    {counted(pruned.files, 'file')} ({size_text(pruned.bytes)}) and "
        f"{counted(pruned.directories, 'directory', 'directories')} the base already has "
        "were left out of the rock's layers"
    ]
