"""Pebble: takes the project's services and checks, gives the Pebble layer file and the part
that puts the Pebble binary at /usr/bin/pebble.

The binary: source.py decides where it comes from (ROCKPACK_PEBBLE_SOURCE, else the pinned
release of release.py, which fetch.py takes from the cache (cache.py) or downloads once
(download.py, the only module here that opens connections) under trust on first use
(trust.py)); archive.py takes it out of its archive; binary_check.py (with elf.py and
go_buildinfo.py) refuses anything that is not a static Pebble for the rock's architecture;
part.py installs it; seed.py hands it to a clean build's instance.
"""
