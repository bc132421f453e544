"""The build info a Go linker embeds in every binary, read without running it.

Go 1.18 and later write a 32-byte header (``\\xff Go buildinf:``, pointer size, flags)
aligned to 16 bytes, then, inline, two length-prefixed strings: the Go version and the
module info (``path``, ``mod``, ``dep`` lines between two 16-byte sentinels). This is
what ``go version -m`` prints. Older binaries point at the strings instead; they are
reported as unreadable, which is enough to refuse them as Pebble.
"""

from __future__ import annotations

from dataclasses import dataclass

MAGIC = b"\xff Go buildinf:"
HEADER_SIZE = 32
ALIGN = 16
FLAG_INLINE_STRINGS = 0x2


@dataclass(frozen=True)
class GoBuildInfo:
    go_version: str  # go1.26.5
    path: str  # the main package: github.com/canonical/pebble/cmd/pebble
    module: str  # the main module: github.com/canonical/pebble
    module_version: str  # v1.32.1, or (devel) for a build from a checkout


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
    for line in modinfo.splitlines():
        fields = line.split("\t")
        if fields[0] == "path" and len(fields) > 1:
            path = fields[1]
        elif fields[0] == "mod" and len(fields) > 1:
            module = fields[1]
            version = fields[2] if len(fields) > 2 else ""
    return GoBuildInfo(go_version, path, module, version)
