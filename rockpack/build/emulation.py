"""Another architecture's binaries on this host: ELF headers, and qemu-user via binfmt_misc.

A foreign build runs target code where a scriptlet calls what a part staged and in the
overlay step (apt and the overlay-script run chrooted in the target's base). The kernel
runs such a binary only when binfmt_misc has an enabled handler for its ELF header, and
in a chroot or a container only when that handler was registered with flag F
(fix-binary: the interpreter is opened at registration, so it need not exist inside).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")
_NOT_ENTRIES = {"register", "status"}


@dataclass(frozen=True)
class ElfArch:
    """How an architecture's ELF binaries start, and qemu-user's name for it."""

    elf_class: int  # 1: 32-bit, 2: 64-bit
    data: int  # 1: little-endian, 2: big-endian
    machine: int  # e_machine
    qemu: str  # binfmt_misc entry qemu-user-static registers
    machine_name: str


# Debian architecture -> ELF identification (the Debian names rockpack's platforms use).
ELF_ARCHES: dict[str, ElfArch] = {
    "amd64": ElfArch(2, 1, 62, "qemu-x86_64", "x86-64"),
    "arm64": ElfArch(2, 1, 183, "qemu-aarch64", "aarch64"),
    "armhf": ElfArch(1, 1, 40, "qemu-arm", "arm"),
    "i386": ElfArch(1, 1, 3, "qemu-i386", "i386"),
    "ppc64el": ElfArch(2, 1, 21, "qemu-ppc64le", "ppc64le"),
    "riscv64": ElfArch(2, 1, 243, "qemu-riscv64", "riscv64"),
    "s390x": ElfArch(2, 2, 22, "qemu-s390x", "s390x"),
}
# (host, target) pairs whose binaries the host's CPU runs without emulation.
NATIVE_PAIRS = {("amd64", "i386")}
ET_EXEC, ET_DYN = 2, 3
HEADER_SIZE = 20  # e_ident, e_type and e_machine


def elf_header(arch: str, elf_type: int = ET_EXEC) -> bytes:
    """The first bytes of an ELF executable of ``arch`` (for matching binfmt magic)."""
    spec = ELF_ARCHES[arch]
    order = "<" if spec.data == 1 else ">"
    ident = b"\x7fELF" + bytes([spec.elf_class, spec.data, 1]) + bytes(9)
    return ident + struct.pack(f"{order}HHI", elf_type, spec.machine, 1) + bytes(40)


@dataclass(frozen=True)
class ElfKind:
    arch: str | None  # the Debian architecture, None for a machine rockpack does not know
    elf_type: int
    machine: int


def elf_kind(header: bytes) -> ElfKind | None:
    """What an ELF file is built for, from its first HEADER_SIZE bytes; None if not ELF."""
    if len(header) < HEADER_SIZE or header[:4] != b"\x7fELF" or header[5] not in (1, 2):
        return None
    order = "<" if header[5] == 1 else ">"
    elf_type, machine = struct.unpack(f"{order}HH", header[16:20])
    arch = next(
        (
            name
            for name, spec in ELF_ARCHES.items()
            if (spec.elf_class, spec.data, spec.machine) == (header[4], header[5], machine)
        ),
        None,
    )
    return ElfKind(arch, elf_type, machine)


@dataclass(frozen=True)
class Emulation:
    """Whether this host runs ``arch``'s binaries, in chroots too; why not, if not."""

    arch: str
    usable: bool
    reason: str = ""  # why not
    handler: str = ""  # the binfmt_misc entry that runs them, when emulated

    @property
    def enable_commands(self) -> list[str]:
        """What a root user runs on a Debian or Ubuntu host to make it usable."""
        qemu = ELF_ARCHES[self.arch].qemu if self.arch in ELF_ARCHES else f"qemu-{self.arch}"
        return [
            "apt-get install qemu-user-static binfmt-support",
            f"mount -t binfmt_misc binfmt_misc {BINFMT_DIR} (when it is not mounted)",
            f"update-binfmts --enable {self.handler or qemu}",
        ]


@dataclass(frozen=True)
class BinfmtEntry:
    name: str
    enabled: bool
    flags: str
    offset: int
    magic: bytes
    mask: bytes

    def matches(self, header: bytes) -> bool:
        window = header[self.offset : self.offset + len(self.magic)]
        if len(window) < len(self.magic):
            return False
        mask = self.mask or b"\xff" * len(self.magic)
        return all((h & m) == (g & m) for h, m, g in zip(window, mask, self.magic, strict=True))


def read_binfmt_entry(path: Path) -> BinfmtEntry | None:
    """One binfmt_misc entry (a magic one; extension entries are None)."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return None
    fields: dict[str, str] = {}
    for line in lines[1:]:
        key, _, value = line.partition(" ")
        fields[key.rstrip(":")] = value.strip()
    if "magic" not in fields:
        return None
    try:
        return BinfmtEntry(
            name=path.name,
            enabled=bool(lines) and lines[0].strip() == "enabled",
            flags=fields.get("flags", ""),
            offset=int(fields.get("offset", "0")),
            magic=bytes.fromhex(fields["magic"]),
            mask=bytes.fromhex(fields.get("mask", "")),
        )
    except ValueError:
        return None


def emulation_for(arch: str, host: str, binfmt_dir: Path = BINFMT_DIR) -> Emulation:
    """Whether ``arch``'s binaries run on this ``host``: natively, or by a binfmt_misc
    handler that is enabled and has flag F."""
    if arch == host or (host, arch) in NATIVE_PAIRS:
        return Emulation(arch, usable=True)
    if arch not in ELF_ARCHES:
        return Emulation(arch, usable=False, reason=f"rockpack knows no ELF header for {arch}")
    status = binfmt_dir / "status"
    try:
        state = status.read_text().strip()
    except OSError:
        return Emulation(arch, False, f"binfmt_misc is not mounted at {binfmt_dir}")
    if state != "enabled":
        return Emulation(arch, False, "binfmt_misc is disabled on this host")
    headers = [elf_header(arch, ET_EXEC), elf_header(arch, ET_DYN)]
    entries = [
        entry
        for path in sorted(binfmt_dir.iterdir())
        if path.name not in _NOT_ENTRIES
        and (entry := read_binfmt_entry(path)) is not None
        and all(entry.matches(header) for header in headers)
    ]
    qemu = ELF_ARCHES[arch].qemu
    if not entries:
        return Emulation(
            arch, False, f"no binfmt_misc handler runs {arch} binaries (no {qemu} entry)"
        )
    enabled = [entry for entry in entries if entry.enabled]
    if not enabled:
        return Emulation(
            arch, False, f"the binfmt_misc handler {entries[0].name} is disabled", entries[0].name
        )
    fixed = [entry for entry in enabled if "F" in entry.flags]
    if not fixed:
        return Emulation(
            arch,
            False,
            f"the binfmt_misc handler {enabled[0].name} lacks flag F (fix-binary), without "
            "which chroots and containers cannot run its interpreter",
            enabled[0].name,
        )
    return Emulation(arch, usable=True, handler=fixed[0].name)
