"""Layer compressors whose output depends only on the input and the settings.

gzip is compressed in parallel the way pigz does it: the stream is cut into fixed
128 KiB blocks, each deflated on its own (primed with the previous block's last 32 KiB
as dictionary) and sync-flushed, and the pieces are joined into one valid gzip member.
The bytes depend on the block size and level only, never on how many threads ran; zlib
releases the GIL, so the blocks really are compressed side by side.
"""

from __future__ import annotations

import os
import zlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import zstandard

BLOCK = 128 * 1024
DICTIONARY = 32 * 1024
# mtime 0, no name, xfl 0, OS 3 (Unix): the same header on every machine.
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"
ZSTD_WORKERS = 2  # fixed, not the machine's core count, so the bytes never depend on it


@dataclass(frozen=True)
class Compression:
    """A layer compression: the algorithm, its level, and the layer media type."""

    algorithm: str  # "gzip" or "zstd"
    level: int

    @property
    def media_type(self) -> str:
        return f"application/vnd.oci.image.layer.v1.tar+{self.algorithm}"

    def key(self) -> str:
        return f"{self.algorithm}-{self.level}-{BLOCK}"


DEFAULT = Compression("gzip", 1)  # see docs/performance.md for the figures behind it
LEVELS = {"gzip": range(1, 10), "zstd": range(1, 20)}


class ParallelGzip:
    """Feed bytes in; compressed bytes come out through ``sink``, in order."""

    def __init__(self, level: int, sink: Callable[[bytes], None], threads: int = 0) -> None:
        self._level = level
        self._sink = sink
        self._pool = ThreadPoolExecutor(max_workers=threads or os.cpu_count() or 1)
        self._pending: deque[Future[bytes]] = deque()
        self._window = 2 * (threads or os.cpu_count() or 1)  # bounds memory
        self._buffer = bytearray()
        self._previous_tail = b""
        self._crc = 0
        self._size = 0
        sink(GZIP_HEADER)

    def write(self, data: bytes) -> None:
        self._crc = zlib.crc32(data, self._crc)
        self._size += len(data)
        self._buffer += data
        while len(self._buffer) >= BLOCK:
            block = bytes(self._buffer[:BLOCK])
            del self._buffer[:BLOCK]
            self._submit(block, final=False)

    def finish(self) -> None:
        self._submit(bytes(self._buffer), final=True)
        self._buffer.clear()
        while self._pending:
            self._sink(self._pending.popleft().result())
        self._pool.shutdown()
        self._sink(
            self._crc.to_bytes(4, "little") + (self._size & 0xFFFFFFFF).to_bytes(4, "little")
        )

    def abandon(self) -> None:
        self._pool.shutdown(cancel_futures=True)

    def _submit(self, block: bytes, *, final: bool) -> None:
        dictionary = self._previous_tail
        self._previous_tail = (dictionary + block)[-DICTIONARY:]
        self._pending.append(self._pool.submit(_deflate, block, dictionary, self._level, final))
        while len(self._pending) > self._window or (self._pending and self._pending[0].done()):
            self._sink(self._pending.popleft().result())


def _deflate(block: bytes, dictionary: bytes, level: int, final: bool) -> bytes:
    if dictionary:
        compressor = zlib.compressobj(
            level, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY, dictionary
        )
    else:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    return compressor.compress(block) + compressor.flush(
        zlib.Z_FINISH if final else zlib.Z_SYNC_FLUSH
    )


class Zstd:
    """zstd with a fixed number of workers."""

    def __init__(self, level: int, sink: Callable[[bytes], None]) -> None:
        compressor = zstandard.ZstdCompressor(level=level, threads=ZSTD_WORKERS)
        self._sink = sink
        self._object = compressor.compressobj()

    def write(self, data: bytes) -> None:
        out = self._object.compress(data)
        if out:
            self._sink(out)

    def finish(self) -> None:
        self._sink(self._object.flush())

    def abandon(self) -> None:
        pass


def compressor(compression: Compression, sink: Callable[[bytes], None]) -> ParallelGzip | Zstd:
    if compression.algorithm == "zstd":
        return Zstd(compression.level, sink)
    return ParallelGzip(compression.level, sink)
