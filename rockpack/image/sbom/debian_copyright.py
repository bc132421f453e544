"""A Debian package's licence, from its machine-readable copyright file (DEP-5).

Only files that declare the copyright-format are read. Each ``Files`` paragraph's
``License`` short name is mapped to SPDX (``GPL-2+`` is ``GPL-2.0-or-later``, ``Expat``
is ``MIT``, names already in the SPDX list as they are); the package's licence is all
of them together (``AND``). One name that does not map (``public-domain``, an exception
clause, a bare ``GPL``) makes the whole licence no assertion: a partial answer would
claim more than the file says.
"""

from __future__ import annotations

import re

from rockpack.image.sbom.dpkg import parse_stanzas
from rockpack.image.sbom.licenses import all_of, spdx_expression

FORMAT_MARK = "copyright-format"
_GNU = re.compile(r"^(A?GPL|LGPL|GFDL|GFDL-NIV)-(\d+(?:\.\d+)?)(\+?)$", re.IGNORECASE)
# Debian's short names that are not SPDX identifiers but name one licence: "Artistic" is
# the Perl Artistic License of /usr/share/common-licenses/Artistic.
_ALIASES = {"expat": "MIT", "artistic": "Artistic-1.0-Perl", "apache-2": "Apache-2.0"}
_OPERATORS = re.compile(r"\s+(or|and)\s+", re.IGNORECASE)
_GROUPS = re.compile(r",\s+(or|and)\s+", re.IGNORECASE)


def copyright_license(text: str) -> str | None:
    """The SPDX expression for a DEP-5 copyright file, or None (not DEP-5, or a licence
    that does not map)."""
    stanzas = parse_stanzas(text)
    if not stanzas or FORMAT_MARK not in stanzas[0].get("format", ""):
        return None
    found = []
    for stanza in stanzas[1:]:
        if "files" not in stanza:
            continue  # a header or a stand-alone License paragraph (the licence's text)
        short = stanza.get("license", "").split("\n", 1)[0].strip()
        expression = debian_expression(short)
        if expression is None:
            return None
        found.append(expression)
    return all_of(found)


def debian_expression(short: str) -> str | None:
    """A DEP-5 ``License`` short name, or names joined by ``or`` and ``and`` (a comma
    before one binds looser: ``a or b, and c`` is ``(a or b) and c``), as SPDX."""
    if not short or " with " in f" {short.lower()} ":
        return None
    pieces = _GROUPS.split(short)
    if len(pieces) > 1:
        groups = [_plain_expression(group) for group in pieces[::2]]
        if any(group is None for group in groups):
            return None
        text = f"({groups[0]})"
        for operator, group in zip(pieces[1::2], groups[1:], strict=True):
            text += f" {operator.upper()} ({group})"
        return spdx_expression(text)
    return _plain_expression(short)


def _plain_expression(short: str) -> str | None:
    if "," in short:
        return None
    pieces = _OPERATORS.split(short)
    names, operators = pieces[::2], [op.upper() for op in pieces[1::2]]
    mapped = [spdx_name(name) for name in names]
    if any(name is None for name in mapped):
        return None
    text = str(mapped[0])
    for operator, name in zip(operators, mapped[1:], strict=True):
        text += f" {operator} {name}"
    return spdx_expression(text)


def spdx_name(name: str) -> str | None:
    """One Debian licence short name as an SPDX identifier."""
    gnu = _GNU.match(name)
    if gnu:
        family, version, later = gnu.groups()
        version = version if "." in version else f"{version}.0"
        if family.upper() == "GFDL-NIV":  # no invariant sections
            return f"GFDL-{version}-no-invariants-{'or-later' if later else 'only'}"
        return f"{family.upper()}-{version}-{'or-later' if later else 'only'}"
    alias = _ALIASES.get(name.lower())
    if alias:
        return alias
    found = spdx_expression(name)
    return found if found is not None and " " not in found else None
