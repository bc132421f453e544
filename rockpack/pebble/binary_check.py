"""Is this file Pebble for that architecture? Decided from its bytes, never by running it.

Pebble is Pid 1 of a rock, often on a bare base: it must be an ELF executable for the
rock's architecture, statically linked (no interpreter, no needed libraries), and
built from Canonical's module ``github.com/canonical/pebble`` (read from the Go build
info). Each kind of wrong file gets its own message: what it is, and what is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rockpack.errors import RockpackError
from rockpack.pebble.elf import ET_DYN, ET_EXEC, ElfFacts, ElfFormatError, is_elf, read_elf
from rockpack.pebble.go_buildinfo import GoBuildInfo, OldBuildInfoError, find_build_info

PEBBLE_MODULE = "github.com/canonical/pebble"

# Debian architecture -> (ELF class bits, little endian, e_machine, what it is called)
ELF_MACHINES: dict[str, tuple[int, bool, int, str]] = {
    "amd64": (64, True, 62, "x86-64"),
    "arm64": (64, True, 183, "AArch64"),
    "armhf": (32, True, 40, "32-bit ARM"),
    "i386": (32, True, 3, "32-bit x86"),
    "ppc64el": (64, True, 21, "64-bit PowerPC, little-endian"),
    "riscv64": (64, True, 243, "64-bit RISC-V"),
    "s390x": (64, False, 22, "IBM Z (s390x)"),
}


class NotPebbleError(RockpackError):
    """A file offered as Pebble is not Pebble for the rock's architecture."""

    def __init__(self, name: str, problem: str, build_for: str, resolution: str) -> None:
        self.name = name  # the file as the user knows it: a path, or 'pebble' in an archive
        self.problem = problem
        self.build_for = build_for
        super().__init__(
            f"{name} cannot be the rock's Pebble: {problem}",
            details=f"Needed: Pebble for {build_for}, {needed(build_for)}.",
            resolution=resolution,
        )


@dataclass(frozen=True)
class CheckedPebble:
    """What the check learned about a binary that passed it."""

    build_info: GoBuildInfo


def needed(build_for: str) -> str:
    bits, little, _, name = ELF_MACHINES[build_for]
    order = "little" if little else "big"
    return (
        f"a statically linked ELF executable for {name} ({bits}-bit, {order}-endian), "
        f"built from {PEBBLE_MODULE}"
    )


def check_pebble_binary(
    path: Path, build_for: str, resolution: str, *, name: str | None = None
) -> CheckedPebble:
    """The Go build info of ``path`` when it is Pebble for ``build_for``; else NotPebbleError.

    ``name`` is how messages call the file (where it came from), ``path`` by default.
    """

    def refuse(problem: str) -> NotPebbleError:
        return NotPebbleError(name or str(path), problem, build_for, resolution)

    with path.open("rb") as handle:
        head = handle.read(512)
    if not is_elf(head):
        raise refuse(f"it is {describe_non_elf(head)}, not an ELF executable.")
    try:
        facts = read_elf(path)
    except ElfFormatError as err:
        raise refuse(f"it starts like an ELF file but cannot be read as one ({err}).") from err
    info, info_problem = _build_info(facts)
    program = f" It is the Go program {info.path}." if info and info.path else ""
    if facts.elf_type not in (ET_EXEC, ET_DYN):
        raise refuse(f"it is an ELF {_TYPES.get(facts.elf_type, 'file')}, not an executable.")
    found = machine_name(facts)
    if found != ELF_MACHINES[build_for][3]:
        raise refuse(f"it is an executable for {found}, not for {build_for}.{program}")
    if facts.interpreter or facts.needed:
        libraries = ", ".join(facts.needed) or "no library named"
        raise refuse(
            f"it is dynamically linked (interpreter {facts.interpreter or 'none'}; needs "
            f"{libraries}), so it cannot start in a rock whose base lacks them.{program}"
            " (Debian's package 'pebble' is Let's Encrypt's ACME test server, not "
            "Canonical's Pebble.)"
        )
    if info is None:
        raise refuse(f"it is a static executable but {info_problem}, so it is not Pebble.")
    if info.module != PEBBLE_MODULE:
        raise refuse(
            f"it is the Go program {info.path or '?'} (module {info.module or 'unknown'}), "
            f"not Pebble (module {PEBBLE_MODULE})."
        )
    return CheckedPebble(info)


_TYPES = {0: "file of no type", 1: "relocatable object", 4: "core dump"}
_MACH_O = (b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe")


def machine_name(facts: ElfFacts) -> str:
    for bits, little, machine, name in ELF_MACHINES.values():
        if facts.machine == machine and (bits, little) == (facts.bits, facts.little_endian):
            return name
    order = "little" if facts.little_endian else "big"
    return f"ELF machine {facts.machine} ({facts.bits}-bit, {order}-endian)"


def _build_info(facts: ElfFacts) -> tuple[GoBuildInfo | None, str]:
    try:
        info = find_build_info(facts.buildinfo_region)
    except OldBuildInfoError:
        return None, "its Go build info is in the format of Go before 1.18, which Pebble never used"
    except ValueError as err:
        return None, f"its Go build info is damaged ({err})"
    return info, "" if info else "it is not a Go program (it carries no Go build info)"


def describe_non_elf(head: bytes) -> str:
    """What a file that is not ELF looks like, from its first bytes."""
    if not head:
        return "an empty file"
    if head.startswith(b"#!"):
        line = head.split(b"\n", 1)[0][2:].strip().decode(errors="replace")
        return f"a script (interpreter {line or 'unnamed'})"
    if head.startswith(b"\x1f\x8b"):
        return "gzip-compressed data"
    if len(head) > 262 and head[257:262] == b"ustar":
        return "a tar archive"
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive"
    if head.startswith(b"MZ"):
        return "a Windows executable"
    if head[:4] in _MACH_O:
        return "a macOS executable"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as err:
        if err.start < len(head) - 3 or b"\0" in head:  # not a character cut at the end
            return f"data starting with bytes {head[:8].hex(' ')}"
    return "a text file"
