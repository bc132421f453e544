"""Small fakes for the Pebble tests: ELF files made byte by byte, release archives, and an
HTTP server on 127.0.0.1 that serves a directory as a Pebble release mirror."""

from __future__ import annotations

import gzip
import io
import struct
import tarfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from rockpack.pebble.release import PEBBLE_VERSION

GO_MAGIC = b"\xff Go buildinf:"
SENTINEL_START = b"0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6"
SENTINEL_END = b"\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2"
PEBBLE_PACKAGE = "github.com/canonical/pebble/cmd/pebble"
PEBBLE_MODULE = "github.com/canonical/pebble"
MACHINES = {
    "amd64": (64, True, 62),
    "arm64": (64, True, 183),
    "s390x": (64, False, 22),
    "armhf": (32, True, 40),
}


def uvarint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def go_buildinfo(
    package: str = PEBBLE_PACKAGE,
    module: str = PEBBLE_MODULE,
    version: str = "(devel)",
    *,
    inline: bool = True,
) -> bytes:
    """Go's build info blob as the linker writes it (Go 1.18+ when ``inline``)."""
    modinfo = f"path\t{package}\nmod\t{module}\t{version}\t\ndep\tgolang.org/x/sys\tv0.46.0\t\n"
    blob = SENTINEL_START + modinfo.encode() + SENTINEL_END
    header = GO_MAGIC + bytes([8, 2 if inline else 0]) + bytes(16)
    go = b"go1.26.5"
    return header + uvarint(len(go)) + go + uvarint(len(blob)) + blob


def _align(data: bytearray, to: int) -> int:
    data.extend(bytes(-len(data) % to))
    return len(data)


def make_elf(
    arch: str = "amd64",
    *,
    interpreter: str | None = None,
    needed: tuple[str, ...] = (),
    buildinfo: bytes | None = None,
    sections: bool = True,
    elf_type: int = 2,
    padding: int = 0,
) -> bytes:
    """A small ELF file with the given properties (not runnable; only its headers matter).

    ``buildinfo`` defaults to Pebble's; pass b"" for a program that is not Go.
    """
    bits, little, machine = MACHINES[arch]
    order = "<" if little else ">"
    word = "Q" if bits == 64 else "I"
    ehsize, phentsize, shentsize = (64, 56, 64) if bits == 64 else (52, 32, 40)
    info = go_buildinfo() if buildinfo is None else buildinfo
    base = 0x400000
    phnum = 1 + bool(interpreter) + bool(needed)
    data = bytearray(bytes(ehsize + phentsize * phnum))
    interp_off = _align(data, 16)
    data += (interpreter or "").encode() + b"\0"
    writable_off = _align(data, 16)
    data += bytes(padding)
    info_off = _align(data, 16)
    data += info
    strtab_off = len(data)
    strtab = b"\0" + b"".join(name.encode() + b"\0" for name in needed)
    data += strtab
    dyn_off = _align(data, 8)
    dyn = f"{order}qQ" if bits == 64 else f"{order}iI"
    at = 1
    for name in needed:
        data += struct.pack(dyn, 1, at)
        at += len(name) + 1
    data += struct.pack(dyn, 5, base + strtab_off) + struct.pack(dyn, 0, 0)
    writable_end = len(data)
    segments = []
    if interpreter:
        segments.append((3, 4, interp_off, len(interpreter) + 1))
    segments.append((1, 6, writable_off, writable_end - writable_off))  # PT_LOAD, RW
    if needed:
        segments.append((2, 6, dyn_off, writable_end - dyn_off))
    for index, (p_type, flags, offset, size) in enumerate(segments):
        at = ehsize + index * phentsize
        vaddr = base + offset
        if bits == 64:
            entry = struct.pack(
                f"{order}IIQQQQQQ", p_type, flags, offset, vaddr, vaddr, size, size, 16
            )
        else:
            entry = struct.pack(
                f"{order}IIIIIIII", p_type, offset, vaddr, vaddr, size, size, flags, 16
            )
        data[at : at + len(entry)] = entry
    shoff = shnum = shstrndx = 0
    if sections:
        names = b"\0.go.buildinfo\0.shstrtab\0"
        names_off = len(data)
        data += names
        shoff = _align(data, 8)
        layout = f"{order}IIQQQQIIQQ" if bits == 64 else f"{order}IIIIIIIIII"
        data += struct.pack(layout, *([0] * 10))
        data += struct.pack(layout, 1, 1, 3, base + info_off, info_off, len(info), 0, 0, 16, 0)
        data += struct.pack(layout, 15, 3, 0, 0, names_off, len(names), 0, 0, 1, 0)
        shnum, shstrndx = 3, 2
    ident = b"\x7fELF" + bytes([2 if bits == 64 else 1, 1 if little else 2, 1])
    header = (
        ident
        + bytes(9)
        + struct.pack(
            f"{order}HHI{word}{word}{word}IHHHHHH",
            elf_type,
            machine,
            1,
            base,
            ehsize,
            shoff,
            0,
            ehsize,
            phentsize,
            phnum,
            shentsize,
            shnum,
            shstrndx,
        )
    )
    data[: len(header)] = header
    return bytes(data)


def write_file(path: Path, content: bytes, mode: int = 0o755) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    path.chmod(mode)
    return path


def release_archive(binary: bytes, *, name: str = "pebble", extra: bytes = b"") -> bytes:
    """A .tar.gz laid out like Pebble's release assets (pebble, COPYING, README.md)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for member, content, mode in (
            ("COPYING", b"GPL-3.0\n", 0o644),
            (name, binary, 0o755),
            ("README.md", b"# Pebble\n" + extra, 0o644),
        ):
            info = tarfile.TarInfo(member)
            info.size, info.mode, info.mtime = len(content), mode, 1700000000
            tar.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue(), mtime=0)


def asset_path(root: Path, arch: str, version: str = PEBBLE_VERSION) -> Path:
    return root / version / f"pebble_{version}_linux_{arch}.tar.gz"


@dataclass
class Mirror:
    """A directory served over HTTP on 127.0.0.1; ``requests`` lists the paths asked for."""

    root: Path
    url: str = ""
    requests: list[str] = field(default_factory=list)
    routes: dict[str, Callable[[SimpleHTTPRequestHandler], None]] = field(default_factory=dict)

    def put(self, arch: str, content: bytes, version: str = PEBBLE_VERSION) -> Path:
        return write_file(asset_path(self.root, arch, version), content, 0o644)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that hangs up (as the downloader does on purpose) is no news


@contextmanager
def serve(root: Path) -> Iterator[Mirror]:
    """Serve ``root`` on a free port of 127.0.0.1 for the duration of the block."""
    root.mkdir(parents=True, exist_ok=True)
    mirror = Mirror(root)

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

        def do_GET(self) -> None:
            mirror.requests.append(self.path)
            route = mirror.routes.get(self.path)
            if route is not None:
                route(self)
            else:
                super().do_GET()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = _QuietServer(("127.0.0.1", 0), Handler)
    mirror.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield mirror
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
