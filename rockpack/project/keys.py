"""The keys a model accepts at any depth, and the closest one to a misspelt key."""

from __future__ import annotations

import difflib
import types
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Union, get_args, get_origin

import pydantic

KeyPath = Sequence[str | int]
_LISTS = (list, tuple, set, frozenset, Sequence)
_MAPPINGS = (dict, Mapping)


def _alternatives(annotation: Any) -> list[Any]:
    """``X | None``, ``Annotated[X, ...]`` and unions, flattened into their members."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _alternatives(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [m for arg in get_args(annotation) for m in _alternatives(arg)]
    return [annotation]


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel)


def field_keys(model: type[pydantic.BaseModel]) -> dict[str, Any]:
    """Each key a model accepts (alias and, for fields with one, name) -> its annotation."""
    keys: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        keys[info.alias or name] = info.annotation
        keys.setdefault(name, info.annotation)
    return keys


def models_at(annotation: Any, loc: KeyPath) -> list[type[pydantic.BaseModel]]:
    """The models that could hold the mapping found at ``loc`` under ``annotation``."""
    found: list[type[pydantic.BaseModel]] = []
    for member in _alternatives(annotation):
        if not loc:
            found += [member] if _is_model(member) else []
            continue
        head, rest = loc[0], loc[1:]
        origin = get_origin(member)
        if _is_model(member) and isinstance(head, str):
            inner = field_keys(member).get(head)
            found += models_at(inner, rest) if inner is not None else []
        elif origin in _LISTS and isinstance(head, int) and get_args(member):
            found += models_at(get_args(member)[0], rest)
        elif origin in _MAPPINGS and len(get_args(member)) == 2:
            found += models_at(get_args(member)[1], rest)
    return found


def known_keys(annotations: Sequence[Any], parent: KeyPath) -> list[str]:
    """The file's spelling (aliases) of every key allowed in the mapping at ``parent``."""
    keys: set[str] = set()
    for annotation in annotations:
        for model in models_at(annotation, parent):
            keys.update(info.alias or name for name, info in model.model_fields.items())
    return sorted(keys)


def closest_key(typed: str, known: Sequence[str]) -> str | None:
    """A likely intended key for a misspelt one (``run_usr`` -> ``run-user``)."""
    by_lower = {k.lower(): k for k in known}
    candidate = typed.lower().replace("_", "-")
    if candidate in by_lower:
        return by_lower[candidate]
    matches = difflib.get_close_matches(candidate, list(by_lower), n=1, cutoff=0.6)
    return by_lower[matches[0]] if matches else None
