"""Licences as SPDX expressions, taken only from metadata that states them reliably.

A value becomes a licence only when it parses as an SPDX expression of known licence
identifiers (``license-expression`` knows the SPDX list); anything else (free text,
``SEE LICENSE IN ...``, an unknown name) is no assertion. Python trove classifiers are
mapped only where one classifier names one licence unambiguously.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from license_expression import Licensing, get_spdx_licensing

MAX_EXPRESSION = 1000  # characters: longer values are prose, not an expression
_TOKENS = re.compile(r"[\s()]+")
_OPERATORS = {"and", "or", "with"}
# Deprecated SPDX identifiers of the GNU licences: exact, and normalised to their
# '-only' or '-or-later' names (license-expression knows them as aliases).
_DEPRECATED_GNU = re.compile(r"^(A?GPL|LGPL|GFDL)-\d\.\d\+?$", re.IGNORECASE)

# Trove classifiers that name exactly one SPDX licence (others, such as "BSD License" or
# "Apache Software License", leave the version or variant open).
CLASSIFIERS = {
    "License :: OSI Approved :: MIT License": "MIT",
    "License :: OSI Approved :: MIT No Attribution License (MIT-0)": "MIT-0",
    "License :: OSI Approved :: ISC License (ISCL)": "ISC",
    "License :: OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "License :: OSI Approved :: Python Software Foundation License": "PSF-2.0",
    "License :: OSI Approved :: The Unlicense (Unlicense)": "Unlicense",
    "License :: OSI Approved :: Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
    "License :: OSI Approved :: Zero-Clause BSD (0BSD)": "0BSD",
    "License :: OSI Approved :: European Union Public Licence 1.2 (EUPL 1.2)": "EUPL-1.2",
    "License :: OSI Approved :: GNU General Public License v2 or later (GPLv2+)": (
        "GPL-2.0-or-later"
    ),
    "License :: OSI Approved :: GNU General Public License v3 or later (GPLv3+)": (
        "GPL-3.0-or-later"
    ),
    "License :: OSI Approved :: GNU Lesser General Public License v2 or later (LGPLv2+)": (
        "LGPL-2.0-or-later"
    ),
    "License :: OSI Approved :: GNU Lesser General Public License v3 or later (LGPLv3+)": (
        "LGPL-3.0-or-later"
    ),
    "License :: OSI Approved :: GNU Affero General Public License v3 or later (AGPLv3+)": (
        "AGPL-3.0-or-later"
    ),
    "License :: CC0 1.0 Universal (CC0 1.0) Public Domain Dedication": "CC0-1.0",
}


@lru_cache(maxsize=1)
def _licensing() -> Licensing:
    return get_spdx_licensing()


def spdx_expression(text: object) -> str | None:
    """``text`` as a normalised SPDX expression of known licences, or None.

    Each name must be an SPDX identifier (any case) or a deprecated GNU one: an alias
    license-expression also knows (``GPL`` for ``GPL-1.0-or-later``) says less than the
    identifier it stands for, so it is not taken as one.
    """
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_EXPRESSION:
        return None
    try:
        info = _licensing().validate(text.strip())
    except (AttributeError, ValueError, TypeError, RecursionError):
        return None
    if info.errors or info.invalid_symbols or not info.normalized_expression:
        return None
    normalized = str(info.normalized_expression)
    known = {token.lower() for token in _TOKENS.split(normalized)}
    for token in _TOKENS.split(text.strip()):
        if token and token.lower() not in _OPERATORS | known and not _DEPRECATED_GNU.match(token):
            return None
    return normalized


def all_of(expressions: list[str]) -> str | None:
    """Every one of ``expressions`` applies: ``(a) AND (b)``, duplicates dropped."""
    unique = sorted(set(expressions))
    if not unique:
        return None
    if len(unique) == 1:
        return unique[0]
    return spdx_expression(" AND ".join(f"({item})" for item in unique))


def python_license(
    expression: str | None, license_field: str | None, classifiers: list[str]
) -> str | None:
    """A Python distribution's licence: ``License-Expression`` (PEP 639), else a
    ``License`` field that is itself an SPDX expression, else one licence classifier."""
    for candidate in (expression, license_field):
        found = spdx_expression(candidate)
        if found:
            return found
    licences = [c for c in classifiers if c.startswith("License :: ")]
    if len(licences) == 1 and licences[0] in CLASSIFIERS:
        return CLASSIFIERS[licences[0]]
    return None


def npm_license(document: dict[str, Any]) -> str | None:
    """``license`` (an SPDX expression, or the old ``{"type": ...}``), or a single entry
    of the old ``licenses`` list."""
    value = document.get("license")
    if isinstance(value, dict):
        value = value.get("type")
    if value is None:
        old = document.get("licenses")
        if isinstance(old, list) and len(old) == 1:
            value = old[0].get("type") if isinstance(old[0], dict) else old[0]
    return spdx_expression(value)
