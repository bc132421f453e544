"""Untrusted JSON documents (manifests, indexes, configs, token answers), read within bounds.

Everything that parses JSON from a registry, a base or a rock goes through
``parse_json``: the bytes are capped before parsing, the nesting depth after, and every
failure is a ``MalformedDocumentError`` naming the document. The small ``field_*``
helpers turn a wrong field (missing, wrong type) into the same error, never into a
KeyError or AttributeError.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rockpack.errors import RockpackError

MAX_DOCUMENT_BYTES = 4 * 1024 * 1024  # manifests, indexes, configs, token answers
MAX_DEPTH = 64
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_RESOLUTION = "The image is malformed or not an image; use another one, or check its source."


class MalformedDocumentError(RockpackError):
    """A JSON document of an image is not what the OCI specifications describe."""

    def __init__(self, what: str, problem: str, *, resolution: str = _RESOLUTION) -> None:
        self.what = what
        self.problem = problem
        super().__init__(f"{what}: {problem}.", resolution=resolution)


def parse_json(raw: bytes, what: str, *, limit: int = MAX_DOCUMENT_BYTES) -> Any:
    """``raw`` parsed, refusing more than ``limit`` bytes or ``MAX_DEPTH`` levels."""
    if len(raw) > limit:
        raise MalformedDocumentError(what, f"it is larger than the {_size(limit)} limit")
    try:
        document = json.loads(raw)
    except RecursionError:
        document = None
        too_deep = True
    except (ValueError, UnicodeDecodeError) as err:
        raise MalformedDocumentError(what, f"it is not JSON ({err})") from err
    else:
        too_deep = _deeper_than(document, MAX_DEPTH)
    if too_deep:
        raise MalformedDocumentError(what, f"it is nested deeper than {MAX_DEPTH} levels")
    return document


def parse_object(raw: bytes, what: str, *, limit: int = MAX_DOCUMENT_BYTES) -> dict[str, Any]:
    document = parse_json(raw, what, limit=limit)
    if not isinstance(document, dict):
        raise MalformedDocumentError(what, "it is not a JSON object")
    return document


def field_str(doc: dict[str, Any], key: str, what: str, *, required: bool = True) -> str:
    value = doc.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise MalformedDocumentError(what, f"'{key}' is {_kind(value)}, not a string")
    return value


def field_int(doc: dict[str, Any], key: str, what: str) -> int:
    value = doc.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise MalformedDocumentError(what, f"'{key}' is {_kind(value)}, not a size in bytes")
    return value


def field_dict(doc: dict[str, Any], key: str, what: str) -> dict[str, Any]:
    """An optional object field ({} when absent)."""
    value = doc.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedDocumentError(what, f"'{key}' is {_kind(value)}, not an object")
    return value


def field_list(doc: dict[str, Any], key: str, what: str, *, required: bool = False) -> list[Any]:
    value = doc.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise MalformedDocumentError(what, f"'{key}' is {_kind(value)}, not a list")
    return value


def field_strings(doc: dict[str, Any], key: str, what: str) -> dict[str, str]:
    """An optional object of strings (annotations, labels, a platform)."""
    value = field_dict(doc, key, what)
    if not all(isinstance(v, str) for v in value.values()):
        raise MalformedDocumentError(what, f"'{key}' holds values that are not strings")
    return value


def check_digest(digest: str, what: str) -> str:
    if not DIGEST_RE.match(digest):
        raise MalformedDocumentError(
            what, f"{digest[:80]!r} is not a sha256 digest (sha256: and 64 lowercase hex digits)"
        )
    return digest


def _deeper_than(document: Any, limit: int) -> bool:
    """Whether more than ``limit`` objects and lists nest in ``document``."""
    level = [document]
    for depth in range(1, limit + 2):
        containers = [item for item in level if isinstance(item, dict | list)]
        if not containers:
            return False
        if depth > limit:
            return True
        level = [
            child
            for item in containers
            for child in (item.values() if isinstance(item, dict) else item)
        ]
    return True


def _kind(value: Any) -> str:
    if value is None:
        return "missing"
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    names |= {list: "a list", dict: "an object"}
    return names.get(type(value), type(value).__name__)


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit} bytes"
