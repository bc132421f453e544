"""Layer compression: valid, and the same bytes whatever the machine."""

from __future__ import annotations

import gzip
import os
import random

import pytest
import zstandard

from rockpack.oci.compress import BLOCK, Compression, ParallelGzip, Zstd


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


def test_output_is_valid_gzip(sample):
    assert gzip.decompress(compress(sample, threads=2)) == sample


def test_bytes_do_not_depend_on_threads_or_write_sizes(sample):
    one = compress(sample, threads=1, pieces=3)
    assert compress(sample, threads=2, pieces=11) == one
    assert compress(sample, threads=8, pieces=1) == one


@pytest.mark.parametrize("data", [b"", b"x", b"y" * BLOCK, b"z" * (BLOCK + 1)])
def test_edge_sizes(data):
    assert gzip.decompress(compress(data, threads=2)) == data


def test_header_has_no_name_or_time(sample):
    out = compress(sample, threads=2)
    assert out[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"


def test_dictionary_priming_keeps_the_ratio_close_to_one_stream(sample):
    parallel = len(compress(sample, threads=2))
    single = len(gzip.compress(sample, compresslevel=6, mtime=0))
    assert parallel < single * 1.02


def test_zstd_round_trip_and_media_type(sample):
    out: list[bytes] = []
    writer = Zstd(3, out.append)
    writer.write(sample)
    writer.finish()
    assert zstandard.ZstdDecompressor().decompressobj().decompress(b"".join(out)) == sample
    assert Compression("zstd", 3).media_type == "application/vnd.oci.image.layer.v1.tar+zstd"
