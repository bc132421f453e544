"""Layer compressors whose output depends only on the input and the settings.

gzip is compressed in parallel the way pigz does it: the stream is cut into fixed
512 KiB blocks, each deflated on its own (primed with the previous block's last 32 KiB
as dictionary) and sync-flushed, and the pieces are joined into one valid gzip member.
The bytes depend on the block size, level and engine only, never on how many threads
ran; both engines release the GIL, so the blocks really are compressed side by side.

Levels 1 and 2 deflate with ISA-L (the ``isal`` package), five times faster than zlib at
the same ratio. Its bytes are the same on every x86-64 CPU with SSE4.2 (checked from
Nehalem to AVX-512); its level 3 is not (it changes with the vector unit), so levels 3 to
9 use zlib. See docs/performance.md.
"""

from __future__ import annotations

import os
import zlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import isal
import zstandard
from isal import isal_zlib

from rockpack.errors import EXIT_USAGE, RockpackError
from rockpack.oci.serial_lane import SerialLane

BLOCK = 512 * 1024
DICTIONARY = 32 * 1024
# mtime 0, no name, xfl 0, OS 3 (Unix): the same header on every machine.
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"
ZSTD_WORKERS = 2  # fixed, not the machine's core count, so the bytes never depend on it
ISAL_LEVELS = 2  # gzip levels deflated by ISA-L; above this, zlib


@dataclass(frozen=True)
class Compression:
    """A layer compression: the algorithm, its level, and the layer media type."""

    algorithm: str  # "gzip" or "zstd"
    level: int

    @property
    def media_type(self) -> str:
        return f"application/vnd.oci.image.layer.v1.tar+{self.algorithm}"

    @property
    def engine(self) -> str:
        """The library and version whose bytes this compression produces."""
        if self.algorithm == "zstd":
            return "zstd-" + ".".join(map(str, zstandard.ZSTD_VERSION))
        if deflate_engine(self.level) is isal_zlib:
            return f"isal-{isal.__version__}"
        return f"zlib-{zlib.ZLIB_RUNTIME_VERSION}"

    def key(self) -> str:
        return f"{self.algorithm}-{self.level}-{self.engine}-{BLOCK}"


DEFAULT = Compression("gzip", 1)  # see docs/performance.md for the figures behind it
LEVELS = {"gzip": range(1, 10), "zstd": range(1, 20)}


def parse_compression(text: str) -> Compression:
    """'gzip', 'gzip:1', 'zstd', 'zstd:9' -> a Compression; a clear error otherwise."""
    algorithm, _, level_text = text.partition(":")
    default_level = {"gzip": 6, "zstd": 3}.get(algorithm)
    level = int(level_text) if level_text.isdigit() else default_level if not level_text else None
    if default_level is None or level is None or level not in LEVELS[algorithm]:
        raise RockpackError(
            f"--compression {text!r} is not a known compression.",
            resolution="Use gzip, gzip:1 ... gzip:9, zstd, or zstd:1 ... zstd:19.",
            retcode=EXIT_USAGE,
        )
    return Compression(algorithm, level)


Observer = Callable[[bytes], None]


class ParallelGzip:
    """Feed bytes in; compressed bytes come out through ``sink``, in order.

    ``observe``, if given, sees the uncompressed stream in order, on the serial lane.
    """

    def __init__(
        self,
        level: int,
        sink: Callable[[bytes], None],
        threads: int = 0,
        observe: Observer | None = None,
    ) -> None:
        workers = threads or os.cpu_count() or 1
        self._level = level
        self._sink = sink
        self._observe = observe
        self._pool = ThreadPoolExecutor(max_workers=workers)
        self._lane = SerialLane(limit=4 * workers)
        self._pending: deque[Future[tuple[bytes, int, int]]] = deque()
        self._window = 2 * workers  # bounds memory
        self._buffer = bytearray()
        self._previous_tail = b""
        self._crc = 0
        self._size = 0
        self._lane.submit(sink, GZIP_HEADER)

    def write(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) < BLOCK:
            return
        whole = len(self._buffer) - len(self._buffer) % BLOCK
        with memoryview(self._buffer) as view:
            for start in range(0, whole, BLOCK):
                self._submit(bytes(view[start : start + BLOCK]), final=False)
        del self._buffer[:whole]

    def finish(self) -> None:
        self._submit(bytes(self._buffer), final=True)
        self._buffer.clear()
        while self._pending:
            self._emit(self._pending.popleft().result())
        self._pool.shutdown()
        trailer = self._crc.to_bytes(4, "little") + (self._size & 0xFFFFFFFF).to_bytes(4, "little")
        self._lane.submit(self._sink, trailer)
        self._lane.drain()

    def abandon(self) -> None:
        self._pool.shutdown(cancel_futures=True)
        self._lane.abandon()

    def _submit(self, block: bytes, *, final: bool) -> None:
        if self._observe is not None:
            self._lane.submit(self._observe, block)
        dictionary = self._previous_tail
        self._previous_tail = (dictionary + block)[-DICTIONARY:]
        self._pending.append(self._pool.submit(_deflate, block, dictionary, self._level, final))
        while len(self._pending) > self._window or (self._pending and self._pending[0].done()):
            self._emit(self._pending.popleft().result())

    def _emit(self, done: tuple[bytes, int, int]) -> None:
        compressed, crc, length = done
        self._crc = isal_zlib.crc32_combine(self._crc, crc, length)
        self._size += length
        self._lane.submit(self._sink, compressed)


def deflate_engine(level: int) -> Any:
    """The zlib-compatible module that deflates a gzip ``level``: ISA-L or zlib."""
    return isal_zlib if level <= ISAL_LEVELS else zlib


def _deflate(block: bytes, dictionary: bytes, level: int, final: bool) -> tuple[bytes, int, int]:
    """One block, raw deflate (the gzip header and trailer go around all blocks)."""
    engine = deflate_engine(level)
    if dictionary:
        compressor = engine.compressobj(
            level, engine.DEFLATED, -15, 8, engine.Z_DEFAULT_STRATEGY, dictionary
        )
    else:
        compressor = engine.compressobj(level, engine.DEFLATED, -15)
    compressed = compressor.compress(block) + compressor.flush(
        engine.Z_FINISH if final else engine.Z_SYNC_FLUSH
    )
    return compressed, isal_zlib.crc32(block), len(block)


class Zstd:
    """zstd with a fixed number of workers."""

    def __init__(
        self, level: int, sink: Callable[[bytes], None], observe: Observer | None = None
    ) -> None:
        compressor = zstandard.ZstdCompressor(level=level, threads=ZSTD_WORKERS)
        self._sink = sink
        self._observe = observe
        self._object = compressor.compressobj()

    def write(self, data: bytes) -> None:
        if self._observe is not None:
            self._observe(data)
        out = self._object.compress(data)
        if out:
            self._sink(out)

    def finish(self) -> None:
        self._sink(self._object.flush())

    def abandon(self) -> None:
        pass


def compressor(
    compression: Compression, sink: Callable[[bytes], None], observe: Observer | None = None
) -> ParallelGzip | Zstd:
    if compression.algorithm == "zstd":
        return Zstd(compression.level, sink, observe)
    return ParallelGzip(compression.level, sink, observe=observe)
