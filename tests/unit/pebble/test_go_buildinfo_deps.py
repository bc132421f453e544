"""The dependency modules in Go's build info: ``dep`` lines, the ``=>`` lines replacing
them, and module info that is malformed or hostile (skipped line by line, never raised)."""

from __future__ import annotations

import random

from rockpack.pebble.go_buildinfo import (
    MAX_DEPS,
    MAX_LINE,
    GoBuildInfo,
    GoModule,
    find_build_info,
)
from tests.unit.pebble.fakes import GO_MAGIC, SENTINEL_END, SENTINEL_START, uvarint

HEAD = "path\texample.com/hello\nmod\texample.com/hello\t(devel)\t\n"
SUM = "h1:cLDTN08u9RKga+D4mmwn9aIG35ADDVX68OL+/af/irI="


def blob(modinfo: str | bytes, go: bytes = b"go1.22.1") -> bytes:
    """Go's inline build info (Go 1.18+) holding ``modinfo`` between the sentinels."""
    raw = modinfo.encode() if isinstance(modinfo, str) else modinfo
    strings = SENTINEL_START + raw + SENTINEL_END
    header = GO_MAGIC + bytes([8, 2]) + bytes(16)
    return header + uvarint(len(go)) + go + uvarint(len(strings)) + strings


def info_of(modinfo: str | bytes) -> GoBuildInfo:
    info = find_build_info(blob(modinfo))
    assert info is not None
    return info


def test_dep_lines_with_and_without_a_sum_in_their_order():
    info = info_of(
        HEAD + f"dep\texample.com/quote\tv1.5.2\t{SUM}\ndep\tgolang.org/x/sys\tv0.46.0\n"
    )
    assert (info.module, info.module_version) == ("example.com/hello", "(devel)")
    assert info.deps == (
        GoModule("example.com/quote", "v1.5.2", SUM),
        GoModule("golang.org/x/sys", "v0.46.0"),
    )


def test_a_replacement_by_a_module_and_by_a_local_directory():
    # as Go 1.19+ writes them: the replaced dep has no sum, a blank line follows
    info = info_of(
        HEAD
        + "dep\texample.com/old\tv1.0.0\n"
        + f"=>\texample.com/newer\tv1.1.0\t{SUM}\n\n"
        + "dep\texample.com/greet\tv0.1.0\n=>\t./greet\t(devel)\t\n\n"
        + "dep\tgolang.org/x/term\tv0.44.0\n=>\t/src/deps/term\t\t\n"  # Go before 1.19
    )
    assert info.deps == (
        GoModule("example.com/old", "v1.0.0", "", GoModule("example.com/newer", "v1.1.0", SUM)),
        GoModule("example.com/greet", "v0.1.0", "", GoModule("./greet", "(devel)")),
        GoModule("golang.org/x/term", "v0.44.0", "", GoModule("/src/deps/term", "")),
    )


def test_a_replacement_not_right_after_a_dep_line_is_skipped():
    info = info_of(
        "path\tp\nmod\texample.com/m\tv1.0.0\t\n=>\texample.com/other\tv2.0.0\t\n"  # the main's
        + "dep\ta.example/x\tv1.0.0\n\n=>\tb.example/x\tv1.0.0\t\n"  # a blank line between
        + "dep\ta.example/y\tv1.0.0\n=>\tb.example/y\tv1.0.0\t\n=>\tc.example/y\tv9.0.0\t\n"
    )
    assert (info.module, info.module_version) == ("example.com/m", "v1.0.0")
    assert info.deps == (
        GoModule("a.example/x", "v1.0.0"),
        GoModule("a.example/y", "v1.0.0", "", GoModule("b.example/y", "v1.0.0")),  # once only
    )


def test_malformed_lines_are_skipped_and_the_rest_is_read():
    lines = [
        "dep",  # no fields
        "dep\tonly.example/path",  # one field
        "dep\t\tv1.0.0",  # no path
        "dep\ta.example/b\tv1\th1:x\textra",  # four fields
        "dep\ta.example/with space\tv1.0.0",
        "dep\ta.example/ctl\x01\tv1.0.0",
        "dep\ta.example/nbsp\u00a0\tv1.0.0",
        "dep\ta.example/long/" + "x" * MAX_LINE + "\tv1.0.0",
        "dep\tgood.example/a\tv1.0.0",
        "=>\tnot enough",  # a malformed replacement: the dep stays as required
        "dep\tgood.example/b\tv2.0.0\th1:abc=",
        "\x00\xff garbage \t\t\t",
        "dep\tgood.example/c\tv3.0.0",
        "=>\t" + "y" * MAX_LINE + "\tv1.0.0\t",  # too long: skipped, not attached
    ]
    info = info_of(HEAD + "\n".join(lines) + "\n")
    assert info.deps == (
        GoModule("good.example/a", "v1.0.0"),
        GoModule("good.example/b", "v2.0.0", "h1:abc="),
        GoModule("good.example/c", "v3.0.0"),
    )


def test_bytes_that_are_not_utf8_are_read_as_replacement_characters():
    info = info_of(HEAD.encode() + b"dep\texample.com/caf\xe9\tv1.0.0\n")
    assert info.deps == (GoModule("example.com/caf\ufffd", "v1.0.0"),)


def test_at_most_max_deps_dep_lines_are_kept():
    many = "".join(f"dep\texample.com/m{index}\tv1.0.{index}\n" for index in range(MAX_DEPS + 5))
    info = info_of(HEAD + many + "dep\texample.com/last\tv1.0.0\n")
    assert len(info.deps) == MAX_DEPS
    assert info.deps[-1] == GoModule(f"example.com/m{MAX_DEPS - 1}", f"v1.0.{MAX_DEPS - 1}")


def test_random_module_info_never_raises():
    rng = random.Random(17)
    words = [b"dep", b"=>", b"mod", b"path", b"build", b"", b"\xff", b"\t", b"\n", b"\r"]
    for _ in range(300):
        parts = [rng.choice(words) for _ in range(rng.randrange(60))]
        parts += [rng.randbytes(rng.randrange(20)) for _ in range(rng.randrange(4))]
        rng.shuffle(parts)
        info = info_of(b"\t".join(parts))
        assert all(dep.path and " " not in dep.path for dep in info.deps)


def test_build_info_without_deps_has_none():
    assert info_of(HEAD).deps == ()
    assert info_of("").deps == ()
