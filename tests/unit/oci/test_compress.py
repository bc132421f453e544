"""Layer compression: valid, and the same bytes whatever the machine."""

from __future__ import annotations

import gzip
import hashlib
import os
import random

import pytest
import zstandard

from rockpack.oci.compress import BLOCK, DEFAULT, Compression, ParallelGzip, Zstd

# Both engines: ISA-L (levels 1-2) and zlib (3-9).
LEVELS = pytest.mark.parametrize("level", [1, 2, 6])


def compress(data: bytes, threads: int, level: int = 6, pieces: int = 7) -> bytes:
    out: list[bytes] = []
    writer = ParallelGzip(level, out.append, threads=threads)
    step = max(1, len(data) // pieces)
    for start in range(0, len(data), step):
        writer.write(data[start : start + step])
    writer.finish()
    return b"".join(out)


@pytest.fixture(scope="module")
def sample() -> bytes:
    rng = random.Random(7)
    text = b" ".join(rng.choice([b"alpha", b"beta", b"gamma", b"delta"]) for _ in range(400_000))
    return text + os.urandom(3 * BLOCK) + b"tail"


@LEVELS
def test_output_is_valid_gzip(sample, level):
    assert gzip.decompress(compress(sample, threads=2, level=level)) == sample


@LEVELS
def test_bytes_do_not_depend_on_threads_or_write_sizes(sample, level):
    one = compress(sample, threads=1, pieces=3, level=level)
    assert compress(sample, threads=2, pieces=11, level=level) == one
    assert compress(sample, threads=8, pieces=1, level=level) == one


@LEVELS
@pytest.mark.parametrize("data", [b"", b"x", b"y" * BLOCK, b"z" * (BLOCK + 1)])
def test_edge_sizes(data, level):
    assert gzip.decompress(compress(data, threads=2, level=level)) == data


PINNED_DEFAULT_DIGEST = "4ca178e14e2c68673168c9456122a51dc7f2302af6581285006136a99e3067fa"


def test_default_gzip_bytes_are_pinned():
    """The default's bytes are part of every rock's digest: a change must be deliberate.

    Fails when the isal release deflates differently (update the digest on purpose, and
    the pin in pyproject.toml), or on an x86-64 CPU without SSE4.2 or a non-x86 CPU, where
    ISA-L takes another code path (valid gzip, other bytes; see docs/performance.md).
    """
    rng = random.Random(1)
    words = [b"rock", b"pack", b"layer", b"digest", b"\x00" * 40, b"\n"]
    data = b"".join(rng.choice(words) for _ in range(300_000)) + rng.randbytes(2 * BLOCK)
    out = compress(data, threads=2, level=DEFAULT.level)
    assert DEFAULT.engine.startswith("isal-")
    assert hashlib.sha256(out).hexdigest() == PINNED_DEFAULT_DIGEST, DEFAULT.engine


def test_cache_key_names_the_engine():
    assert Compression("gzip", 1).engine.startswith("isal-")
    assert Compression("gzip", 3).engine.startswith("zlib-")
    assert Compression("zstd", 3).engine.startswith("zstd-")
    assert len({Compression("gzip", n).key() for n in range(1, 10)}) == 9


def test_header_has_no_name_or_time(sample):
    out = compress(sample, threads=2)
    assert out[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"


def test_dictionary_priming_keeps_the_ratio_close_to_one_stream(sample):
    parallel = len(compress(sample, threads=2, level=6))
    single = len(gzip.compress(sample, compresslevel=6, mtime=0))
    assert parallel < single * 1.02


def test_zstd_round_trip_and_media_type(sample):
    out: list[bytes] = []
    writer = Zstd(3, out.append)
    writer.write(sample)
    writer.finish()
    assert zstandard.ZstdDecompressor().decompressobj().decompress(b"".join(out)) == sample
    assert Compression("zstd", 3).media_type == "application/vnd.oci.image.layer.v1.tar+zstd"
