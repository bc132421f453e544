"""The build info a Go linker embeds in every binary, read without running it.

Go 1.18 and later write a 32-byte header (``\\xff Go buildinf:``, pointer size, flags)
aligned to 16 bytes, then, inline, two length-prefixed strings: the Go version and the
module info (``path``, ``mod``, ``dep`` lines between two 16-byte sentinels). This is
what ``go version -m`` prints. Older binaries point at the strings instead; they are
reported as unreadable, which is enough to refuse them as Pebble.

The module info is untrusted: it is read line by line, a line longer than ``MAX_LINE``
or not in Go's format is skipped, and at most ``MAX_DEPS`` ``dep`` lines are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

MAGIC = b"\xff Go buildinf:"
HEADER_SIZE = 32
ALIGN = 16
FLAG_INLINE_STRINGS = 0x2
MAX_DEPS = 10_000  # dep lines kept; real programs have hundreds at most
MAX_LINE = 4096  # a module line this long is not Go's (paths and versions are short)


@dataclass(frozen=True)
class GoModule:
    """A module as a ``dep`` (or ``=>``) line names it: Go's ``debug.Module``."""

    path: str  # golang.org/x/sys; for a replacement, maybe a directory (./greet)
    version: str  # v0.46.0; (devel) or "" for a directory
    sum: str = ""  # go.sum's h1: hash; "" when replaced, vendored or a directory
    replace: GoModule | None = None  # what was built instead (a go.mod replace directive)


@dataclass(frozen=True)
class GoBuildInfo:
    go_version: str  # go1.26.5
    path: str  # the main package: github.com/canonical/pebble/cmd/pebble
    module: str  # the main module: github.com/canonical/pebble
    module_version: str  # v1.32.1, or (devel) for a build from a checkout
    deps: tuple[GoModule, ...] = ()  # the modules linked in, in the build info's order


class OldBuildInfoError(ValueError):
    """Build info in the pointer format of Go before 1.18."""


def find_build_info(region: bytes) -> GoBuildInfo | None:
    """The build info in ``region`` (the bytes where Go puts it), or None if it has none."""
    start = _aligned_magic(region)
    if start is None:
        return None
    header = region[start : start + HEADER_SIZE]
    if not header[15] & FLAG_INLINE_STRINGS:
        raise OldBuildInfoError("build info in the format of Go before 1.18")
    go_version, at = _string(region, start + HEADER_SIZE)
    modinfo, _ = _string(region, at)
    return _parse(go_version.decode(errors="replace"), _strip_sentinels(modinfo))


def _aligned_magic(region: bytes) -> int | None:
    at = region.find(MAGIC)
    while at >= 0:
        if at % ALIGN == 0 and len(region) - at >= HEADER_SIZE:
            return at
        at = region.find(MAGIC, at + 1)
    return None


def _string(data: bytes, at: int) -> tuple[bytes, int]:
    """A uvarint-length-prefixed string at ``at``; ValueError when it runs off the end."""
    length, shift = 0, 0
    while True:
        if at >= len(data) or shift > 63:
            raise ValueError("Go build info string length runs off the end")
        byte = data[at]
        at += 1
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    if at + length > len(data):
        raise ValueError("Go build info string runs off the end")
    return data[at : at + length], at + length


def _strip_sentinels(modinfo: bytes) -> str:
    if len(modinfo) >= 33 and modinfo[-17:-16] == b"\n":
        modinfo = modinfo[16:-16]
    return modinfo.decode(errors="replace")


def _parse(go_version: str, modinfo: str) -> GoBuildInfo:
    path = module = version = ""
    deps: list[GoModule] = []
    replaceable = False  # the line before was a dep line, which a => line may replace
    for line in modinfo.split("\n"):
        word, _, rest = line.partition("\t")
        fields = rest.split("\t") if len(line) <= MAX_LINE else []
        if word == "path" and fields:
            path = fields[0]
        elif word == "mod" and fields:
            module = fields[0]
            version = fields[1] if len(fields) > 1 else ""
        elif word == "dep" and len(deps) < MAX_DEPS and (dep := _module(fields)):
            deps.append(dep)
            replaceable = True
            continue
        elif word == "=>" and replaceable and (new := _module(fields)):
            deps[-1] = replace(deps[-1], replace=new)
        replaceable = False
    return GoBuildInfo(go_version, path, module, version, tuple(deps))


def _module(fields: list[str]) -> GoModule | None:
    """``path``, ``version`` and maybe ``sum``, as Go writes them; None when malformed."""
    if len(fields) not in (2, 3) or not fields[0]:
        return None
    text = "".join(fields)
    if " " in text or not text.isprintable():
        return None  # Go rejects such paths and versions; this line is not Go's
    return GoModule(fields[0], fields[1], fields[2] if len(fields) == 3 else "")
