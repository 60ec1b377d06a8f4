"""Keeping a record whose values do not all fit: the lenient half of decoding.

When the converter cannot build a record, :func:`repair` takes the field
paths cattrs names, reports each as a :class:`DecodeProblem` (with the raw
value), removes those values from a copy of the record and builds it again:
a removed field takes its default (None; the spec's tag for ``object``), a
removed array item leaves the other items. A bad value in a required field
(an ``id``) removes the object that holds it (an e-mail of the record's
``emails``); when that object is the record itself, the record is left out
and its problems say so. The original JSON object is never modified.
"""

from __future__ import annotations

import ast
import re
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any, Final

import attrs

from ._converter import json_kind, structure_error_details
from ._problems import NO_VALUE, DecodeProblem

__all__ = ["LEFT_OUT", "record_id", "repair", "value_at"]

#: Returned by :func:`repair` when the record cannot be kept.
LEFT_OUT: Final = object()
_MISSING: Final = object()
#: Rounds of remove-and-rebuild before giving up on a record (a removal can
#: only reveal a problem in a required field, which ends the loop anyway).
_ROUNDS = 3

_TOKEN = re.compile(
    r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")\]"
)


def _tokens(path: str) -> list[str | int] | None:
    """``$.a[2]['k']`` -> ``["a", 2, "k"]``; None if the path is not understood."""
    if not path.startswith("$"):
        return None
    out: list[str | int] = []
    pos = 1
    while pos < len(path):
        match = _TOKEN.match(path, pos)
        if match is None:
            return None
        name, index, quoted = match.groups()
        if name is not None:
            out.append(name)
        elif index is not None:
            out.append(int(index))
        else:
            out.append(str(ast.literal_eval(quoted)))
        pos = match.end()
    return out


def value_at(obj: Any, path: str) -> Any:
    """The value at ``path`` inside parsed JSON, or a private marker if absent."""
    tokens = _tokens(path)
    if tokens is None:
        return _MISSING
    current = obj
    for token in tokens:
        if isinstance(current, dict) and isinstance(token, str) and token in current:
            current = current[token]
        elif isinstance(current, list) and isinstance(token, int) and token < len(current):
            current = current[token]
        else:
            return _MISSING
    return current


def record_id(obj: Any) -> int | None:
    """The record's ``id`` if it is usable as one (an integer, or its digits)."""
    value = obj.get("id") if isinstance(obj, dict) else None
    if value.__class__ is int:
        return int(value)
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return None


def _without(root: dict[str, Any], paths: Iterable[str]) -> dict[str, Any]:
    """A copy of ``root`` without the values at ``paths`` (copy on write: only
    the containers on those paths are copied)."""
    top = dict(root)
    copies: set[int] = {id(top)}
    drops: dict[int, tuple[list[Any], set[int]]] = {}
    for path in paths:
        tokens = _tokens(path)
        if not tokens:
            continue
        parent: Any = top
        for token in tokens[:-1]:
            try:
                child = parent[token]
            except (KeyError, IndexError, TypeError):
                parent = None
                break
            if not isinstance(child, (dict, list)):
                parent = None
                break
            if id(child) not in copies:
                child = dict(child) if isinstance(child, dict) else list(child)
                copies.add(id(child))
                parent[token] = child
            parent = child
        last = tokens[-1]
        if isinstance(parent, dict) and isinstance(last, str):
            parent.pop(last, None)
        elif isinstance(parent, list) and isinstance(last, int):
            drops.setdefault(id(parent), (parent, set()))[1].add(last)
    for items, indexes in drops.values():
        for index in sorted(indexes, reverse=True):
            if index < len(items):
                del items[index]
    return top


def _strip(typ: Any) -> Any:
    """The type inside ``X | None`` and ``Annotated[X, ...]``."""
    while True:
        origin = typing.get_origin(typ)
        if origin is typing.Annotated:
            typ = typing.get_args(typ)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(typ) if a is not type(None)]
            if len(members) != 1:
                return typ
            typ = members[0]
        else:
            return typ


def _removal(cls: Any, path: str) -> str | None:
    """What to remove so the record can be built without the value at ``path``:
    the value itself, or, when it is a required field (an ``id``), the object
    holding it. None when that object is the record itself."""
    tokens = _tokens(path)
    if not tokens:
        return None
    typ: Any = cls
    owner = 0  # tokens before the object that holds the current field
    required = False
    for position, token in enumerate(tokens):
        typ = _strip(typ)
        if isinstance(token, str) and attrs.has(typ):
            owner = position
            field = getattr(attrs.fields(typ), token, None)
            if field is None:
                return path
            required = field.default is attrs.NOTHING
            typ = field.type
        elif typing.get_origin(typ) in (tuple, list, dict):
            args = typing.get_args(typ)
            typ = args[-1] if typing.get_origin(typ) is dict else args[0]
            required = False
        else:
            return path
    if not required:
        return path
    if owner == 0:
        return None
    return _path(tokens[:owner])


def _path(tokens: list[str | int]) -> str:
    return "$" + "".join(f"[{t}]" if isinstance(t, int) else f".{t}" for t in tokens)


def repair(
    build: Callable[[Any], Any],
    cls: Any,
    obj: Any,
    error: Exception,
    *,
    schema: str,
    index: int | None,
    url: str | None,
    problems: list[DecodeProblem],
) -> Any:
    """Build the record without the values ``error`` names; report each of them.

    Returns the record, or :data:`LEFT_OUT` when it cannot be kept.
    """
    rid = record_id(obj)
    if not isinstance(obj, dict):
        problems.append(DecodeProblem(
            schema, "$", f"expected an object, got {json_kind(obj)}", rid, index, url,
            json_kind(obj), kept=False, removed="$", raw=obj))
        return LEFT_OUT
    first = len(problems)
    current = obj
    left_out = False
    for _ in range(_ROUNDS):
        found = structure_error_details(error)
        removals: list[str] = []
        for path, message in found:
            target = _removal(cls, path)
            raw = value_at(current, path)
            kind = "missing" if raw is _MISSING else json_kind(raw)
            problems.append(DecodeProblem(
                schema, path, message, rid, index, url, kind, removed=target or "$",
                raw=NO_VALUE if raw is _MISSING else raw))
            if target is None:
                left_out = True
            else:
                removals.append(target)
        if left_out or not removals:
            break
        current = _without(current, removals)
        try:
            return build(current)
        except Exception as exc:  # the converter's own errors, whatever their class
            error = exc
    # The record cannot be built without a value it needs (its id): left out.
    for position in range(first, len(problems)):
        problems[position] = attrs.evolve(problems[position], kept=False, removed="$")
    if len(problems) == first:
        problems.append(DecodeProblem(schema, "$", "the record cannot be built", rid, index,
                                      url, json_kind(obj), kept=False, removed="$", raw=obj))
    return LEFT_OUT
