"""What an ELF file says about itself, read with small, bounded reads (no execution).

Only what deciding "is this a static executable for that machine?" needs: class,
byte order, type, machine, the program interpreter, the DT_NEEDED libraries, and the
bytes where Go keeps its build info (the ``.go.buildinfo`` section, or the start of the
first writable segment when the section headers are gone).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

ELF_MAGIC = b"\x7fELF"
ET_EXEC, ET_DYN = 2, 3
PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
PF_W = 2
DT_NULL, DT_NEEDED, DT_STRTAB = 0, 1, 5
MAX_TABLE = 1 << 18  # program or section header table
MAX_SEGMENT_READ = 1 << 16  # interpreter, dynamic section, string table, build info
MAX_DATA_SCAN = 1 << 20  # a writable segment searched for Go's build info
# The .go.buildinfo section: its module list grows with the dependencies (about 100 bytes
# a module), so room for go_buildinfo.MAX_DEPS of them, and no more.
MAX_BUILDINFO_SECTION = 1 << 22


class ElfFormatError(ValueError):
    """The file starts like ELF but its headers do not hold together."""


@dataclass(frozen=True)
class ElfFacts:
    bits: int  # 32 or 64
    little_endian: bool
    elf_type: int  # ET_*
    machine: int  # e_machine
    interpreter: str | None  # PT_INTERP: set for dynamically linked executables
    needed: tuple[str, ...]  # DT_NEEDED libraries
    buildinfo_region: bytes  # where Go's build info would be; may not hold it


@dataclass(frozen=True)
class _Segment:
    type: int
    flags: int
    offset: int
    vaddr: int
    filesz: int


def is_elf(head: bytes) -> bool:
    return head[:4] == ELF_MAGIC


def read_elf(path: Path) -> ElfFacts:
    """The facts of the ELF file at ``path``; ElfFormatError when it is not one."""
    try:
        return _read_elf(path)
    except struct.error as err:  # a header cut short
        raise ElfFormatError(f"truncated ELF headers ({err})") from err


def _read_elf(path: Path) -> ElfFacts:
    with path.open("rb") as handle:
        ident = handle.read(16)
        if not is_elf(ident) or ident[4] not in (1, 2) or ident[5] not in (1, 2):
            raise ElfFormatError("its ELF class or byte order is invalid")
        bits = 64 if ident[4] == 2 else 32
        order = "<" if ident[5] == 1 else ">"
        header = handle.read(48 if bits == 64 else 36)
        word = "Q" if bits == 64 else "I"
        fields = struct.unpack_from(f"{order}HHI{word}{word}{word}IHHHHHH", header)
        elf_type, machine = fields[0], fields[1]
        phoff, shoff = fields[4], fields[5]
        phentsize, phnum, shentsize, shnum, shstrndx = fields[8:13]
        segments = _segments(handle, order, bits, phoff, phentsize, phnum)
        interpreter = _interpreter(handle, segments)
        needed = _needed(handle, order, bits, segments)
        region = _section(handle, order, bits, shoff, shentsize, shnum, shstrndx, b".go.buildinfo")
        if region is None:
            region = _first_writable_data(handle, segments)
    return ElfFacts(bits, order == "<", elf_type, machine, interpreter, needed, region)


def _read_at(handle: BinaryIO, offset: int, size: int) -> bytes:
    handle.seek(offset)
    return handle.read(size)


def _segments(
    handle: BinaryIO, order: str, bits: int, phoff: int, entsize: int, count: int
) -> list[_Segment]:
    if count == 0:
        return []
    minimum = 56 if bits == 64 else 32
    if entsize < minimum or entsize * count > MAX_TABLE:
        raise ElfFormatError("implausible program header table")
    table = _read_at(handle, phoff, entsize * count)
    if len(table) < entsize * count:
        raise ElfFormatError("program header table past the end of the file")
    segments = []
    for index in range(count):
        at = index * entsize
        if bits == 64:
            layout = f"{order}IIQQQQ"
            p_type, flags, offset, vaddr, _, filesz = struct.unpack_from(layout, table, at)
        else:
            p_type, offset, vaddr, _, filesz, _, flags = struct.unpack_from(
                f"{order}IIIIIII", table, at
            )
        segments.append(_Segment(p_type, flags, offset, vaddr, filesz))
    return segments


def _interpreter(handle: BinaryIO, segments: list[_Segment]) -> str | None:
    for segment in segments:
        if segment.type == PT_INTERP:
            raw = _read_at(handle, segment.offset, min(segment.filesz, MAX_SEGMENT_READ))
            return raw.split(b"\0", 1)[0].decode(errors="replace")
    return None


def _needed(handle: BinaryIO, order: str, bits: int, segments: list[_Segment]) -> tuple[str, ...]:
    dynamic = next((s for s in segments if s.type == PT_DYNAMIC), None)
    if dynamic is None:
        return ()
    raw = _read_at(handle, dynamic.offset, min(dynamic.filesz, MAX_SEGMENT_READ))
    entry = struct.Struct(f"{order}qQ" if bits == 64 else f"{order}iI")
    needed_offsets: list[int] = []
    strtab_vaddr = None
    for at in range(0, len(raw) - entry.size + 1, entry.size):
        tag, value = entry.unpack_from(raw, at)
        if tag == DT_NULL:
            break
        if tag == DT_NEEDED:
            needed_offsets.append(value)
        elif tag == DT_STRTAB:
            strtab_vaddr = value
    strtab = _file_offset(segments, strtab_vaddr) if strtab_vaddr is not None else None
    names = []
    for offset in needed_offsets:
        name = "?"
        if strtab is not None:
            raw_name = _read_at(handle, strtab + offset, 256).split(b"\0", 1)[0]
            name = raw_name.decode(errors="replace")
        names.append(name or "?")
    return tuple(names)


def _file_offset(segments: list[_Segment], vaddr: int) -> int | None:
    for segment in segments:
        if segment.type == PT_LOAD and segment.vaddr <= vaddr < segment.vaddr + segment.filesz:
            return segment.offset + vaddr - segment.vaddr
    return None


def _section(
    handle: BinaryIO,
    order: str,
    bits: int,
    shoff: int,
    entsize: int,
    count: int,
    names_index: int,
    wanted: bytes,
) -> bytes | None:
    """The first bytes of the section named ``wanted``, or None."""
    minimum = 64 if bits == 64 else 40
    if shoff == 0 or count == 0 or entsize < minimum or entsize * count > MAX_TABLE:
        return None
    if names_index >= count:
        return None
    table = _read_at(handle, shoff, entsize * count)
    if len(table) < entsize * count:
        return None
    layout = f"{order}IIQQQQ" if bits == 64 else f"{order}IIIIII"
    sections = [struct.unpack_from(layout, table, i * entsize) for i in range(count)]
    # (name, type, flags, addr, offset, size)
    _, _, _, _, names_offset, names_size = sections[names_index]
    names = _read_at(handle, names_offset, min(names_size, MAX_SEGMENT_READ))
    for name, _, _, _, offset, size in sections:
        if names[name : name + len(wanted) + 1] == wanted + b"\0":
            return _read_at(handle, offset, min(size, MAX_BUILDINFO_SECTION))
    return None


def _first_writable_data(handle: BinaryIO, segments: list[_Segment]) -> bytes:
    for segment in segments:
        if segment.type == PT_LOAD and segment.flags & PF_W and segment.filesz:
            return _read_at(handle, segment.offset, min(segment.filesz, MAX_DATA_SCAN))
    return b""
