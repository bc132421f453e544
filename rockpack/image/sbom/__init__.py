"""What a rock holds, as an SPDX 2.3 SBOM: the base's packages, the parts' packages,
language packages found in the prime dir, Pebble, and the files no package claims.

Each reader here owns one metadata format (dpkg status, .deb control, Python
``*.dist-info``, npm ``package.json``, Go build info, jar manifests) and returns small
typed values; ``collect`` attributes them to parts, ``spdx`` writes the document. Every
function is pure given its inputs: the document's bytes depend only on what the rock
holds and its creation time, never on where or when it was packed.
"""
